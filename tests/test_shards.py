"""Chapter 01 across nodes (issue 11, `--shard i/N` then a merge): two parts merged give exactly the one-job output
(rows, shard boundaries, ledger, stats, manifest fingerprint, data card), `cook` then counts the chapter as done, a
missing part or a part made with another config is named, and a rerun part is the same part. Small corpus (300 files)."""
import gzip, json, re, shutil, subprocess
from pathlib import Path
import pytest
from conftest import ROOT, WL, cook_env

SETS = ['--set', 'corpus.max_files=300', '--set', 'corpus.bench_mb=0.2', '--set', 'corpus.workers=1']
OVERRIDES = {'corpus.max_files': 300, 'corpus.bench_mb': 0.2, 'corpus.workers': 1}


def start(tmp: Path, *args):
    "A `wizardlearner` command whose runs, reports and cards go under `tmp`, started (not waited for)."
    return subprocess.Popen([WL, *args, *SETS], cwd=ROOT, env=cook_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(p, timeout=600) -> str:
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"{p.args} failed:\n{out[-3000:]}"
    return out


def part_content(d: Path) -> dict:
    "What a part folder holds, without its timings and the gzip header's mtime: rows, outcomes, part.json."
    from wizardlearner.store import iter_rows
    info = json.loads((d/'part.json').read_text())
    for k in ('seconds', 'finished'): info.pop(k)
    return dict(rows=list(iter_rows(d/'files')), outcomes=gzip.decompress((d/'outcomes.jsonl.gz').read_bytes()), info=info,
                shards=sorted(p.name for p in (d/'files').iterdir()))


@pytest.fixture(scope='module')
def book(tmp_path_factory):
    "One-job corpus in `one/`; parts 0/2 and 1/2 (run at once, part 1 then rerun) merged in `sharded/`."
    one, sh = tmp_path_factory.mktemp('one'), tmp_path_factory.mktemp('sharded')
    procs = [start(one, 'launch', 'corpus', '--preset', 'smoke'),
             *(start(sh, 'cook', '--preset', 'smoke', '--only', 'corpus', '--shard', f"{i}/2") for i in range(2))]
    for p in procs: finish(p)
    parts = sh/'runs'/'smoke'/'corpus.parts'
    first = part_content(parts/'1-of-2')
    finish(start(sh, 'cook', '--preset', 'smoke', '--only', 'corpus', '--shard', '1/2'))   # a rerun of a part
    rerun = part_content(parts/'1-of-2')
    out = finish(start(sh, 'merge', 'corpus', '--preset', 'smoke'))
    return dict(one=one, sh=sh, parts=parts, first=first, rerun=rerun, merge_out=out)


def stage(tmp: Path) -> Path: return tmp/'runs'/'smoke'/'corpus'
def manifest(tmp: Path) -> dict: return json.loads((stage(tmp)/'manifest.json').read_text())


def test_merged_rows_equal_one_job(book):
    from wizardlearner.store import iter_rows
    a, b = stage(book['one'])/'files', stage(book['sh'])/'files'
    assert sorted(p.name for p in a.glob('*.parquet')) == sorted(p.name for p in b.glob('*.parquet'))   # same shard boundaries
    rows_a, rows_b = list(iter_rows(a)), list(iter_rows(b))
    assert len(rows_a) > 100 and rows_a == rows_b
    assert (stage(book['one'])/'decontaminated.json').read_text() == (stage(book['sh'])/'decontaminated.json').read_text()


def test_merged_ledger_stats_and_card_equal_one_job(book):
    ma, mb = manifest(book['one']), manifest(book['sh'])
    assert ma['ledgers'] == mb['ledgers'] and ma['ledgers']['files']['n_in'] > 300
    for k in ('funnel', 'pii', 'rule_files', 'rule_tokens', 'source_bytes', 'rules', 'languages', 'drop_examples', 'counts', 'workers',
              'fingerprint', 'config_hash'):
        assert ma[k] == mb[k], k
    speed = lambda s: {k: v for k, v in s.items() if k != 'filter_mb_s_2w'}   # a timing: never equal between two runs
    assert speed(ma['summary']) == speed(mb['summary'])
    assert (ma['parts'], [(p['part'], p['parts']) for p in mb['parts']]) == ([], [(0, 2), (1, 2)])
    card = lambda m: re.sub(r"[\d.]+ MB/s", 'x MB/s', Path(m['data_card']).read_text())
    assert card(ma) == card(mb)


def test_cook_counts_the_merge_as_the_chapters_run(book, monkeypatch):
    from wizardlearner.core import get_preset, get_settings
    from wizardlearner.cook import is_up_to_date
    for k, v in cook_env(book['sh']).items():
        if k.startswith('WIZARDLEARNER_'): monkeypatch.setenv(k, v)
    ok, why = is_up_to_date(get_preset('smoke', OVERRIDES), 'corpus', get_settings(ROOT))
    assert ok, why


def test_cook_finding_all_parts_executes_the_chapter_which_merges_them(book, tmp_path):
    from wizardlearner.store import iter_rows
    (tmp_path/'runs'/'smoke').mkdir(parents=True)
    shutil.copytree(book['parts'], tmp_path/'runs'/'smoke'/'corpus.parts')
    out = finish(start(tmp_path, 'cook', '--preset', 'smoke', '--only', 'corpus'))
    assert 'corpus     done' in out, out
    nb = (tmp_path/'reports'/'smoke'/'01_corpus.ipynb').read_text()
    assert 'merged from 2 parts' in nb and (tmp_path/'reports'/'smoke'/'figures'/'corpus_funnel.png').exists()
    assert [p['part'] for p in manifest(tmp_path)['parts']] == [0, 1]
    assert list(iter_rows(stage(tmp_path)/'files')) == list(iter_rows(stage(book['one'])/'files'))


def test_rerun_of_a_part_is_the_same_part(book):
    assert book['first'] == book['rerun'] and book['first']['info']['n_processed'] > 100
    assert sorted(p.name for p in book['parts'].iterdir()) == ['0-of-2', '1-of-2']   # no temporary folder left behind


def test_missing_part_is_named_and_nothing_is_written(book, tmp_path):
    parts = tmp_path/'runs'/'smoke'/'corpus.parts'
    parts.mkdir(parents=True)
    shutil.copytree(book['parts']/'0-of-2', parts/'0-of-2')
    p = start(tmp_path, 'merge', 'corpus', '--preset', 'smoke')
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 1, out
    assert '1 of 2 parts missing' in out and '1-of-2' in out and '--only corpus --shard 1/2' in out, out
    assert not stage(tmp_path).exists()


def test_parts_of_another_config_are_refused(book):
    p = subprocess.run([WL, 'merge', 'corpus', '--preset', 'smoke', *SETS, '--set', 'corpus.max_files=301'], cwd=ROOT,
                       env=cook_env(book['sh']), capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and 'made otherwise' in p.stderr and '0-of-2' in p.stderr, p.stderr


def test_shard_needs_one_stage_that_has_the_hooks(tmp_path):
    run = lambda *a: subprocess.run([WL, 'cook', '--preset', 'smoke', *a], cwd=ROOT, env=cook_env(tmp_path), capture_output=True,
                                    text=True, timeout=300)
    p = run('--shard', '0/2')
    assert p.returncode == 2 and 'name it with --only' in p.stderr, p.stderr
    p = run('--only', 'pretrain', '--shard', '0/2')
    assert p.returncode == 1 and "'pretrain' cannot run in parts" in p.stderr and 'the stages that can: corpus, dedup' in p.stderr, p.stderr
    p = run('--only', 'corpus', '--shard', '2/2')
    assert p.returncode == 1 and '0 <= i < N' in p.stderr, p.stderr
    assert not (tmp_path/'runs').exists()   # nothing ran, nothing was written


def test_dedup_in_parts_equals_one_job(book):
    "Dedup's signature jobs split over two parts, then merged: the same kept files, instruction pairs, duplicates and ledgers as one job."
    from wizardlearner.verify import data_digest
    finish(start(book['one'], 'launch', 'dedup', '--preset', 'smoke'))
    procs = [start(book['sh'], 'cook', '--preset', 'smoke', '--only', 'dedup', '--shard', f"{i}/2") for i in range(2)]
    for p in procs: finish(p)
    parts = book['sh']/'runs'/'smoke'/'dedup.parts'
    jobs = [json.loads((parts/f"{i}-of-2"/'part.json').read_text())['jobs'] for i in range(2)]
    assert jobs[0] and jobs[1] and not set(jobs[0]) & set(jobs[1])        # each node computed its own share of the jobs
    out = finish(start(book['sh'], 'merge', 'dedup', '--preset', 'smoke'))
    a, b = (json.loads((t/'runs'/'smoke'/'dedup'/'manifest.json').read_text()) for t in (book['one'], book['sh']))
    assert [p['part'] for p in b['parts']] == [0, 1] and a['parts'] == []
    for k in ('files', 'instructions', 'duplicates.jsonl.gz'):
        da, db = (data_digest(t/'runs'/'smoke'/'dedup'/k) for t in (book['one'], book['sh']))
        assert da == db, (k, da, db, out[-2000:])
    assert a['ledgers'] == b['ledgers'] and a['summary']['files_kept'] == b['summary']['files_kept']
