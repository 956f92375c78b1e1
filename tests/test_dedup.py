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
