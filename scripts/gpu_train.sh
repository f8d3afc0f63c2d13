#!/usr/bin/env bash
# Fine-tune the default 8-base meta network at 256 px on the GPU machine in ONE device call, and hand back the fp16
# model in parts of <= 15 MiB (the device tool returns files of at most 16 MiB). After `python scripts/gpu_pack.py`
# here, from the repository root:
#   run(command="bash scripts/gpu_train.sh 370 100", carry=["gpu_carry"], timeout_s=595)
# then rejoin here with
#   python scripts/shards.py join FILES_AT/meta8.safetensors.manifest.json /tmp/gpu_meta8.safetensors
# Two phases of `mobilestyle train --method shen-fast`, starting from the tracked mobilestyle/models/meta8.safetensors:
#   A: constant --lr for a wall-clock budget (SIGTERM: the trainer saves its checkpoint);
#   B: --resume for the steps phase A's rate fits into the second budget, the learning rate decaying linearly to 0.
# Environment: BATCH (32), LR (1e-3), DEVICE (cuda). See docs/training.md §5.
set -uo pipefail
PHASE_A_SECONDS=${1:-370}
PHASE_B_SECONDS=${2:-100}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
DEVICE=${DEVICE:-cuda}
RUN=/tmp/meta8_run
DATA=/tmp/meta8_data
: "${OUT:?run this through the device tool: \$OUT is the folder it brings back}"
export PYTHONUNBUFFERED=1 MOBILESTYLE_OFFLINE=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

rm -rf "$RUN" "$DATA"; mkdir -p "$DATA" "$RUN"
tar -xf gpu_carry/train_data.tar -C "$DATA" || exit 1
python3 -c "import lzma, sys; [open(p[:-3], 'wb').write(lzma.decompress(open(p, 'rb').read())) for p in sys.argv[1:]]" \
  "$DATA/vgg.pth.xz" "$DATA/styles.safetensors.xz" || exit 1
echo "data: $(ls "$DATA/content" | wc -l) photos; torch $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no cuda")')"

train() {  # train SECONDS ARGS...: the trainer under a wall-clock limit; --foreground lets SIGTERM reach it alone
  local seconds=$1; shift
  timeout --foreground --signal=TERM --kill-after=60 "$seconds" python3 -c \
    "import sys, torch; torch.backends.cudnn.benchmark = True; torch.backends.cuda.matmul.allow_tf32 = True; from mobilestyle.cli import main; main(sys.argv[1:])" \
    train --method shen-fast --content "$DATA/content" --style "$DATA/style" --style-statistics "$DATA/styles.safetensors" \
    --out "$RUN" --batch-size "$BATCH" --image-size 256 --lr "$LR" --device "$DEVICE" --data-cache "$DATA/cache" \
    --vgg-weights "$DATA/vgg.pth" --checkpoint-every 2000 --no-progress --json "$@" >> "$RUN/summary_stdout.json" 2>> "$RUN/train.log"
  echo "trainer exit code $? after phase (124/143: stopped by the time limit, checkpoint saved on SIGTERM)"
}

hand_back() {  # the run's latest checkpoint as the fp16 model, in parts, plus its logs, into $OUT
  python3 - "$RUN" <<'PY' || return 1
import sys
from pathlib import Path
from mobilestyle.model_files import load_model, save_model
run = Path(sys.argv[1])
loaded = load_model(run)
print("step", loaded.header["step"], "->", save_model(loaded, run / "meta8.safetensors", note="GPU fine-tune at 256 px, scripts/gpu_train.sh"))
PY
  python3 scripts/shards.py split "$RUN/meta8.safetensors" "$OUT" || return 1
  cp "$RUN/metrics.csv" "$RUN/train.log" "$OUT/"
  cp "$RUN/summary.json" "$OUT/summary.json" 2>/dev/null
  newest=$(ls "$RUN"/samples/*.png 2>/dev/null | tail -n 1)
  [ -n "$newest" ] && cp "$newest" "$OUT/sample_grid.png"
  return 0
}

# phase A: constant learning rate until the time limit
train "$PHASE_A_SECONDS" --steps 1000000 --init mobilestyle/models/meta8.safetensors --sample-every 0
tail -n 20 "$RUN/train.log"
hand_back || exit 1  # phase A's model comes back even if phase B is cut short
read -r step_a rate < <(python3 -c "import json; s = json.load(open('$RUN/summary.json')); print(s['step'], s['it_per_s'])")
decay=$(python3 -c "print(max(10, int($rate * $PHASE_B_SECONDS * 0.9)))")
echo "phase A: $step_a steps at $rate it/s; phase B: $decay steps with the learning rate decaying to 0"

# phase B: resume, decay the learning rate to 0 over the steps that fit into the second budget
train $((PHASE_B_SECONDS + 60)) --resume --steps $((step_a + decay)) --lr-decay-steps "$decay" --sample-every 100000
tail -n 20 "$RUN/train.log"
hand_back
ls -la "$OUT"
