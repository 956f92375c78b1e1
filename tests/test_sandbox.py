"""Attacks on `wizardlearner.sandbox.run_sandboxed`, the only place model-written code runs: each must fail and leave
the machine as it was. Isolation tests (network, filesystem) need bubblewrap and are skipped without it."""
import os, shutil, socket, threading, time, uuid
from pathlib import Path
import pytest
from wizardlearner.sandbox import run_sandboxed, run_many, sandbox_mode

ROOT = Path(__file__).resolve().parents[1]
MARGIN = 5.0  # seconds of slack over a time limit: sandbox start-up and the kill on a loaded 2-core machine
needs_bwrap = pytest.mark.skipif(shutil.which('bwrap') is None or sandbox_mode() != 'bwrap',
                                 reason='bubblewrap not installed or not usable here (sandbox runs with limits only)')


def marked(program):
    "`program` with a unique comment, so its processes can be found by command line afterwards."
    tag = f"wl-attack-{uuid.uuid4().hex}"
    return f"# {tag}\n{program}", tag


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
    r = run_sandboxed('import os\nopen("a.txt", "w").write("hi")\nprint(os.getcwd())')
    assert r.passed and r.stdout.strip()
    assert not Path(r.stdout.strip()).exists()


def test_callers_environment_is_invisible(monkeypatch):
    monkeypatch.setenv('WL_SECRET', 'hunter2-sandbox-test')
    r = run_sandboxed('import os, glob\nprint(os.environ.get("WL_SECRET"))\n'
                      'hits = []\nfor p in glob.glob("/proc/*/environ"):\n    try:\n        if b"hunter2" in open(p, "rb").read(): hits.append(p)\n'
                      '    except OSError: pass\nprint(hits)')
    assert r.passed and r.stdout == 'None\n[]\n', r


def test_root_only_files_are_unreadable():
    if os.geteuid() != 0 or not Path('/etc/shadow').exists(): pytest.skip('needs root and /etc/shadow')
    r = run_sandboxed('print(open("/etc/shadow").read()[:10])')
    assert r.status == 'failed' and 'PermissionError' in r.stderr


def test_without_bubblewrap_it_warns_and_still_limits(monkeypatch):
    import wizardlearner.sandbox as ev
    monkeypatch.setattr(ev, '_MODE', {})
    which = shutil.which
    monkeypatch.setattr(ev.shutil, 'which', lambda name, *a, **k: None if name == 'bwrap' else which(name, *a, **k))
    with pytest.warns(RuntimeWarning, match='isolation are OFF'):
        assert ev.sandbox_mode() == 'limits-only'
    r = ev.run_sandboxed('x = bytearray(4 << 30)', memory_mb=512)
    assert r.status == 'failed' and 'MemoryError' in r.stderr
    assert ev.run_sandboxed('while True: pass', timeout_s=1.0).status == 'timeout'
