"""Nothing stale consumed, nothing good lost: a stage interrupted mid-rerun, an output deleted or changed after its run,
two cooks on one runs folder, a manifest cut short, and a chapter that fails. Each scenario runs the real corpus and
dedup stages (through `wizardlearner launch`/`cook`) on a local folder of code: a copy of part of Python's standard
library."""
import json, os, shutil, signal, subprocess, sys, sysconfig
from pathlib import Path
import pytest
from wizardlearner.store import iter_rows

ROOT = Path(__file__).resolve().parents[1]
WL = str(Path(sys.executable).with_name('wizardlearner'))
STDLIB = Path(sysconfig.get_paths()['stdlib'])
PACKAGES = ('email', 'json', 'http', 'xml', 'asyncio', 'concurrent', 'logging', 'unittest', 'multiprocessing', 'importlib')


@pytest.fixture(scope='module')
def code(tmp_path_factory):
    "A folder of real code: ten packages of the standard library (about 200 Python files)."
    d = tmp_path_factory.mktemp('code')
    for p in PACKAGES: shutil.copytree(STDLIB/p, d/'std'/p, ignore=shutil.ignore_patterns('__pycache__'))
    return d


def env_for(tmp: Path) -> dict:
    return {**os.environ, 'WIZARDLEARNER_RUNS_DIR': str(tmp/'runs'), 'WIZARDLEARNER_REPORTS_DIR': str(tmp/'reports'),
            'WIZARDLEARNER_DATA_CARDS_DIR': str(tmp/'cards'), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}


def sets(code: Path, *extra) -> list[str]:
    return [a for s in ('corpus.source=dir', f'corpus.path={code}', 'dedup.quality_min_pairs=0', *extra) for a in ('--set', s)]


def wl(tmp, *args, timeout=600):
    return subprocess.run([WL, *args], cwd=ROOT, env=env_for(tmp), capture_output=True, text=True, timeout=timeout)


def manifest(tmp, stage) -> dict: return json.loads((tmp/'runs'/'smoke'/stage/'manifest.json').read_text())


def loader(tmp, stage):
    "`<Stage>Outputs.load` in a fresh process: what a later stage would get ('ok ...' or the error it would stop with)."
    prog = (f"from wizardlearner.stages import STAGE_OUTPUTS\ntry:\n    o = STAGE_OUTPUTS[{stage!r}].load('smoke')\n"
            f"    print('ok', o.read_manifest()['run_id'])\nexcept Exception as e: print('error:', type(e).__name__, e)")
    return subprocess.run([sys.executable, '-c', prog], cwd=ROOT, env=env_for(tmp), capture_output=True, text=True).stdout.strip()


def up_to_date(tmp, stage, *overrides) -> str:
    "cook's verdict on `stage` with the given `--set` overrides, in a fresh process."
    ov = dict(s.split('=', 1) for s in overrides)
    prog = (f"from wizardlearner.core import get_preset\nfrom wizardlearner.cook import is_up_to_date\n"
            f"print(is_up_to_date(get_preset('smoke', {ov!r}), {stage!r}))")
    return subprocess.run([sys.executable, '-c', prog], cwd=ROOT, env=env_for(tmp), capture_output=True, text=True).stdout.strip()


def shard_bytes(stage_dir: Path) -> dict:
    "{name: bytes} of the Parquet shards of a corpus folder's `files/` (chapter 01's output)."
    return {p.name: p.read_bytes() for p in sorted((stage_dir/'files').glob('*.parquet'))}


def corpus_sets(code):
    return ('corpus.source=dir', f'corpus.path={code}')


def test_interrupted_rerun_is_never_consumed_and_the_last_good_run_is_not_lost(code, tmp_path):
    p = wl(tmp_path, 'launch', 'corpus', '--preset', 'smoke', *sets(code))
    assert p.returncode == 0, p.stderr[-3000:]
    good = manifest(tmp_path, 'corpus')
    live = tmp_path/'runs'/'smoke'/'corpus'
    files_before = shard_bytes(live)
    # a rerun with another config, stopped with Ctrl-C once its new outputs are written but not yet promoted (the worst
    # moment: new files beside the old manifest). The stop is placed from outside: this process replaces the corpus
    # module's `write_manifest` with a wait, so the timing does not depend on the machine.
    # (SIGINT gets Python's Ctrl-C handler back: a job started in the background, as CI may be, inherits it ignored)
    stop = ("import json, signal, sys, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "import wizardlearner.corpus as c\n"
            "def wait(*a, **k): print('outputs written', flush=True); time.sleep(600)\n"
            "c.write_manifest = wait\nc.run('smoke', json.loads(sys.argv[1]))")
    over = {'corpus.source': 'dir', 'corpus.path': str(code), 'corpus.strip_license_header': False}
    proc = subprocess.Popen([sys.executable, '-c', stop, json.dumps(over)], cwd=ROOT, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    for line in proc.stdout:                                             # its log, then the line of the stop
        lines.append(line)
        if line.strip() == 'outputs written': break
    assert lines and lines[-1].strip() == 'outputs written', ''.join(lines)[-2000:]
    assert shard_bytes(live.parent/'corpus.staging')                    # the new files are there, unpromoted
    proc.send_signal(signal.SIGINT); proc.wait(60)
    assert proc.returncode != 0
    m = manifest(tmp_path, 'corpus')
    assert m['status'] == 'stale' and m['run_id'] == good['run_id'] and 'has not finished' in m['stale_reason']
    assert shard_bytes(live) == files_before                            # the last good files are still there, whole
    assert loader(tmp_path, 'corpus').startswith('error: FileNotFoundError') and 'marked stale' in loader(tmp_path, 'corpus')
    # back to the first config: corpus is NOT "unchanged", it reruns; dedup then reads that new run, whole
    assert 'did not finish' in up_to_date(tmp_path, 'corpus', *corpus_sets(code))
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus,dedup', *sets(code))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert 'corpus     running (a rerun started and did not finish)' in p.stdout, p.stdout
    c, d = manifest(tmp_path, 'corpus'), manifest(tmp_path, 'dedup')
    assert c['status'] == 'ok' and c['run_id'] != good['run_id'] and c['ledgers'] == good['ledgers']
    assert d['inputs']['corpus']['run_id'] == c['run_id']
    n = sum(1 for _ in iter_rows(live/'files'))
    assert n == c['summary']['files_kept'] == d['ledgers']['files']['n_in']
    left = sorted(p.name for p in live.parent.iterdir() if p.name.startswith('corpus'))
    assert left == ['corpus', f"corpus@{c['run_id']}"], left              # no staging folder, no old run left behind


def test_deleted_or_changed_outputs_make_the_stage_rerun(code, tmp_path):
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus', *sets(code))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    live = tmp_path/'runs'/'smoke'/'corpus'
    assert up_to_date(tmp_path, 'corpus', *corpus_sets(code)).startswith('(True')
    shard = sorted((live/'files').glob('*.parquet'))[-1]; shard.unlink()
    gone = f"files/{shard.name} is missing"
    v = up_to_date(tmp_path, 'corpus', *corpus_sets(code))
    assert v.startswith('(False') and gone in v, v
    assert gone in loader(tmp_path, 'corpus')                            # a later stage stops instead of reading nothing
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus', *sets(code))
    assert p.returncode == 0 and gone in p.stdout, p.stdout
    assert shard.exists() and loader(tmp_path, 'corpus').startswith('ok')
    data = (live/'decontaminated.json').read_bytes()                      # same size, other bytes: only the hash sees it
    (live/'decontaminated.json').write_bytes(data[:-2] + (b'  ' if data[-2:] != b'  ' else b'\n\n'))
    v = up_to_date(tmp_path, 'corpus', *corpus_sets(code))
    assert v.startswith('(False') and 'decontaminated.json has other content' in v, v


def test_a_second_cook_on_the_same_runs_folder_is_refused_until_the_first_is_gone(code, tmp_path):
    hold = ("import sys, time\nfrom wizardlearner.store import lock_folder\nlock_folder(sys.argv[1])\n"
            "print('holding', flush=True)\ntime.sleep(120)")
    env = {k: v for k, v in env_for(tmp_path).items() if k != 'WIZARDLEARNER_LOCK_TOKEN'}
    holder = subprocess.Popen([sys.executable, '-c', hold, str(tmp_path/'runs')], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'holding'
        for cmd in (['cook', '--preset', 'smoke', '--only', 'corpus', *sets(code)], ['launch', 'corpus', '--preset', 'smoke', *sets(code)]):
            p = wl(tmp_path, *cmd)
            assert p.returncode == 1 and f"in use by process {holder.pid}" in p.stderr, p.stderr[-2000:]
        assert not any((tmp_path/'runs').rglob('manifest.json'))            # nothing was written
    finally:
        holder.kill(); holder.wait()
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus', *sets(code))   # the holder is gone: so is its lock
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]


def test_a_corrupt_manifest_is_named_and_replaced_and_a_failed_chapter_keeps_the_good_notebook(code, tmp_path):
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus', *sets(code))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    mp = tmp_path/'runs'/'smoke'/'corpus'/'manifest.json'
    mp.write_text(mp.read_text()[:2996])                                    # cut short, as a crash or a bad edit leaves it
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'dedup', *sets(code))   # a reader of it: stops, naming the file
    assert p.returncode == 1 and f"{mp} is not valid JSON" in p.stderr and '--only corpus' in p.stderr, p.stderr[-2000:]
    assert not (tmp_path/'runs'/'smoke'/'dedup').exists()
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus,dedup', *sets(code))
    assert p.returncode == 0 and 'corpus     running (its manifest is unreadable)' in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
    assert manifest(tmp_path, 'corpus')['status'] == 'ok'
    nb = tmp_path/'reports'/'smoke'/'02_dedup.ipynb'
    good = nb.read_bytes()
    p = wl(tmp_path, 'cook', '--preset', 'smoke', '--only', 'dedup', *sets(code, 'dedup.keep_rule=bogus'))   # fails inside the chapter
    assert p.returncode == 1 and '02_dedup.failed.ipynb' in p.stderr, p.stdout[-2000:] + p.stderr[-2000:]
    assert nb.read_bytes() == good and (tmp_path/'reports'/'smoke'/'02_dedup.failed.ipynb').exists()
    assert 'dedup' in (tmp_path/'reports'/'smoke'/'REPORT.md').read_text()
    assert loader(tmp_path, 'dedup').startswith('error: FileNotFoundError')   # marked stale by the failed rerun
