"""Reproducibility: the data chapters cooked again in a fresh folder write the same rows (same digests, ledgers and
counts), and `wizardlearner verify` says so against the session cook's record; a different record is reported."""
import json, subprocess
from conftest import ROOT, WL, cook_env, run_cook

DATA = ('corpus', 'dedup')


def _record(tmp):
    "The reproducibility record of the smoke runs under `tmp`, built in a fresh process with that folder's settings."
    code = "import json; from wizardlearner.verify import reproducibility_record; print(json.dumps(reproducibility_record('smoke')))"
    p = subprocess.run([str(ROOT/'.venv'/'bin'/'python'), '-c', code], cwd=ROOT, env=cook_env(tmp), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def test_data_chapters_twice_give_identical_rows_and_verify_says_so(smoke_book, tmp_path):
    ref_file = smoke_book['reports']/'reproducibility.json'
    ref = json.loads(ref_file.read_text())                      # written by the session's cook, beside REPORT.md
    assert set(DATA) <= set(ref['stages']) and ref['environment']['packages'] and ref['environment']['candidates']
    assert '## Reproducibility' in (smoke_book['reports']/'REPORT.md').read_text()
    p, secs = run_cook(tmp_path, '--only', 'corpus,dedup')      # the data chapters again, in a fresh folder
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    now = _record(tmp_path)
    for s in DATA:
        assert now['stages'][s]['data'] == ref['stages'][s]['data'], s       # every row, in order
        assert now['stages'][s]['ledgers'] == ref['stages'][s]['ledgers'], s
        assert now['stages'][s]['numbers'] == ref['stages'][s]['numbers'], s
    assert now['environment'] == ref['environment']
    only_data = dict(ref, stages={s: ref['stages'][s] for s in DATA})
    (tmp_path/'ref.json').write_text(json.dumps(only_data))
    v = subprocess.run([WL, 'verify', '--preset', 'smoke', '--reference', str(tmp_path/'ref.json')], cwd=ROOT,
                       env=cook_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert v.returncode == 0 and 'everything matches' in v.stdout, v.stdout + v.stderr
    bad = json.loads(json.dumps(only_data)); bad['stages']['dedup']['numbers']['instruction_pairs'] += 1
    bad['environment']['packages']['torch'] = '0.0'
    (tmp_path/'bad.json').write_text(json.dumps(bad))
    v = subprocess.run([WL, 'verify', '--preset', 'smoke', '--reference', str(tmp_path/'bad.json')], cwd=ROOT,
                       env=cook_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert v.returncode == 1 and 'dedup: instruction_pairs' in v.stdout and 'torch: 0.0 ->' in v.stdout, v.stdout
