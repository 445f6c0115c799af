#!/usr/bin/env bash
# GPU check for a lent machine with a real GPU: builds in release, runs the GPU tests (MLP,
# every CNN layer kind, whole CNN steps against the CPU, conformance checkpoints) with the GPU
# required (no silent skip), then times training epochs on the hardware GPU and on the CPU
# path for comparison, and CNN epochs (LeNet-5, VGG-BN, ResNet-10) on both (bench_cnn; CNN_DATA
# = mnist10k, default ../shared/data/mnist10k.safetensors). Run from the repository root:
#   scripts/gpu_check.sh [DATA]
# DATA defaults to tests/data/mnist2k.safetensors (2,000 digits; use mnist10k for the README
# protocol). Output: adapter list, test results, one line per epoch with its wall time.
set -euo pipefail
DATA="${1:-tests/data/mnist2k.safetensors}"
export HTDIAG_REQUIRE_GPU=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|deviceType|driverName" || true
cargo build --release --bins --tests --examples
cargo test --release --test gpu -- --nocapture --include-ignored
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
echo "== LeNet-5, VGG-BN, ResNet-10 epochs on the GPU and the CPU (bench_cnn, 8000 digits, batch 64)"
for dev in gpu cpu; do cargo run --release --example bench_cnn -- "${CNN_DATA:-../shared/data/mnist10k.safetensors}" 2 "lenet5;vgg-bn:16,M,32,M,64,64,M/128;resnet10-cifar-w16" $dev; done
