"""A local folder of repositories as the corpus source (`--set corpus.source=dir --set corpus.path=...`), end to end
through the CLI: three small repositories (one a git repository below the top level), an exact duplicate across two of
them, a binary file and an empty file. The corpus ledger balances with a reason for every dropped file, nothing under
`.git` is read, and dedup removes the duplicate. Runs `wizardlearner cook --only corpus,dedup` in temporary folders."""
import gzip, json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest
from wizardlearner.store import iter_rows

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

GEOMETRY = '''\
"""Small geometry helpers for rectangles and circles."""
import math


def rectangle_area(width: float, height: float) -> float:
    """Area of a rectangle with sides `width` and `height`."""
    if width < 0 or height < 0:
        raise ValueError("sides must be non-negative")
    area = width * height
    return area


def circle_perimeter(radius: float) -> float:
    """Perimeter of a circle of the given radius."""
    if radius < 0:
        raise ValueError("radius must be non-negative")
    perimeter = 2 * math.pi * radius
    return perimeter


def scale_points(points, factor):
    """Scale every (x, y) point by `factor` around the origin."""
    scaled = []
    for x, y in points:
        scaled.append((x * factor, y * factor))
    return scaled
'''

TEXTSTATS = '''\
"""Counting words and lines in plain text documents."""
from collections import Counter


def word_counts(text):
    """How often each lower-cased word occurs in `text`."""
    words = [w.strip('.,;:!?').lower() for w in text.split()]
    counts = Counter(w for w in words if w)
    return counts


def longest_line(text):
    """The longest line of `text` and its number (1-based)."""
    best, number = '', 0
    for i, line in enumerate(text.splitlines(), 1):
        if len(line) > len(best):
            best, number = line, i
    return number, best


def top_words(text, n=5):
    """The `n` most common words with their counts, most common first."""
    counts = word_counts(text)
    ranked = counts.most_common(n)
    return ranked
'''

INVENTORY = '''\
"""A tiny inventory of items with prices and quantities."""
from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0


def total_value(items):
    """Price times quantity, summed over all `items`."""
    total = 0.0
    for item in items:
        total += item.price * item.quantity
    return total


def restock(items, name, amount):
    """Add `amount` units to the item called `name`; raise KeyError if there is none."""
    for item in items:
        if item.name == name:
            item.quantity += amount
            return item
    raise KeyError(f"no item named {name!r}")
'''

SCHEDULER = '''\
"""Round-robin scheduling of tasks over a fixed number of workers."""
import heapq


def assign_round_robin(tasks, workers):
    """Give task i to worker i mod `workers`; returns one list of tasks per worker."""
    if workers <= 0:
        raise ValueError("need at least one worker")
    queues = [[] for _ in range(workers)]
    for i, task in enumerate(tasks):
        queues[i % workers].append(task)
    return queues


def assign_by_load(durations, workers):
    """Give each task to the least loaded worker so far (longest tasks first)."""
    heap = [(0.0, w) for w in range(workers)]
    plan = {w: [] for w in range(workers)}
    for i, d in sorted(enumerate(durations), key=lambda t: -t[1]):
        load, w = heapq.heappop(heap)
        plan[w].append(i)
        heapq.heappush(heap, (load + d, w))
    return plan
'''

PNG = bytes.fromhex('89504e470d0a1a0a0000000d4948445200000001000000010806000000') + bytes(range(256))


def make_tree(root: Path) -> dict[str, bytes]:
    "alpha/ and beta/ (plain folders) and group/gamma/ (a git repository below the top level); returns what was written."
    files = {
        'alpha/geometry.py': GEOMETRY, 'alpha/textstats.py': TEXTSTATS, 'alpha/__init__.py': '',       # an empty file
        'beta/inventory.py': INVENTORY, 'beta/assets/logo.png': PNG,                                  # a binary file
        'group/gamma/src/scheduler.py': SCHEDULER, 'group/gamma/src/geometry.py': GEOMETRY,          # an exact copy
        'group/gamma/.git/HEAD': 'ref: refs/heads/main\n',                                           # never read:
        'group/gamma/.git/hooks/pre-commit.py': 'import sys\nprint("hook")\nsys.exit(0)\n' * 5,
    }
    for rel, data in files.items():
        p = root/rel; p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return files


@pytest.fixture(scope='module')
def cooked(tmp_path_factory):
    "The cook of corpus and dedup on the folder, in temporary runs / reports / data-card folders."
    tmp = tmp_path_factory.mktemp('localdir')
    make_tree(tmp/'code')
    env = {**os.environ, 'WIZARDLEARNER_RUNS_DIR': str(tmp/'runs'), 'WIZARDLEARNER_REPORTS_DIR': str(tmp/'reports'),
           'WIZARDLEARNER_DATA_CARDS_DIR': str(tmp/'cards')}
    cmd = [str(BIN/'wizardlearner'), 'cook', '--preset', 'smoke', '--only', 'corpus,dedup',
           '--set', 'corpus.source=dir', '--set', f"corpus.path={tmp/'code'}", '--set', 'dedup.quality_min_pairs=0']
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return dict(tmp=tmp, proc=p, corpus=tmp/'runs'/'smoke'/'corpus', dedup=tmp/'runs'/'smoke'/'dedup')


def manifest(d: Path) -> dict: return json.loads((d/'manifest.json').read_text())


def test_cook_exits_0(cooked):
    p = cooked['proc']
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]


def test_corpus_ledger_balances_with_reasons(cooked):
    led = manifest(cooked['corpus'])['ledgers']['files']
    assert led['n_in'] == 7                                        # every file but the two under .git
    assert led['n_in'] == led['n_kept'] + sum(led['dropped'].values())
    assert led['dropped'] == {'binary_format': 1, 'too_few_chars': 1}, led['dropped']
    assert led['examples']['binary_format'] == ['beta/assets/logo.png'] and led['examples']['too_few_chars'] == ['alpha/__init__.py']


def test_records_have_the_local_schema(cooked):
    recs = list(iter_rows(cooked['corpus']/'files'))                   # chapter 01 writes Parquet shards
    assert sorted(r['id'] for r in recs) == ['alpha/geometry.py', 'alpha/textstats.py', 'beta/inventory.py',
                                             'group/gamma/src/geometry.py', 'group/gamma/src/scheduler.py']
    r = next(r for r in recs if r['id'] == 'group/gamma/src/scheduler.py')
    assert (r['repo'], r['path'], r['language'], r['kind'], r['source'], r['content']) == \
           ('group/gamma', 'src/scheduler.py', 'Python', 'code', 'dir', SCHEDULER)
    assert not any('.git' in x['id'].split('/') for x in recs)


def test_dedup_removed_the_exact_duplicate(cooked):
    m = manifest(cooked['dedup'])
    assert m['ledgers']['files']['dropped'].get('exact_duplicate') == 1 and m['summary']['files_kept'] == 4
    with gzip.open(cooked['dedup']/'duplicates.jsonl.gz', 'rt') as f: dups = [json.loads(l) for l in f]
    assert [(d['reason'], {d['id'], d['kept_id']}) for d in dups] == [('exact_duplicate', {'alpha/geometry.py', 'group/gamma/src/geometry.py'})]


def test_missing_path_fails_before_any_work(tmp_path):
    env = {**os.environ, 'WIZARDLEARNER_RUNS_DIR': str(tmp_path/'runs'), 'WIZARDLEARNER_REPORTS_DIR': str(tmp_path/'reports'),
           'WIZARDLEARNER_DATA_CARDS_DIR': str(tmp_path/'cards')}
    for sets, want in [(['corpus.source=dir'], 'corpus.path is not set'),
                       (['corpus.source=dir', f"corpus.path={tmp_path/'nowhere'}"], 'does not exist')]:
        cmd = [str(BIN/'wizardlearner'), 'cook', '--preset', 'smoke', '--only', 'corpus'] + [a for s in sets for a in ('--set', s)]
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 1 and want in p.stderr, p.stderr[-2000:]
        assert not (tmp_path/'runs').exists() or not any((tmp_path/'runs').rglob('manifest.json'))


def test_launch_reruns_a_stage_through_its_run_function(cooked):
    "`wizardlearner launch dedup` calls `dedup.run` (no notebook involved): the same files kept, a new run recorded."
    tmp, before = cooked['tmp'], manifest(cooked['dedup'])
    env = {**os.environ, 'WIZARDLEARNER_RUNS_DIR': str(tmp/'runs'), 'WIZARDLEARNER_REPORTS_DIR': str(tmp/'reports'),
           'WIZARDLEARNER_DATA_CARDS_DIR': str(tmp/'cards')}
    cmd = [str(BIN/'wizardlearner'), 'launch', 'dedup', '--preset', 'smoke', '--set', 'corpus.source=dir',
           '--set', f"corpus.path={tmp/'code'}", '--set', 'dedup.quality_min_pairs=0']
    p = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    after = manifest(cooked['dedup'])
    assert after['run_id'] != before['run_id'] and after['summary']['files_kept'] == before['summary']['files_kept'] == 4
    assert after['inputs']['corpus']['run_id'] == manifest(cooked['corpus'])['run_id']   # the corpus it read, recorded
