"""Attacks on `wizardlearner.sandbox.run_sandboxed`, the only place model-written code runs: each must fail and leave
the machine as it was. Isolation tests (network, filesystem) need bubblewrap and are skipped without it; without it
(and without WIZARDLEARNER_ALLOW_UNSANDBOXED=1) the sandbox refuses to run anything, so most tests here skip."""
import errno, os, shutil, socket, subprocess, sys, tempfile, threading, time, uuid
from pathlib import Path
import pytest
from wizardlearner.sandbox import SandboxUnavailable, run_sandboxed, run_many, sandbox_mode

ROOT = Path(__file__).resolve().parents[1]
MARGIN = 5.0  # seconds of slack over a time limit: sandbox start-up and the kill on a loaded 2-core machine


def _mode():
    try: return sandbox_mode()
    except SandboxUnavailable: return None


needs_bwrap = pytest.mark.skipif(_mode() != 'bwrap', reason='bubblewrap not installed or not usable here')


@pytest.fixture(autouse=True)
def _sandbox_or_skip(request):
    "Without bubblewrap (and without WIZARDLEARNER_ALLOW_UNSANDBOXED=1) the sandbox refuses to run programs: skip, except the tests of that refusal."
    if _mode() is None and 'no_bwrap' not in request.fixturenames:
        pytest.skip('no bubblewrap and WIZARDLEARNER_ALLOW_UNSANDBOXED unset: the sandbox refuses to run programs')


def marked(program):
    "`program` re-executed with a unique tag on its command line (the sandbox passes the source on stdin), so its processes can be found afterwards."
    tag = f"wl-attack-{uuid.uuid4().hex}"
    return f"import os, sys\nos.execv(sys.executable, [sys.executable, '-I', '-c', {program!r}, {tag!r}])", tag


def procs_with(tag):
    "Pids of live processes whose command line contains `tag`."
    found = []
    for d in Path('/proc').iterdir():
        if d.name.isdigit():
            try:
                if tag.encode() in (d/'cmdline').read_bytes(): found.append(int(d.name))
            except OSError: pass
    return found


def test_normal_program_passes_and_returns_stdout():
    r = run_sandboxed('import math\nprint(math.factorial(10))')
    assert (r.status, r.passed, r.returncode, r.stdout) == ('passed', True, 0, '3628800\n')


def test_failures_are_failed():
    assert run_sandboxed('import sys; sys.exit(1)').status == 'failed'
    r = run_sandboxed('def f(x): return x + 1\nassert f(1) == 3, "wrong"')
    assert r.status == 'failed' and not r.passed and 'AssertionError: wrong' in r.stderr
    assert run_sandboxed('this is not python').status == 'failed'


def test_run_many_keeps_order():
    rs = run_many([f'print({i})' for i in range(6)], workers=2)
    assert [r.stdout for r in rs] == [f'{i}\n' for i in range(6)]


def test_infinite_loop_times_out_and_its_processes_are_gone():
    prog, tag = marked('import os\nos.fork()\nwhile True: pass')  # a child too: the whole group must go
    t0 = time.time()
    r = run_sandboxed(prog, timeout_s=1.0)
    assert r.status == 'timeout' and r.returncode is None
    assert time.time() - t0 < 1.0 + MARGIN
    time.sleep(0.2)
    assert procs_with(tag) == []


def test_escaping_the_process_group_does_not_escape_the_kill():
    prog, tag = marked('import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nwhile True: pass')
    r = run_sandboxed(prog, timeout_s=1.0)
    assert r.status == 'timeout'
    time.sleep(0.3)
    if sandbox_mode() == 'bwrap': assert procs_with(tag) == []  # the PID namespace dies with its first process


def test_memory_bomb_fails_and_machine_is_fine():
    r = run_sandboxed('x = bytearray(8 << 30)', memory_mb=512)
    assert r.status == 'failed' and 'MemoryError' in r.stderr
    # the limit, not the clock, stops a growing program: it fails with MemoryError long before its 30 s timeout
    r = run_sandboxed('blocks = []\nwhile True: blocks.append(bytearray(50 << 20))', memory_mb=512, timeout_s=30.0)
    assert r.status == 'failed' and 'MemoryError' in r.stderr
    assert run_sandboxed('print(len(bytearray(100 << 20)))', memory_mb=512).stdout == f'{100 << 20}\n'


def test_fork_bomb_fails_quickly_and_leaves_no_processes():
    prog, tag = marked('import os\nwhile True:\n    os.fork()')
    t0 = time.time()
    r = run_sandboxed(prog, timeout_s=3.0)
    assert r.status in ('failed', 'timeout') and time.time() - t0 < 3.0 + MARGIN
    prog2, tag2 = marked('import os\nwhile True:\n    try: os.fork()\n    except OSError: pass')  # a bomb that survives EAGAIN
    r2 = run_sandboxed(prog2, timeout_s=2.0)
    assert r2.status == 'timeout'
    time.sleep(0.3)
    assert procs_with(tag) == [] and procs_with(tag2) == []
    assert run_sandboxed('print("still fine")').stdout == 'still fine\n'


def test_process_limit_binds():
    if os.geteuid() != 0: pytest.skip('the uid drop is what makes RLIMIT_NPROC bind; only tested as root')
    r = run_sandboxed('import os\nn = 0\ntry:\n    while n < 500:\n        if os.fork() == 0:\n            import time; time.sleep(5)\n'
                      '        n += 1\nexcept OSError: pass\nprint(n)', max_procs=16, timeout_s=3.0)
    assert r.stdout.strip() and int(r.stdout.split()[0]) < 16


@needs_bwrap
def test_no_network_even_to_the_hosts_loopback():
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1); srv.settimeout(4.0)
    port = srv.getsockname()[1]
    got = []
    def accept():
        try: got.append(srv.accept())
        except OSError: pass
    th = threading.Thread(target=accept); th.start()
    r = run_sandboxed(f'import socket\ns = socket.create_connection(("127.0.0.1", {port}), timeout=2)\ns.sendall(b"leak")\nprint("connected")')
    r2 = run_sandboxed('import socket\nsocket.create_connection(("1.1.1.1", 53), timeout=2)\nprint("connected")')
    srv.close(); th.join()
    assert r.status == 'failed' and 'connected' not in r.stdout, r
    assert got == [], 'the host listener received a connection from the sandbox'
    assert r2.status == 'failed' and 'connected' not in r2.stdout
    assert 'unreachable' in r2.stderr or 'OSError' in r2.stderr


@needs_bwrap
def test_writes_outside_the_scratch_dir_do_not_reach_the_host():
    name = f"wl-escape-{uuid.uuid4().hex}"
    r = run_sandboxed(f'open("/tmp/{name}", "w").write("x")')  # the sandbox's /tmp is a private tmpfs
    assert not Path(f'/tmp/{name}').exists()
    r = run_sandboxed(f'open({str(ROOT/name)!r}, "w").write("x")')
    assert r.status == 'failed' and not (ROOT/name).exists()
    r = run_sandboxed(f'import os\nos.makedirs({str(Path.home()/name)!r})')
    assert r.status == 'failed' and not (Path.home()/name).exists()
    r = run_sandboxed('import os\nos.remove("/etc/hostname")')
    assert r.status == 'failed' and Path('/etc/hostname').exists()


def test_scratch_dir_is_writable_and_removed():
    name = f"wl-scratch-{uuid.uuid4().hex}"
    r = run_sandboxed(f'import os\nopen("{name}", "w").write("hi")\nprint(os.getcwd())')
    assert r.passed and r.stdout.strip()
    assert not (Path(r.stdout.strip())/name).exists()   # bwrap: a private tmpfs on /tmp; fallback: a scratch dir, removed


def test_callers_environment_is_invisible(monkeypatch):
    monkeypatch.setenv('WL_SECRET', 'hunter2-sandbox-test')
    r = run_sandboxed('import os, glob\nprint(os.environ.get("WL_SECRET"))\n'
                      'hits = []\nfor p in glob.glob("/proc/*/environ"):\n    try:\n        if b"hunter2" in open(p, "rb").read(): hits.append(p)\n'
                      '    except OSError: pass\nprint(hits)')
    assert r.passed and r.stdout == 'None\n[]\n', r


def test_root_only_files_are_unreadable():
    if os.geteuid() != 0 or not Path('/etc/shadow').exists(): pytest.skip('needs root and /etc/shadow')
    r = run_sandboxed('import os\nprint(os.getuid(), os.geteuid())\nprint(open("/etc/shadow").read()[:10])')
    assert r.status == 'failed' and '0' not in r.stdout.split()   # an unprivileged uid...
    assert 'PermissionError' in r.stderr or 'FileNotFoundError' in r.stderr   # ...and, under bwrap, no /etc/shadow at all


@pytest.fixture
def no_bwrap(monkeypatch):
    "The sandbox module as if bubblewrap were not installed."
    import wizardlearner.sandbox as sb
    monkeypatch.setattr(sb, '_MODE', {})
    which = shutil.which
    monkeypatch.setattr(sb.shutil, 'which', lambda name, *a, **k: None if name == 'bwrap' else which(name, *a, **k))
    return sb


def test_without_bubblewrap_it_refuses_unless_allowed(no_bwrap, monkeypatch):
    sb = no_bwrap
    monkeypatch.delenv('WIZARDLEARNER_ALLOW_UNSANDBOXED', raising=False)
    for call in (sb.sandbox_mode, lambda: sb.run_sandboxed('print(1)'), lambda: sb.run_many(['print(1)'] * 2)):
        with pytest.raises(SandboxUnavailable, match='not installed') as e: call()
        assert 'apt-get install bubblewrap' in str(e.value) and 'WIZARDLEARNER_ALLOW_UNSANDBOXED=1' in str(e.value)


FALLBACK = """import shutil, warnings, wizardlearner.sandbox as sb
which = shutil.which
sb.shutil.which = lambda name, *a, **k: None if name == 'bwrap' else which(name, *a, **k)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    print(sb.sandbox_mode(), any('isolation are OFF' in str(x.message) for x in w))
print(sb.run_sandboxed('import os; print(os.getuid())').stdout.strip())
r = sb.run_sandboxed('x = bytearray(4 << 30)', memory_mb=512); print(r.status, 'MemoryError' in r.stderr)
print(sb.run_sandboxed('while True: pass', timeout_s=1.0).status)
print(sb.run_sandboxed("import sys; sys.exit(0)\\nprint(1)").status)"""


def test_allowed_fallback_still_limits_and_is_never_root(no_bwrap, monkeypatch):
    sb = no_bwrap
    monkeypatch.setenv('WIZARDLEARNER_ALLOW_UNSANDBOXED', '1')
    if os.geteuid() == 0 and not all(map(sb._traversable, sb._python_paths())):
        # this interpreter (e.g. a pyenv under /root) is unreachable for an unprivileged uid: refuse, never run as root
        with pytest.raises(SandboxUnavailable, match='would run as root'): sb.sandbox_mode()
        py = next((p for p in ('/usr/bin/python3', '/usr/local/bin/python3') if Path(p).exists()), None)  # one any user can read
        if py is None or subprocess.run([py, '-c', 'import sys; assert sys.version_info >= (3, 10)']).returncode:
            pytest.skip('no Python 3.10+ readable by other users to run the fallback with')
    else: py = sys.executable
    p = subprocess.run([py, '-c', FALLBACK], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), WIZARDLEARNER_ALLOW_UNSANDBOXED='1'))
    assert p.returncode == 0, p.stderr[-2000:]
    mode, uid, bomb, loop, early = p.stdout.splitlines()
    assert mode == 'limits-only True'                  # opted in, and warned loudly
    assert int(uid) != 0 and (os.geteuid() == 0 or int(uid) == os.geteuid())   # root drops to an unprivileged uid
    assert bomb == 'failed True' and loop == 'timeout' and early == 'failed'


def test_checkout_and_home_are_invisible():
    if _mode() != 'bwrap': pytest.skip('filesystem isolation needs bubblewrap')
    tag = uuid.uuid4().hex
    planted = [ROOT/f'wl-planted-{tag}.txt', Path.home()/f'wl-planted-{tag}.txt']
    for f in planted: f.write_text(f'secret-{tag}')
    try:
        files = [ROOT/'.git'/'config', ROOT/'settings.ini', ROOT/'pyproject.toml', ROOT/'nbs'/'00c_sandbox.ipynb', *planted]
        r = run_sandboxed(f"""import os
for f in {[str(f) for f in files]!r}:
    try: print('READ', f, open(f).read()[:20])
    except OSError as e: print(type(e).__name__)
print(sorted(os.listdir({str(ROOT)!r})) if os.path.isdir({str(ROOT)!r}) else [])""")
    finally:
        for f in planted: f.unlink()
    assert r.passed, r.stderr
    *opened, listing = r.stdout.splitlines()
    assert opened == ['FileNotFoundError'] * len(files), r.stdout
    assert f'secret-{tag}' not in r.stdout and 'nbs' not in listing and 'settings.ini' not in listing


def test_tmp_is_writable_and_capped():
    if _mode() != 'bwrap': pytest.skip('the capped /tmp needs bubblewrap')
    r = run_sandboxed("""import errno, os, tempfile
with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f: f.write('temp ok')
print(f.name.startswith('/tmp/'), open(f.name).read() == 'temp ok')
open('/tmp/plain.txt', 'w').write('x'); open('/dev/shm/x', 'w').write('x')
st = os.statvfs('/tmp'); print(st.f_blocks * st.f_frsize >> 20)
mounts = [l.split() for l in open('/proc/self/mountinfo')]
print([m[m.index('-') + 1] for m in mounts if m[4] == '/tmp'])
n = 0
try:
    with open('/tmp/fill', 'wb') as g:
        while True: g.write(b'x' * (1 << 20)); g.flush(); n += 1
except OSError as e: print(errno.errorcode[e.errno], n)""", tmpfs_mb=12, max_file_mb=64)
    assert r.passed, r.stderr
    tmp_ok, cap_mb, fstype, full = r.stdout.splitlines()
    assert tmp_ok == 'True True' and cap_mb == '12' and fstype == "['tmpfs']"   # in memory, never on the host's disk
    code, n = full.split()
    assert code == 'ENOSPC' and int(n) <= 12                                    # the cap stops it, not the host disk


MBPP_TEMPFILE = """import os, tempfile
def count_lines(path):
    with open(path) as f: return sum(1 for _ in f)
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, 'data.txt')
    with open(p, 'w') as f: f.write('a\\nb\\nc\\n')
    assert count_lines(p) == 3
with tempfile.TemporaryFile() as f:
    f.write(b'xyz'); f.seek(0); assert f.read() == b'xyz'
"""
MBPP_POOL = """from multiprocessing import Pool
from concurrent.futures import ProcessPoolExecutor
def square(x): return x * x
if __name__ == '__main__':
    with Pool(2) as p: assert p.map(square, range(6)) == [0, 1, 4, 9, 16, 25]
    with ProcessPoolExecutor(2) as ex: assert list(ex.map(square, range(4))) == [0, 1, 4, 9]
    print('pools ok')
"""


def test_mbpp_style_programs_with_temp_files_and_process_pools_pass():
    rs = run_many([MBPP_TEMPFILE, MBPP_POOL], timeout_s=20.0)
    assert [r.status for r in rs] == ['passed', 'passed'], [r.stderr[-500:] for r in rs]
    assert rs[1].stdout == 'pools ok\n'


def test_venv_under_tmp_is_the_interpreter_used():
    if _mode() != 'bwrap': pytest.skip('needs bubblewrap')
    top = Path(tempfile.mkdtemp(prefix='wl-cijob-', dir='/tmp'))   # mode 0700, like pytest's /tmp/pytest-of-root
    try:
        venv = top/'main'/'.venv'
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', '--system-site-packages', str(venv)], check=True, timeout=120)
        p = subprocess.run([str(venv/'bin'/'python'), '-c', "from wizardlearner.sandbox import run_sandboxed\n"
                            "r = run_sandboxed('import sys; print(sys.prefix, sys.executable)', site=True)\nprint(r.status, r.stdout.strip(), r.stderr[-300:])\n"
                            "r = run_sandboxed('import sys; print(sys.executable)')\nprint(r.status, r.stdout.strip())"],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert p.returncode == 0, p.stderr[-2000:]
        assert p.stdout.split()[:3] == ['passed', str(venv), str(venv/'bin'/'python')], p.stdout   # the venv, not the base Python
        assert p.stdout.split()[-2:] == ['passed', str(venv/'bin'/'python')], p.stdout   # a stdlib-only program (no site): the same interpreter
    finally:
        shutil.rmtree(top, ignore_errors=True)


EXITS = {'sys.exit(0)': 'import sys\nsys.exit(0)', 'exit()': 'exit()', 'quit()': 'quit()', 'raise SystemExit': 'raise SystemExit',
         'os._exit(0)': 'import os\nos._exit(0)'}
TESTS = '\ndef add(a, b): return a + b\nassert add(2, 3) == 5\nprint("tests ran")\n'


def test_early_exits_kills_and_forged_markers_fail():
    leave = [*EXITS.values(), 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)',   # killed
             'import os, sys\nsys.stdout.flush()\nos.close(1)',                           # closed stdout, then runs on
             'import sys\nsys.stdout.close()',
             'print("\\nWL-END-" + "0" * 32)\nraise SystemExit',                          # a forged marker
             'print("WIZARDLEARNER-DOCTEST-OK-0123456789abcdef")\nimport sys; sys.exit(0)',
             'import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print("late"))).start()\n'
             'import os\nos._exit(0)']
    rs = run_many([pre + TESTS for pre in leave] + [TESTS], timeout_s=10.0)
    assert [r.status for r in rs[:-1]] == ['failed'] * len(leave), [(r.returncode, r.stderr[-200:]) for r in rs]
    assert [r.returncode for r in rs[:len(EXITS)]] == [0] * len(EXITS)     # each exit said "success"...
    assert all('did not run to its end' in r.stderr for r in rs[:len(EXITS)])   # ...and was caught by the marker
    assert all('tests ran' not in r.stdout for r in rs[:-1])
    assert (rs[-1].status, rs[-1].stdout) == ('passed', 'tests ran\n')


def test_marker_is_not_in_argv_env_stdin_or_files():
    r = run_sandboxed("""import glob, os, sys
seen = []
for f in glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ'):
    try: seen.append(open(f, 'rb').read())
    except OSError: pass
for d in ('/tmp', '/dev/shm', os.environ.get('HOME', '/tmp')):
    for root, dirs, names in os.walk(d):
        if root.startswith((sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable)))):   # the interpreter,
            dirs[:] = []; continue                     # bound in (a venv under /tmp; without site, sys.prefix is the base's)
        for n in names:
            try: seen.append(open(os.path.join(root, n), 'rb').read(1 << 20))
            except OSError: pass
print(len(seen) > 0, sum(b'WL-END-' in s for s in seen), repr(sys.stdin.read()), os.read(0, 100))""")
    assert r.passed and r.stdout == "True 0 '' b''\n", r
    assert 'WL-END-' not in r.stdout


def test_output_longer_than_kept_still_counts_its_marker():
    r = run_sandboxed('print("x" * 200_000)', max_output_kb=4)
    assert r.passed and len(r.stdout) == 4 << 10


def test_program_cannot_raise_its_limits():
    "The harness sets the rlimits (soft = hard) before the program runs; a program without privileges cannot raise them back."
    raise_all = """import resource
for k in ('CPU', 'AS', 'FSIZE', 'NPROC'):
    r = getattr(resource, 'RLIMIT_' + k)
    soft, hard = resource.getrlimit(r)
    assert soft == hard != resource.RLIM_INFINITY, (k, soft, hard)
    try: resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)); print('RAISED', k)
    except (ValueError, OSError): print('kept', k)
x = bytearray(900 << 20)"""
    r = run_sandboxed(raise_all, memory_mb=512)
    assert r.stdout.split() == ['kept', 'CPU', 'kept', 'AS', 'kept', 'FSIZE', 'kept', 'NPROC'], r
    assert r.status == 'failed' and 'MemoryError' in r.stderr     # and the 512 MB limit still binds after trying
