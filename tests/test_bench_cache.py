"""In-chapter benchmarks are cached by what they measure: a cook that changed neither the code, the inputs, the settings
nor the machine reuses the last numbers; `cook --bench` (WIZARDLEARNER_BENCH=1) re-measures."""
import json
import pytest
from wizardlearner.core import BENCH_ENV, cached_benchmark


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv('WIZARDLEARNER_RUNS_DIR', str(tmp_path))
    monkeypatch.delenv(BENCH_ENV, raising=False)
    return tmp_path


def bench(calls, inputs='abc', settings=None, modules=('filters',)):
    def measure():
        calls.append(1)
        return {'name': 'demo', 'results': {'x': {'value': float(len(calls))}}}
    return cached_benchmark('smoke', 'demo', measure, modules=modules, inputs=inputs, settings=settings or {'workers': 2})


def test_same_code_inputs_settings_reuse_the_measurement(runs):
    calls = []
    first = bench(calls)
    again = bench(calls)
    assert len(calls) == 1, 'the second call measured again'
    assert again['results'] == first['results'] and 'cached_from' in again['notes']
    rec = json.loads((runs/'smoke'/'benchmarks'/'demo.json').read_text())
    assert rec['record']['results'] == first['results']


@pytest.mark.parametrize('change', [dict(inputs='abd'), dict(settings={'workers': 1}), dict(modules=('filters', 'pii'))])
def test_changed_inputs_settings_or_code_measure_again(runs, change):
    calls = []
    bench(calls)
    bench(calls, **change)
    assert len(calls) == 2, change


def test_bench_flag_measures_again(runs, monkeypatch):
    calls = []
    bench(calls)
    monkeypatch.setenv(BENCH_ENV, '1')
    bench(calls)
    assert len(calls) == 2
