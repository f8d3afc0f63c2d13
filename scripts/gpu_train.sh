#!/usr/bin/env bash
# Train the default 8-base meta network on the GPU machine in ONE device call, then hand back the fp16 model in
# parts of <= 15 MiB (the device tool returns files of at most 16 MiB). Run from the repository root there, e.g.
#   run(command="bash scripts/gpu_train.sh 500", carry=["gpu_carry"], timeout_s=600)
# after `python scripts/gpu_pack.py` here. Rejoin here with
#   python -m mobilestyle.shards join FILES_AT/meta8.safetensors.manifest.json mobilestyle/models/meta8.safetensors
# See docs/training.md. Environment: STEPS (upper bound, default 1000000), WORKERS (14), BATCH (8), DEVICE (cuda).
set -uo pipefail
TRAIN_SECONDS=${1:-500}
STEPS=${STEPS:-1000000}
WORKERS=${WORKERS:-14}
BATCH=${BATCH:-8}
DEVICE=${DEVICE:-cuda}
RUN=/tmp/meta8_run
DATA=/tmp/meta8_data
: "${OUT:?run this through the device tool: \$OUT is the folder it brings back}"
export PYTHONUNBUFFERED=1 MOBILESTYLE_OFFLINE=1

mkdir -p "$DATA" "$RUN"
tar -xf gpu_carry/train_data.tar -C "$DATA" || exit 1
echo "data: $(ls "$DATA/content" | wc -l) content, $(ls "$DATA/style" | wc -l) style images"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi"

# progress every minute (metrics.csv is flushed every 50 steps)
( while sleep 60; do echo "$(date -u +%T) step $(( $(wc -l < "$RUN/metrics.csv" 2>/dev/null || echo 1) - 1 ))"; done ) &
MONITOR=$!

# --foreground: SIGTERM reaches only the trainer (it saves its checkpoint), not its data-loader workers.
# bf16 autocast and channels-last are automatic on CUDA (training/loop.py); cudnn.benchmark suits the fixed sizes.
timeout --foreground --signal=TERM --kill-after=120 "$TRAIN_SECONDS" \
  python3 -c "import sys, torch; torch.backends.cudnn.benchmark = True; from mobilestyle.cli import main; main(sys.argv[1:])" \
  train --content "$DATA/content" --style "$DATA/style" --out "$RUN" --steps "$STEPS" --batch-size "$BATCH" \
  --image-size 256 --style-every 20 --lr 1e-3 --arch 8 --padding zero --workers "$WORKERS" --device "$DEVICE" \
  --checkpoint-every 2000 --sample-every 2000 --no-progress --json \
  --vgg-weights gpu_carry/vgg16_caffe_features_to_relu4_3_fp16.pth > "$RUN/summary_stdout.json" 2> "$RUN/train.log"
echo "trainer exit code $? (124 = stopped by the time limit, checkpoint saved on SIGTERM)"
kill "$MONITOR" 2>/dev/null
tail -n 5 "$RUN/train.log"

python3 - "$RUN" <<'PY' || exit 1
import sys
from pathlib import Path
from mobilestyle.models import load_model, save_model
run = Path(sys.argv[1])
loaded = load_model(run)
print("step", loaded.meta["step"], "->", save_model(loaded, run / "meta8.safetensors", note="GPU run, scripts/gpu_train.sh"))
PY
python3 -m mobilestyle.shards split "$RUN/meta8.safetensors" "$OUT" || exit 1
cp "$RUN/metrics.csv" "$RUN/train.log" "$OUT/"
cp "$RUN/summary_stdout.json" "$OUT/summary.json" 2>/dev/null
newest=$(ls "$RUN"/samples/*.png 2>/dev/null | tail -n 1)
[ -n "$newest" ] && cp "$newest" "$OUT/sample_grid.png"
ls -la "$OUT"
