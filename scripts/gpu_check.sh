#!/usr/bin/env bash
# GPU check for a lent machine with a real GPU: builds in release, runs the GPU tests with the
# GPU required (no silent skip), then times training epochs on the hardware GPU and on the CPU
# path for comparison. Run from the repository root:  scripts/gpu_check.sh [DATA]
# DATA defaults to tests/data/mnist2k.safetensors (2,000 digits; use mnist10k for the README
# protocol). Output: adapter list, test results, one line per epoch with its wall time.
set -euo pipefail
DATA="${1:-tests/data/mnist2k.safetensors}"
export HTDIAG_REQUIRE_GPU=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|deviceType|driverName" || true
cargo build --release --bins --tests
cargo test --release --test gpu_shaders --test gpu_train -- --nocapture
OUT="${OUT:-$(mktemp -d)}"
BIN="${CARGO_TARGET_DIR:-target}/release/htdiag"
for dev in gpu cpu; do
  echo "== htdiag train --device $dev (784-300-100-10, batch 64, 3 epochs) on $DATA"
  /usr/bin/time -v "$BIN" train --arch 784-300-100-10 --data "$DATA" \
    --device "$dev" --epochs 3 --out "$OUT/model-$dev.safetensors" --json "$OUT/history-$dev.json" \
    2>&1 | grep -E "training|epoch|Elapsed|Maximum resident" || true
done
echo "== regularize (weighted alpha, exact gradient every step) on the GPU"
"$BIN" regularize "$OUT/model-cpu.safetensors" --data "$DATA" --device gpu \
  --penalty weighted-alpha --mu 1e-3 --epochs 2 --out-dir "$OUT/reg" 2>&1 | tail -12
