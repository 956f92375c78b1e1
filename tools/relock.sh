#!/usr/bin/env bash
# Rewrite requirements.lock: resolve pyproject's ranges (with the dev tools) afresh in a scratch venv, on this
# machine's Python, with the CPU build of PyTorch, and pin every package to its version and sha256.
#   bash setup.sh --relock        (then rerun `bash setup.sh`, re-cook the smoke reports and commit all three:
#                                  a new package set is a new smoke corpus, hence new numbers everywhere)
# pip, setuptools and wheel are pinned too (--all): the local source reads every installed distribution, so they are
# part of the smoke corpus. The hashes come from pip's installation report (the files pip would install here); torch's is the CPU wheel's
# (set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu on a machine whose pip does not already find it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TV=${TORCH_VERSION:-2.13.0}
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
. "$tmp/venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "relock: resolving in a scratch venv (torch==$TV CPU build, then .[dev])"
pip install -q "torch==$TV" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
pip install -q ".[dev]"
pip freeze --all --exclude-editable | grep -v '^wizardlearner' > "$tmp/pins.txt"
pip install -q --dry-run --ignore-installed --no-deps --report "$tmp/report.json" -r "$tmp/pins.txt" \
    ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} 2>/dev/null
python - "$tmp/report.json" > requirements.lock <<'PYEOF'
import json, platform, sys, datetime
r = json.load(open(sys.argv[1]))
v = sys.version_info
print("# The locked environment that `bash setup.sh` installs (pip install --require-hashes --no-deps -r requirements.lock):")
print("# every package, torch included, at one version and sha256. Refresh: `bash setup.sh --relock` (tools/relock.sh).")
print(f"# environment: python {v[0]}.{v[1]} {platform.system().lower()} {platform.machine()}")
print(f"# made: {datetime.date.today().isoformat()} with CPython {platform.python_version()}")
for d in sorted(r['install'], key=lambda d: d['metadata']['name'].lower()):
    h = d['download_info']['archive_info']['hashes']['sha256']
    print(f"{d['metadata']['name']}=={d['metadata']['version']} --hash=sha256:{h}")
PYEOF
echo "relock: wrote requirements.lock ($(grep -c -- '--hash' requirements.lock) packages)"
