#!/usr/bin/env bash
# The paper's three DCGAN runs (100 epochs, Hessian estimates at the stage boundaries) side by side on one GPU,
# then the reproduction's figures and summary for all six configurations (the vanilla runs are recorded too if
# they are missing). Usage, from the repository root on a machine with a CUDA GPU:
#
#     bash examples/reproduce_dcgan_gpu.sh [OUT]          # OUT defaults to examples/moses2021
#
# Each run logs to OUT/runs/dcgan-<data>.log (a line a minute). Runs already finished are kept: the script
# records only those whose run file is missing or unfinished, and the reproduction script skips complete runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-examples/moses2021}
mkdir -p "$OUT/runs"
pids=()
for data in mnist fashion-mnist cifar10; do
  run="$OUT/runs/dcgan-$data.h5"
  if [ -f "$run" ] && landscape info "$run" | grep -q "^status: finished"; then
    echo "complete: $run"
    continue
  fi
  landscape record --arch dcgan --data "$data" --device cuda --out "$run" --force --log-every 60 \
    > "$OUT/runs/dcgan-$data.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" -eq 0 ] || { echo "a DCGAN run failed; see $OUT/runs/dcgan-*.log" >&2; exit 1; }
python examples/reproduce_moses2021.py --out "$OUT" --device cuda
