"""The locked environment (requirements.lock): complete, pinned, hashed, and the one the tests run in."""
import importlib.metadata, platform, re, sys, tomllib
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s]+) --hash=sha256:([0-9a-f]{64})$')

def _norm(name: str) -> str: return re.sub(r'[-_.]+', '-', name).lower()

def _lock() -> tuple[dict, str]:
    pins, env = {}, None
    for line in (ROOT/'requirements.lock').read_text().splitlines():
        if line.startswith('# environment: python '): env = line.removeprefix('# environment: python ')
        if not line or line.startswith('#'): continue
        m = LINE.match(line)
        assert m, f"requirements.lock: {line!r} is not `name==version --hash=sha256:<hex>`"
        assert _norm(m[1]) not in pins, f"requirements.lock pins {m[1]} twice"
        pins[_norm(m[1])] = m[2]
    return pins, env

def test_lock_pins_every_dependency_with_a_hash():
    pins, env = _lock()
    assert env and re.fullmatch(r'\d+\.\d+ \w+ \w+', env), "requirements.lock has no `# environment: python X.Y os arch` line"
    proj = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']
    wanted = proj['dependencies'] + proj['optional-dependencies']['dev']
    names = {_norm(re.split(r'[<>=!~\[; ]', r, maxsplit=1)[0]) for r in wanted}
    missing = sorted(names - set(pins))
    assert not missing, f"pyproject asks for {missing}, which requirements.lock does not pin: run `bash setup.sh --relock`"
    assert 'torch' in pins and 'wizardlearner' not in pins

def test_this_environment_is_the_locked_one():
    pins, env = _lock()
    here = f"{sys.version_info[0]}.{sys.version_info[1]} {platform.system().lower()} {platform.machine()}"
    if here != env: pytest.skip(f"requirements.lock is for python {env}, this is {here}: setup.sh installed pyproject's ranges")
    wrong = {}
    for name, version in pins.items():
        try: got = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError: got = None
        if got != version: wrong[name] = (version, got)
    assert not wrong, f"installed versions differ from requirements.lock (locked, installed): {wrong}; run `bash setup.sh`"
