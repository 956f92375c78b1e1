"""No planted secret reaches what a cook stores or shows. A folder of repositories plants one secret of every kind
`wizardlearner.pii` redacts (AWS key id, GitHub token, PEM private key, random key and password in quoted
assignments, email, public IPv4 and IPv6, Slack token and webhook, password in a connection URL, `Bearer` and `Basic`
credentials, unquoted `export KEY=...` / `PASSWORD=...` in shell and compose files), each file with its own values,
in files the corpus keeps, files its rules drop (generated, an over-long line, a leaked benchmark problem: the files
whose first lines the chapter prints as examples), and a copy dedup drops. `wizardlearner cook --only corpus,dedup`
on it, in temporary folders; then no secret, nor a distinctive piece of one, may appear in any file under the reports,
data cards or runs (manifests, executed notebooks, figures' folders, the data files later stages read).

Why corpus and dedup are enough: they are the chapters that read or show raw files; every later chapter reads only
dedup's outputs (the `files/` and `instructions/` Parquet shards), which this test scans too, so no later chapter can show
a secret that is not already in them."""
import gzip, json, os, random, re, string, subprocess, sys, textwrap
from pathlib import Path
import pytest
import inspect
from wizardlearner.core import load_humaneval
from wizardlearner.store import iter_rows

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

ORDINARY = '''

def word_counts(text):
    """How often each lower-cased word occurs in `text`."""
    counts = {}
    for word in text.split():
        word = word.strip('.,;:!?').lower()
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts


def restock(items, name, amount):
    """Add `amount` units to the item called `name`; raise KeyError if there is none."""
    for item in items:
        if item["name"] == name:
            item["quantity"] += amount
            return item
    raise KeyError(f"no item named {name!r}")


def total_value(items):
    """Price times quantity, summed over all `items`."""
    total = 0.0
    for item in items:
        total += item["price"] * item["quantity"]
    return total
''' + '\n\n' + inspect.getsource(textwrap.TextWrapper)   # a real, ordinary class: the secrets' long tokens stay a small share


def _rand(rng, n, alphabet=string.ascii_letters + string.digits): return ''.join(rng.choice(alphabet) for _ in range(n))


def make_secrets(tag: str) -> dict:
    "One value of every secret kind, distinct for each file (seeded by `tag`)."
    rng = random.Random(tag)
    up, hexd, b64 = string.ascii_uppercase + string.digits, '0123456789abcdef', string.ascii_letters + string.digits + '+/'
    pem_lines = [_rand(rng, 64, b64) for _ in range(12)]
    return dict(
        aws='AKIA' + _rand(rng, 16, up), github='ghp_' + _rand(rng, 36), hexkey=_rand(rng, 40, hexd),
        password='Pw-' + _rand(rng, 10) + '!', email=f"ops.{_rand(rng, 8, string.ascii_lowercase)}@mailhost.org",
        ipv4=f"151.101.{rng.randrange(2, 250)}.{rng.randrange(10, 250)}", ipv6=f"2606:4700:{rng.randrange(4096, 65535):x}::1111",
        slack=f"xoxb-{_rand(rng, 12, string.digits)}-{_rand(rng, 13, string.digits)}-{_rand(rng, 24)}",
        slack_app=f"xapp-1-A{_rand(rng, 10, up)}-{_rand(rng, 13, string.digits)}-{_rand(rng, 64, hexd)}",
        webhook=f"T{_rand(rng, 8, up)}/B{_rand(rng, 8, up)}/{_rand(rng, 24)}",
        url_password='S3c' + _rand(rng, 12), bearer='eyJ' + _rand(rng, 20) + '.' + _rand(rng, 24) + '.' + _rand(rng, 16),
        basic=_rand(rng, 28, string.ascii_letters + string.digits) + '==',
        shell_key=_rand(rng, 20, b64) + 'K' + _rand(rng, 19, b64), shell_password='pg' + _rand(rng, 12),
        env_key='sk_live_' + _rand(rng, 24), compose_password='cp' + _rand(rng, 12),
        pem='-----BEGIN RSA PRIVATE KEY-----\n' + '\n'.join(pem_lines) + '\n-----END RSA PRIVATE KEY-----')


def python_with_secrets(s: dict) -> str:
    return '\n'.join([
        '"""Client settings for the inventory service."""',
        f'AWS_ACCESS_KEY_ID = "{s["aws"]}"',
        f'GITHUB_TOKEN = "{s["github"]}"',
        f'api_key = "{s["hexkey"]}"',
        f'db_password = "{s["password"]}"',
        f'SLACK_TOKEN = "{s["slack"]}"',
        f'SLACK_APP_TOKEN = "{s["slack_app"]}"',
        f'SLACK_HOOK = "https://hooks.slack.com/services/{s["webhook"]}"',
        f'DATABASE_URL = "postgres://admin:{s["url_password"]}@db.internal:5432/app"',
        f'HEADERS = {{"Authorization": "Bearer {s["bearer"]}"}}',
        f'PROXY_HEADERS = {{"Authorization": "Basic {s["basic"]}"}}',
        f'# maintainer: {s["email"]}, server {s["ipv4"]}, mirror {s["ipv6"]}',
        f'SIGNING_KEY = """{s["pem"]}"""', ''])


def shell_with_secrets(s: dict) -> str:
    return textwrap.dedent(f'''\
        #!/usr/bin/env bash
        # Deploy the inventory service to the staging cluster.
        set -euo pipefail
        export AWS_SECRET_ACCESS_KEY={s['shell_key']}
        export DB_PASSWORD={s['shell_password']}
        STRIPE_SECRET_KEY={s['env_key']}
        export SLACK_BOT_TOKEN={s['slack']}
        export DATABASE_URL=postgres://deploy:{s['url_password']}@db.internal:5432/app

        log() {{
            echo "[$(date +%H:%M:%S)] $*"
        }}

        for service in api worker scheduler; do
            log "building $service"
            docker build -t "inventory-$service:latest" "services/$service"
        done
        curl -fsS -H "Authorization: Bearer {s['bearer']}" https://api.example.com/deploy
        log "done"
        ''')


def compose_with_secrets(s: dict) -> str:
    return textwrap.dedent(f'''\
        services:
          db:
            image: postgres:16
            environment:
              - POSTGRES_USER=inventory
              - POSTGRES_PASSWORD={s['compose_password']}
          api:
            build: ./services/api
            environment:
              - API_TOKEN={s['env_key']}
              - DATABASE_URL=postgres://inventory:{s['url_password']}@db:5432/app
            ports:
              - "8000:8000"
        ''')


def make_tree(root: Path) -> dict[str, dict]:
    "The planted folder: `{file id: its secrets}`; which files are kept and dropped is checked by the tests."
    he = load_humaneval()[2]
    sec = {k: make_secrets(k) for k in ('service', 'deploy', 'compose', 'generated', 'wide', 'leak')}
    wide_line = 'const TABLE = [' + ', '.join(str(i) for i in range(600)) + '];'      # one line over 1,000 characters
    files = {
        'app/service.py': python_with_secrets(sec['service']) + ORDINARY,                              # kept
        'app/deploy.sh': shell_with_secrets(sec['deploy']),                                            # kept
        'app/docker-compose.yml': compose_with_secrets(sec['compose']),                                # kept
        'app/service_pb2.py': ('# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n'
                               + python_with_secrets(sec['generated']) + ORDINARY),                    # dropped: autogenerated
        # dropped for its long line; its private key starts on the second line and ends after character 600, past the
        # cut of the excerpt a report shows: cutting before redacting would show lines of the key
        'app/wide.js': (f"// settings\nconst KEY = `{sec['wide']['pem']}`;\n"
                        + python_with_secrets(sec['wide']).replace('"""', '`') + wide_line + '\n'),
        'app/leak.py': python_with_secrets(sec['leak']) + ORDINARY + '\n' + he['prompt'] + he['canonical_solution'],  # dropped: contaminated
        'mirror/service.py': python_with_secrets(sec['service']) + ORDINARY,                           # dedup drops the copy
    }
    for rel, text in files.items():
        p = root/rel; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text)
    return {'app/service.py': sec['service'], 'app/deploy.sh': sec['deploy'], 'app/docker-compose.yml': sec['compose'],
            'app/service_pb2.py': sec['generated'], 'app/wide.js': sec['wide'], 'app/leak.py': sec['leak'],
            'mirror/service.py': sec['service']}


def probes(secrets: dict) -> list[tuple[str, str]]:
    "(kind, string) pairs that must appear nowhere: each secret, a 10-character piece of its middle, each private-key line."
    out = []
    for kind, v in secrets.items():
        if kind == 'pem':
            out += [('pem', l[20:44]) for l in v.splitlines()[1:-1]]; continue
        out.append((kind, v))
        if kind not in ('email', 'ipv4', 'ipv6') and len(v) >= 14: out.append((kind, v[len(v) // 2 - 5:len(v) // 2 + 5]))
    out.append(('email', secrets['email'].split('@')[0]))
    return out


def readable(p: Path) -> str:
    "A stored file as text: .gz decompressed, Parquet as its rows, anything else decoded leniently."
    data = p.read_bytes()
    if p.suffix == '.gz': data = gzip.decompress(data)
    if p.suffix == '.parquet':
        import pyarrow.parquet as pq
        return json.dumps(pq.read_table(p).to_pylist(), default=str)
    return data.decode('utf-8', 'replace')


@pytest.fixture(scope='module')
def cooked(tmp_path_factory):
    "`cook --only corpus,dedup` on the planted folder, in temporary runs / reports / data-card folders."
    tmp = tmp_path_factory.mktemp('secrets')
    planted = make_tree(tmp/'code')
    env = {**os.environ, 'WIZARDLEARNER_RUNS_DIR': str(tmp/'runs'), 'WIZARDLEARNER_REPORTS_DIR': str(tmp/'reports'),
           'WIZARDLEARNER_DATA_CARDS_DIR': str(tmp/'cards')}
    cmd = [str(BIN/'wizardlearner'), 'cook', '--preset', 'smoke', '--only', 'corpus,dedup', '--set', 'corpus.source=dir',
           '--set', f"corpus.path={tmp/'code'}", '--set', 'dedup.quality_min_pairs=0']
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return dict(tmp=tmp, proc=p, planted=planted, runs=tmp/'runs'/'smoke')


def manifest(d: Path) -> dict: return json.loads((d/'manifest.json').read_text())


def test_cook_exits_0(cooked):
    p = cooked['proc']
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]


def test_secrets_went_down_every_path(cooked):
    "The planted files were kept, dropped by a rule and shown as examples, or dropped by dedup, as the test needs."
    m = manifest(cooked['runs']/'corpus')
    led = m['ledgers']['files']
    assert led['n_kept'] == 4 and led['n_in'] == 7, led                     # service, deploy, compose, mirror copy
    shown = {fid: excerpt for exs in m['drop_examples'].values() for fid, excerpt in exs}
    assert {'app/service_pb2.py', 'app/wide.js', 'app/leak.py'} <= set(shown), m['drop_examples'].keys()
    assert 'AWS_ACCESS_KEY_ID = "<KEY>"' in shown['app/service_pb2.py'] and 'const KEY = `<KEY>`;' in shown['app/wide.js']
    assert m['rule_files'].get('autogenerated') == 1 and m['rule_files'].get('contaminated_humaneval') == 1, m['rule_files']
    d = manifest(cooked['runs']/'dedup')['ledgers']['files']
    assert d['dropped'].get('exact_duplicate') == 1, d


def test_every_kind_redacted_and_counted(cooked):
    "Each kind was found in the kept files and counted in the manifest: the placeholders stand where the secrets were."
    pii = manifest(cooked['runs']/'corpus')['pii']
    assert all(pii[k] >= 1 for k in ('email', 'ip_address', 'key', 'password', 'slack_token', 'auth_token', 'url_password')), pii
    recs = {r['id']: r for r in iter_rows(cooked['runs']/'corpus'/'files')}
    svc = recs['app/service.py']['content']
    assert 'postgres://admin:<PASSWORD>@db.internal:5432/app' in svc and '"Bearer <KEY>"' in svc and 'def total_value(items):' in svc
    assert 'export DB_PASSWORD=<PASSWORD>' in recs['app/deploy.sh']['content']


def test_no_secret_in_reports_cards_or_runs(cooked):
    "No planted secret, nor a piece of one, in any file under the reports, data cards or runs folders."
    tmp = cooked['tmp']
    for must in ('runs/smoke/corpus/manifest.json', 'runs/smoke/dedup/manifest.json', 'reports/smoke/01_corpus.ipynb',
                 'reports/smoke/02_dedup.ipynb', 'cards/smoke/corpus.md'): assert (tmp/must).is_file(), must
    files = {}   # resolved path -> how it is reached (a stage folder may be a link to its run's folder)
    for d in ('reports', 'cards', 'runs'):
        for dirpath, _, fns in os.walk(tmp/d, followlinks=True):
            for fn in fns: files.setdefault((Path(dirpath)/fn).resolve(), (Path(dirpath)/fn).relative_to(tmp).as_posix())
    texts = {name: readable(p) for p, name in files.items()}
    ip = lambda v: re.compile(r'(?<![\w.:])' + re.escape(v) + r'(?![\w.:])')
    leaks = []
    for fid, sec in cooked['planted'].items():
        for kind, v in probes(sec):
            find = ip(v).search if kind in ('ipv4', 'ipv6') else (lambda t, v=v: v in t)
            leaks += [(fid, kind, v, name) for name, t in texts.items() if find(t)]
    assert not leaks, f"{len(leaks)} leaks (a secret or a piece of one, in a stored file), e.g. " + '; '.join(f"{k} of {f} ({v!r}) in {n}" for f, k, v, n in leaks[:12])
