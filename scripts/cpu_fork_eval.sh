#!/usr/bin/env bash
# Score a fork (scripts/cpu_fork.sh) on all 33 held-out styles x 10 photos at 256 px, without re-running Magenta:
# writes RUN/model_fp16.safetensors (save_model, what would ship), RUN/eval_33x10.json and RUN/eval_training.json
# (8 training paintings x 10 photos, as docs/evaluation.md: the held-out gap), then prints issue 12's target lines
# against Magenta's pairs in docs/evaluation_meta8/evaluation.json and the Johnson nets' (scripts/target_lines.py).
# About 12 minutes of one thread.
#   bash scripts/cpu_fork_eval.sh RUN_FOLDER [DIST.json]     THREADS (default 1), SHARED (default ../shared),
#   CODE=DIR: the package snapshot the fork trained with (scripts/cpu_fork.sh), so the model is read by its own code
set -euo pipefail
run=$(cd "${1:?RUN_FOLDER}" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
# the project's venv (README) unless one is active
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "$repo/.venv/bin/activate" ]; then . "$repo/.venv/bin/activate"; fi
shared=$(cd "${SHARED:-$repo/../shared}" && pwd)
export MOBILESTYLE_VGG16=${MOBILESTYLE_VGG16:-$shared/weights/vgg16_caffe_features.pth} MOBILESTYLE_OFFLINE=1
export OMP_NUM_THREADS=${THREADS:-1}
unset MOBILESTYLE_PEERS  # Magenta's scores come from the reference file
[ -n "${CODE:-}" ] && export PYTHONPATH=$(cd "$CODE" && pwd)
cd "$run"  # not the work tree: `python -c` would import its package before $CODE's
python -c "import sys; from mobilestyle.model_files import load_model, save_model; save_model(load_model(sys.argv[1]), sys.argv[2])" \
  "$run" "$run/model_fp16.safetensors"
nice mobilestyle evaluate --checkpoint "$run/model_fp16.safetensors" --content "$shared/data/eval/content" \
  --style "$shared/data/eval/style" --limit-content 10 --size 256 --gatys-steps none --json "$run/eval_33x10.json" --no-progress
nice mobilestyle evaluate --checkpoint "$run/model_fp16.safetensors" --content "$shared/data/eval/content" \
  --style "$shared/data/train/style/pacs" --limit-style 8 --limit-content 10 --size 256 --gatys-steps none \
  --json "$run/eval_training.json" --no-progress
python "$repo/scripts/target_lines.py" "$run/eval_33x10.json" --reference "$repo/docs/evaluation_meta8/evaluation.json" \
  --johnson "$repo/docs/evaluation_meta8/johnson.json" ${2:+--distances "$2"}
