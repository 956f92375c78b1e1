"""Shared fixtures: one `cook --preset smoke` of the whole book into a scratch folder, reused by the tests that read it."""
import os, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
WL = str(Path(sys.executable).with_name('wizardlearner'))


def readme_block(start: str, end: str) -> str:
    "What nbs/index.ipynb (the README's source) holds between the markers `start` and `end`; fails if either is missing."
    import nbformat
    nb = nbformat.read(ROOT/'nbs'/'index.ipynb', as_version=4)
    text = '\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown')
    assert start in text and end in text, f"nbs/index.ipynb has no {start} ... {end} markers"
    return text.split(start, 1)[1].split(end, 1)[0].strip('\n')


def cook_env(tmp: Path) -> dict:
    "The environment of a cook whose runs, reports and data cards go under `tmp`."
    env = dict(os.environ)
    env.update(WIZARDLEARNER_RUNS_DIR=str(tmp/'runs'), WIZARDLEARNER_REPORTS_DIR=str(tmp/'reports'),
               WIZARDLEARNER_DATA_CARDS_DIR=str(tmp/'data_cards'), HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               HF_DATASETS_OFFLINE='1', PYTHONUNBUFFERED='1')
    return env


def run_cook(tmp: Path, *args, timeout=1800):
    t0 = time.time()
    p = subprocess.run([WL, 'cook', '--preset', 'smoke', *args], cwd=ROOT, env=cook_env(tmp), capture_output=True,
                       text=True, timeout=timeout)
    return p, time.time() - t0


@pytest.fixture(scope='session')
def smoke_book(tmp_path_factory):
    "A complete smoke cook (and its timing), run once per test session."
    tmp = tmp_path_factory.mktemp('smoke')
    p, secs = run_cook(tmp)
    assert p.returncode == 0, f"cook --preset smoke failed after {secs:.0f} s:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return dict(tmp=tmp, runs=tmp/'runs'/'smoke', reports=tmp/'reports'/'smoke', cards=tmp/'data_cards'/'smoke',
                seconds=secs, stdout=p.stdout)
