#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh machine: system sandbox tool, a virtual environment in .venv,
# the CPU build of PyTorch, and this package with its dev tools. Safe to rerun; a rerun installs nothing new.
#   TORCH_INDEX_URL   pip index for torch (default: none, i.e. PyPI / pip's configured find-links;
#                     e.g. https://download.pytorch.org/whl/cpu for the CPU-only build on a stock machine)
#   TORCH_VERSION     torch version to pin (default 2.13.0)
#   PYTHON            interpreter for the venv (default python3)
#   WIZARDLEARNER_LOCK=0  install from pyproject's version ranges instead of requirements.lock (then the installed
#                     packages, hence the smoke corpus and every number after it, may differ from the committed reports)
# `bash setup.sh --relock` rewrites requirements.lock: resolves pyproject's ranges afresh in a scratch venv and pins
# every package with its sha256 (see the comment at the top of requirements.lock).
set -euo pipefail
cd "$(dirname "$0")"
[ "${1:-}" = --relock ] && exec bash tools/relock.sh

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

# 3. the locked environment: every package at the version and sha256 of requirements.lock (made on the Python
#    version and platform its header names); elsewhere, or with WIZARDLEARNER_LOCK=0, pyproject's ranges
LOCK=requirements.lock
HERE="$(python -c 'import sys, platform; print(f"{sys.version_info[0]}.{sys.version_info[1]} {platform.system().lower()} {platform.machine()}")')"
WANT="$(sed -n 's/^# environment: python \(.*\)$/\1/p' "$LOCK" 2>/dev/null || true)"
if [ "${WIZARDLEARNER_LOCK:-1}" = 1 ] && [ -f "$LOCK" ] && [ "$HERE" = "$WANT" ]; then
  if [ ! -f .venv/.wl-locked ] || [ "$LOCK" -nt .venv/.wl-locked ] || [ pyproject.toml -nt .venv/.wl-locked ] \
     || ! python -c "import wizardlearner, nbdev, papermill, pytest, jupyterlab" 2>/dev/null; then
    echo "setup: installing the locked environment ($LOCK: python $WANT)"
    pip install -q --require-hashes --no-deps -r "$LOCK" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
    pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || pip install -q --no-deps -e .
    touch .venv/.wl-locked .venv/.wl-installed
  fi
else
  [ -f "$LOCK" ] && [ "${WIZARDLEARNER_LOCK:-1}" = 1 ] && echo "setup: WARNING $LOCK is for python $WANT, this is $HERE:" \
    "installing from pyproject's ranges; packages (so the smoke corpus and its numbers) may differ from the committed reports" >&2
  # CPU PyTorch first, pinned, so nothing below pulls a CUDA build
  TV=${TORCH_VERSION:-2.13.0}
  if ! python -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TV' else 1)" 2>/dev/null; then
    echo "setup: installing torch==$TV (CPU build)"
    pip install -q "torch==$TV" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  fi
  # the package (editable: the notebooks export into it) and its dev tools
  if ! python -c "import wizardlearner, nbdev, papermill, pytest, jupyterlab" 2>/dev/null || [ pyproject.toml -nt .venv/.wl-installed ]; then
    echo "setup: installing wizardlearner and its dependencies"
    pip install -q -e ".[dev]"
    touch .venv/.wl-installed
  fi
fi
python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true
echo "setup: ready (python: $(command -v python))"
