#!/usr/bin/env bash
# CPU fine-tune of the shipped model, the way every lever of docs/training.md §6 was measured: from the tracked fp16
# mobilestyle/models/meta8.safetensors with a new optimizer, its last stage otherwise (256 px, batch 4, lr 1e-4,
# style weight 50, --synthetic-styles 600), checkpoints every 50 steps, resumed whenever its run folder has one.
#
#   bash scripts/cpu_fork.sh NAME STEPS [more train options]     e.g. bash scripts/cpu_fork.sh w3 300 --structure-weight 3
#   THREADS=2 (default 1), RUNS (default ~/.cache/mobilestyle/runs), SHARED (default ../shared),
#   CODE=DIR: train with a copy of the package in DIR/mobilestyle (cp -r mobilestyle DIR/ first), so edits in the
#   work tree cannot reach a run that is still going.
#   FROM=OTHER: a new NAME starts from fork OTHER's checkpoint (its step, optimizer and metrics), e.g. to continue a
#   fork to more steps, or with other options, and keep the shorter one: FROM=skip8_decay bash scripts/cpu_fork.sh
#   skip8_4000 4000 --structure-weight 3 --input-skip (the options must build the same architecture).
# Run it in the background: nohup bash scripts/cpu_fork.sh NAME 300 ... >> "$RUNS/forks/NAME.log" 2>&1 &
# Then score the model: bash scripts/cpu_fork_eval.sh "$RUNS/forks/NAME" (docs/training.md §6).
set -euo pipefail
name=${1:?NAME}; steps=${2:?STEPS}; shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
# the project's venv (README) unless one is active
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "$repo/.venv/bin/activate" ]; then . "$repo/.venv/bin/activate"; fi
shared=$(cd "${SHARED:-$repo/../shared}" && pwd)
runs=${RUNS:-$HOME/.cache/mobilestyle/runs}
run=$runs/forks/$name
mkdir -p "$runs/forks"
export MOBILESTYLE_VGG16=${MOBILESTYLE_VGG16:-$shared/weights/vgg16_caffe_features.pth} MOBILESTYLE_OFFLINE=1
export OMP_NUM_THREADS=${THREADS:-1}
[ -n "${CODE:-}" ] && export PYTHONPATH=$(cd "$CODE" && pwd)
if [ -n "${FROM:-}" ] && [ ! -e "$run/checkpoint.safetensors" ]; then
  from=$runs/forks/$FROM
  [ -e "$from/checkpoint.safetensors" ] || { echo "cpu_fork.sh: no checkpoint in $from" >&2; exit 2; }
  mkdir -p "$run"
  cp "$from/metrics.csv" "$run/"
  cp "$from/checkpoint.safetensors" "$run/.checkpoint.partial" && mv "$run/.checkpoint.partial" "$run/checkpoint.safetensors"
fi
resume=()
[ -e "$run/checkpoint.safetensors" ] && resume=(--resume)
cd "$runs"  # not the work tree: `python -m` would import its package before $CODE's
exec nice python -m mobilestyle train --method shen-fast --init "$repo/mobilestyle/models/meta8.safetensors" \
  --content "$shared/data/train/content" --style "$shared/data/train/style" --out "$run" \
  --image-size 256 --batch-size 4 --lr 1e-4 --synthetic-styles 600 --steps "$steps" \
  --checkpoint-every 50 --sample-every 500 --workers 1 --no-progress "${resume[@]}" "$@"
