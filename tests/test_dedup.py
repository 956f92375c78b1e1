"""Dedup on real standard-library files: copies are dropped with the right reason, distinct files survive, the ledger
balances, and a sharded run (signature jobs + merge) equals the single-shard run. Fast (seconds), no cook needed."""
import random, sysconfig
from pathlib import Path
import numpy as np
import pytest
from wizardlearner.core import Ledger
from wizardlearner.dedup import (DedupConfig, exact_dedup, near_copy, near_dedup, read_signature_shards, set_jaccard,
                                 write_signature_shards)
from wizardlearner.minhash import shingle_hashes

STD = Path(sysconfig.get_paths()['stdlib'])
DISTINCT = ['textwrap.py', 'shlex.py', 'glob.py', 'fnmatch.py', 'bisect.py', 'heapq.py', 'colorsys.py', 'getopt.py',
            'queue.py', 'sched.py', 'numbers.py', 'keyword.py']


def corpus():
    "12 distinct modules, plus an exact copy and three kinds of near-copy of some of them, as file records."
    src = {n: (STD/n).read_text() for n in DISTINCT}
    recs = [dict(id=f'std/{n}', repo='std', path=n, content=c, stars=None, updated='2024-01-01') for n, c in src.items()]
    rng = random.Random(0)
    copies = {
        'exact/textwrap.py': src['textwrap.py'],                                           # byte-identical
        'ws/shlex.py': src['shlex.py'].replace('    ', '\t').replace('\n', '\n\n'),        # whitespace only
        'renamed/glob.py': near_copy(src['glob.py'], rng, renames=2, edits=0),             # variables renamed
        'edited/heapq.py': near_copy(src['heapq.py'], rng, renames=0, edits=4),            # a few lines edited
    }
    recs += [dict(id=i, repo=i.split('/')[0], path=i.split('/')[1], content=c, stars=None, updated='2023-01-01')
             for i, c in copies.items()]
    recs += [dict(id='blank/a.txt', repo='blank', path='a.txt', content='\n\n', stars=None, updated=None),    # no tokens:
             dict(id='blank/b.txt', repo='blank', path='b.txt', content='  \n', stars=None, updated=None)]    # never near dups
    return recs


def dedup(recs, cfg, workers=1):
    ledger = Ledger('files'); ledger.add_in(len(recs))
    kept, exact_dropped = exact_dedup([dict(r) for r in recs], cfg.keep_rule, ledger)
    kept, near_dropped, stats = near_dedup(kept, cfg, ledger, workers=workers)
    ledger.keep(len(kept))
    return kept, exact_dropped + near_dropped, stats, ledger


def test_copies_dropped_with_reason_and_distinct_files_survive():
    recs = corpus()
    kept, dropped, stats, ledger = dedup(recs, DedupConfig(shards=1))
    ledger.check()                                                     # in = kept + dropped by reason
    assert ledger.n_in == len(recs) == ledger.n_kept + ledger.n_dropped
    why = {d['id']: (d['reason'], d['kept_id']) for d in dropped}
    assert why == {'exact/textwrap.py': ('exact_duplicate', 'std/textwrap.py'),
                   'ws/shlex.py': ('near_duplicate', 'std/shlex.py'),
                   'renamed/glob.py': ('near_duplicate', 'std/glob.py'),
                   'edited/heapq.py': ('near_duplicate', 'std/heapq.py')}, why
    assert ledger.dropped == {'exact_duplicate': 1, 'near_duplicate': 3}
    assert sorted(r['id'] for r in kept) == sorted([f'std/{n}' for n in DISTINCT] + ['blank/a.txt', 'blank/b.txt'])
    sizes = {r['id']: r['cluster_size'] for r in kept}
    assert sizes['std/shlex.py'] == sizes['std/glob.py'] == sizes['std/heapq.py'] == 2 and sizes['std/bisect.py'] == 1
    for d in dropped:                                                  # near drops carry their exact Jaccard, >= threshold
        if d['reason'] == 'near_duplicate':
            a, b = (shingle_hashes(next(r['content'] for r in recs if r['id'] == i)) for i in (d['id'], d['kept_id']))
            assert d['jaccard'] == pytest.approx(set_jaccard(a, b), abs=1e-4) and d['jaccard'] >= 0.7


def test_two_shards_equal_one_shard():
    recs = corpus()
    one = dedup(recs, DedupConfig(shards=1))
    for shards, workers in [(2, 1), (2, 2), (5, 2)]:
        kept, dropped, stats, _ = dedup(recs, DedupConfig(shards=shards), workers=workers)
        assert stats['shards'] == shards
        assert np.array_equal(stats['sigs'], one[2]['sigs'])                       # same signatures
        assert stats['pairs'] == one[2]['pairs']                                   # same verified pairs
        assert [(r['id'], r['cluster_id'], r['cluster_size']) for r in kept] == \
               [(r['id'], r['cluster_id'], r['cluster_size']) for r in one[0]]      # same clusters, same kept ids
        assert dropped == one[1]


def test_signature_shards_are_independent_files_and_a_missing_one_is_caught(tmp_path):
    texts = [(STD/n).read_text() for n in DISTINCT]
    cfg = DedupConfig(shards=3)
    paths = write_signature_shards(texts, cfg, tmp_path, workers=2)
    assert [p.name for p in paths] == [f'signatures-{i:05d}-of-00003.npz' for i in range(3)]
    sigs, ntok = read_signature_shards(paths)
    assert sigs.shape == (len(texts), cfg.num_perm) and (ntok > 0).all()
    assert np.array_equal(read_signature_shards(paths[::-1])[0], sigs)            # merge order does not matter
    with pytest.raises(ValueError, match='rerun the missing shards'):
        read_signature_shards(paths[:2])


def test_streaming_dedup_on_parquet_shards_equals_the_in_memory_dedup(tmp_path):
    """The run's path (corpus as Parquet shards, signature jobs reading their own rows, merge reading only candidates'
    texts, kept files written in id order) keeps the same files with the same fields and drops the same ones."""
    from wizardlearner.dedup import dedup_files
    from wizardlearner.store import arrow_schema, iter_rows, write_shards
    recs = corpus()[::-1]                                              # not in id order, as a corpus run writes them
    types = dict(id='str', repo='str', path='str', content='str', stars='int', updated='str')
    write_shards(recs, tmp_path/'corpus', 'train', arrow_schema(types), max_rows=5, row_group_rows=2)
    cfg = DedupConfig(shards=2, job_rows=3, shard_mb=0.05)            # several jobs, several output shards
    kept, dropped, _, _ = dedup(recs, cfg)
    (tmp_path/'out').mkdir()
    led = Ledger('files')
    scan, rows, exact_dropped, near_dropped, stats, near_pos, _ = dedup_files(tmp_path/'corpus', cfg, tmp_path/'out', 2, led)
    led.check()
    assert led.n_in == len(recs) and led.dropped == {'exact_duplicate': 1, 'near_duplicate': 3}
    assert stats['shards'] == 6                                        # ceil(17 / 3) jobs, each its own signature file
    assert len(list((tmp_path/'out'/'files').glob('*.parquet'))) > 1
    got = list(iter_rows(tmp_path/'out'/'files'))
    assert [r['id'] for r in got] == [r['id'] for r in kept]           # same files, same (id) order
    for g, k in zip(got, kept):
        assert {f: g[f] for f in (*types, 'sha256', 'cluster_id', 'cluster_size')} == {f: k[f] for f in (*types, 'sha256', 'cluster_id', 'cluster_size')}
    assert exact_dropped + near_dropped == dropped


def test_rensa_and_affine32_signatures_give_the_same_dedup():
    """The default signatures (rensa's R-MinHash on our shingle hashes) are not datasketch's affine32 values, but the
    dedup they drive keeps and drops the same files, with the same exact Jaccard, as the datasketch-compatible path."""
    recs = corpus()
    (k1, d1, s1, _), (k2, d2, s2, _) = (dedup(recs, DedupConfig(shards=2, scheme=s)) for s in ('rensa', 'affine32'))
    assert not np.array_equal(s1['sigs'], s2['sigs'])                             # different permutations ...
    assert [(r['id'], r['cluster_size']) for r in k1] == [(r['id'], r['cluster_size']) for r in k2] and d1 == d2   # ... same result
    with pytest.raises(ValueError, match='dedup.scheme'):
        dedup(recs, DedupConfig(scheme='sha1'))


def test_rensa_signatures_are_safe_in_forked_workers():
    """rensa starts a thread pool for calls of 32+ files; a pool started in a process hangs the processes forked from
    it. The chapter computes signatures in the parent (a notebook kernel) and then in forked jobs: both must finish."""
    import subprocess, sys
    code = ("import numpy as np\nfrom wizardlearner.minhash import rensa_signatures\nfrom wizardlearner.dedup import fork_map\n"
            "h = [np.arange(i, i + 300, dtype=np.uint32) * 2654435761 for i in range(600)]\n"
            "ref = rensa_signatures(h)\n"
            "parts = fork_map(lambda i: rensa_signatures(h[i * 300:(i + 1) * 300]), 2, 2)\n"
            "assert np.array_equal(np.concatenate(parts), ref); print('ok')")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr[-2000:]
