#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh machine: system sandbox tool, a virtual environment in .venv,
# the CPU build of PyTorch, and this package with its dev tools. Safe to rerun; a rerun installs nothing new.
#   TORCH_INDEX_URL   pip index for torch (default: none, i.e. PyPI / pip's configured find-links;
#                     e.g. https://download.pytorch.org/whl/cpu for the CPU-only build on a stock machine)
#   TORCH_VERSION     torch version to pin (default 2.13.0)
#   PYTHON            interpreter for the venv (default python3)
set -euo pipefail
cd "$(dirname "$0")"

# 1. bubblewrap: the sandbox for model-written code (no network, read-only view of the machine).
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing bubblewrap (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null
  else
    echo "setup: WARNING bubblewrap (bwrap) is not installed and cannot be installed here;" \
         "model-written code will not run (eval, DPO) unless you set WIZARDLEARNER_ALLOW_UNSANDBOXED=1 (then with resource limits only: no network or filesystem isolation)." >&2
  fi
fi

# 2. the virtual environment
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 3. CPU PyTorch first, pinned, so nothing below pulls a CUDA build
TV=${TORCH_VERSION:-2.13.0}
if ! python -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TV' else 1)" 2>/dev/null; then
  echo "setup: installing torch==$TV (CPU build)"
  pip install -q "torch==$TV" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi

# 4. the package (editable: the notebooks export into it) and its dev tools
if ! python -c "import wizardlearner, nbdev, papermill, pytest, jupyterlab" 2>/dev/null || [ pyproject.toml -nt .venv/.wl-installed ]; then
  echo "setup: installing wizardlearner and its dependencies"
  pip install -q -e ".[dev]"
  touch .venv/.wl-installed
fi
python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true
echo "setup: ready (python: $(command -v python))"
