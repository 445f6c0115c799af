#!/usr/bin/env bash
# Builds the Python package (python/: PyO3 extension + pure-Python parts) into a fresh venv
# with maturin and runs its pytest suite (python/tests).
#
#   scripts/python_test.sh [pytest arguments]
#
# The extension is built with cargo's dev profile into the workspace's target/ folder. After
# `cargo test --workspace` (as CI runs it) this compiles only pyo3, the extension crate, and
# htdiag's library and binary once more: --workspace resolves dependency features as the
# extension's build does (pyo3's macros enable more `syn` features; after a plain `cargo test`
# most dependencies are compiled again), but a build without dev-dependencies turns off two
# `getrandom` features, which reaches htdiag through `safetensors -> tempfile`. The tests
# compare against the `htdiag` command line's CSV, so the binary is built first.
# Environment: PYTHON (interpreter, default python3), VENV (default target/python-venv,
# recreated on every run), PIP_EXTRA (more packages to install, e.g. "torch").
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-target/python-venv}
rm -rf "$VENV"
"$PY" -m venv "$VENV"
VENV=$(cd "$VENV" && pwd)
# ml_dtypes: numpy's bfloat16, to build bf16 state dicts without torch.
# shellcheck disable=SC2086
"$VENV/bin/pip" install -q --disable-pip-version-check \
  "maturin>=1.5,<2" pytest pandas numpy tqdm ml_dtypes ${PIP_EXTRA:-}

cargo build --workspace --bin htdiag
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" \
  maturin develop --manifest-path python/Cargo.toml --quiet
HTDIAG_BIN="$PWD/target/debug/htdiag" "$VENV/bin/python" -m pytest python/tests -q "$@"
