#!/usr/bin/env bash
# Fine-tune the default 8-base meta network at 256 px on the GPU machine in ONE device call, one trainer per style
# weight ("arm") side by side on the one GPU, and hand back each arm's fp16 model, xz-compressed, in parts of < 16 MiB
# (the device tool returns at most 8 files of at most 16 MiB, 64 MiB together: 3 files per arm). After
# `python scripts/gpu_pack.py` here, from the repository root:
#   run(command="bash scripts/gpu_train.sh 300 110", carry=["gpu_carry"], timeout_s=570)
#   run(command="STEPS=1700 bash scripts/gpu_train.sh 120 0", ...)   # one phase: 1,700 steps decaying to 0
# then, for each arm, here:
#   python scripts/gpu_unpack.py FILES_AT/sw50 /tmp/gpu_sw50        # -> /tmp/gpu_sw50/meta8.safetensors + logs
# Two phases of `mobilestyle train --method shen-fast` per arm, from the tracked mobilestyle/models/meta8.safetensors:
#   A: constant --lr for a wall-clock budget (SIGTERM: the trainer saves its checkpoint);
#   B: --resume for the steps phase A's rate fits into the second budget, the learning rate decaying linearly to 0.
# Environment: ARMS (style weights, "50"), BATCH (32), LR (5e-4), DEVICE (cuda), TRAIN_ARGS (more `train` options for
# every arm, e.g. "--input-skip --structure-weight 3"). See docs/training.md §5.
set -uo pipefail
PHASE_A_SECONDS=${1:-300}
PHASE_B_SECONDS=${2:-110}
ARMS=${ARMS:-50}
BATCH=${BATCH:-32}
LR=${LR:-5e-4}
DEVICE=${DEVICE:-cuda}
DATA=/tmp/meta8_data
: "${OUT:?run this through the device tool: \$OUT is the folder it brings back}"
# Measured 2026-11-30: two arms side by side with torch's default 16-thread pools ran 1.5 it/s each with the GPU 2 %
# busy; one trainer with 4 threads ran 15.7 it/s. Which change mattered was not isolated: prefer one arm per call.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} PYTHONUNBUFFERED=1 MOBILESTYLE_OFFLINE=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

rm -rf "$DATA"; mkdir -p "$DATA"
# the export stage lives in the top-level export/ folder, installed as mobilestyle.export; here nothing is installed
# (removed again at exit, so a check run here leaves no link in the work tree for git or mypy to find)
if [ ! -e mobilestyle/export ]; then ln -s ../export mobilestyle/export && trap 'rm -f mobilestyle/export' EXIT; fi
tar -xf gpu_carry/train_data.tar -C "$DATA" || exit 1
python3 -c "import lzma, sys; [open(p[:-3], 'wb').write(lzma.decompress(open(p, 'rb').read())) for p in sys.argv[1:]]" \
  "$DATA"/*.xz || exit 1
# every arm: the packed tables (the paintings; the procedural styles when gpu_pack.py packed them) + $TRAIN_ARGS
tables=(--style-statistics "$DATA/styles.safetensors")
[ -f "$DATA/synthetic.safetensors" ] && tables+=(--style-statistics "$DATA/synthetic.safetensors")
read -r -a train_args <<< "${TRAIN_ARGS:-}"
echo "every arm: ${tables[*]} ${train_args[*]}"
echo "data: $(ls "$DATA/content" | wc -l) photos; arms (style weights): $ARMS; torch $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no cuda")')"

train() {  # train RUN SECONDS ARGS...: the trainer under a wall-clock limit; --foreground lets SIGTERM reach it alone
  local run=$1 seconds=$2; shift 2
  timeout --foreground --signal=TERM --kill-after=60 "$seconds" python3 -c \
    "import sys, torch; torch.backends.cudnn.benchmark = True; torch.backends.cuda.matmul.allow_tf32 = True; from mobilestyle.cli import main; main(sys.argv[1:])" \
    train --method shen-fast --content "$DATA/content" --style "$DATA/style" "${tables[@]}" "${train_args[@]}" \
    --out "$run" --batch-size "$BATCH" --image-size 256 --lr "$LR" --device "$DEVICE" --data-cache "$run/cache" \
    --vgg-weights "$DATA/vgg.pth" --checkpoint-every 2000 --no-progress --json "$@" >> "$run/summary_stdout.json" 2>> "$run/train.log"
  echo "[$(basename "$run")] trainer exit code $? (124/143: stopped by the time limit, checkpoint saved on SIGTERM)"
}

hand_back() {  # hand_back RUN DEST: the run's latest checkpoint as the fp16 model, xz'd, in parts, plus its logs
  local run=$1 dest=$2
  mkdir -p "$dest"
  python3 - "$run" <<'PY' || return 1
import lzma, sys
from pathlib import Path
from mobilestyle.model_files import load_model, save_model
run = Path(sys.argv[1])
loaded = load_model(run)
saved = save_model(loaded, run / "meta8.safetensors", note=f"GPU fine-tune at 256 px, scripts/gpu_train.sh ({run.name})")
(run / "meta8.safetensors.xz").write_bytes(lzma.compress(saved.read_bytes(), preset=1))
print(run.name, "step", loaded.header["step"], "->", saved)
PY
  python3 scripts/shards.py split "$run/meta8.safetensors.xz" "$run/parts" --part-mib 15.9 >/dev/null || return 1
  rm -f "$dest"/*
  mv "$run"/parts/*.part* "$dest/"
  newest=$(ls "$run"/samples/*.png 2>/dev/null | tail -n 1)
  [ -n "$newest" ] && cp "$newest" "$run/sample_grid.png"
  (cd "$run" && tar -czf "$dest/logs.tar.gz" parts/meta8.safetensors.xz.manifest.json metrics.csv train.log summary.json \
    summary_stdout.json options.json $( [ -f sample_grid.png ] && echo sample_grid.png ))
  return 0
}

arm() {  # arm STYLE_WEIGHT: both phases for one style weight, handing back after each
  local sw=$1 run=/tmp/meta8_sw$1 dest=$OUT/sw$1
  rm -rf "$run"; mkdir -p "$run"
  if [ "$PHASE_B_SECONDS" = 0 ]; then  # one phase: STEPS with the learning rate decaying to 0, cut by the time limit
    train "$run" "$PHASE_A_SECONDS" --steps "$STEPS" --lr-decay-steps "$STEPS" --init mobilestyle/models/meta8.safetensors \
      --style-weight "$sw" --sample-every 0
    hand_back "$run" "$dest"
    return
  fi
  train "$run" "$PHASE_A_SECONDS" --steps 1000000 --init mobilestyle/models/meta8.safetensors --style-weight "$sw" --sample-every 0
  tail -n 5 "$run/train.log"
  hand_back "$run" "$dest" || return 1  # phase A's model comes back even if phase B is cut short
  local step_a rate decay
  read -r step_a rate < <(python3 -c "import json; s = json.load(open('$run/summary.json')); print(s['step'], s['it_per_s'])")
  decay=$(python3 -c "print(max(10, int($rate * $PHASE_B_SECONDS * 0.9)))")
  echo "[sw$sw] phase A: $step_a steps at $rate it/s; phase B: $decay steps with the learning rate decaying to 0"
  train "$run" $((PHASE_B_SECONDS + 60)) --resume --steps $((step_a + decay)) --lr-decay-steps "$decay" \
    --style-weight "$sw" --sample-every 100000
  tail -n 5 "$run/train.log"
  hand_back "$run" "$dest"
}

pids=()
for sw in $ARMS; do arm "$sw" & pids+=($!); done
(sleep 150; echo "GPU at 150 s:"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv) &
monitor=$!
wait "${pids[@]}"
kill "$monitor" 2>/dev/null
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv 2>/dev/null
ls -laR "$OUT"
