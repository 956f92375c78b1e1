"""The lesson cells of every chapter (nbdev-test), and the notebooks' and library's agreement."""
import subprocess, sys
from pathlib import Path
from conftest import readme_block

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_lesson_cells_pass():
    "Every notebook's lesson cells run and their assertions hold (run sections are `notest`, covered by test_cook)."
    p = subprocess.run([str(BIN/'nbdev-test'), '--n-workers', '2'], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-6000:]


def test_every_chapter_has_parameters_cell_and_notest_run_section():
    "papermill needs a `parameters` cell; the Run section calls the exported `run` (a training chapter through `run_stage`, which may launch it on N processes) and nbdev-test must not run it (it needs upstream outputs)."
    import nbformat
    from wizardlearner.core import CHAPTERS, TRAINING_STAGES
    for ch in CHAPTERS:
        nb = nbformat.read(ROOT/'nbs'/ch.notebook, as_version=4)
        tags = [c.metadata.get('tags', []) for c in nb.cells]
        assert sum('parameters' in t for t in tags) == 1, f"{ch.notebook}: needs exactly one cell tagged `parameters`"
        heads = [i for i, c in enumerate(nb.cells) if c.cell_type == 'markdown' and c.source.startswith('## Run')]
        assert heads, f"{ch.notebook}: has no '## Run' section"
        run_code = [c for c in nb.cells[heads[0]:] if c.cell_type == 'code' and not c.source.startswith('#| export')]
        # a training chapter goes through `run_stage`, which runs it here or launches it on N processes; the others call `run`
        call = f"run_stage('{ch.stage}', preset, overrides)" if ch.stage in TRAINING_STAGES else 'run(preset, overrides)'
        calls = [i for i, c in enumerate(run_code) if call in c.source]
        assert calls, f"{ch.notebook}: the Run section must call `{call}`"
        # lessons on toy data may sit between the Run section's exported steps; the run and what shows its outputs may not
        assert all('#| notest' in c.source for c in run_code[calls[0]:]), f"{ch.notebook}: the cell calling `run` and every cell after it must be `#| notest`"


def test_readme_is_rendered_from_index():
    "README.md is generated from nbs/index.ipynb; edit the notebook, then run `wizardlearner readme`."
    from wizardlearner.cook import render_readme
    assert (ROOT/'README.md').read_text() == render_readme(ROOT/'nbs'/'index.ipynb')


def test_readme_showcase_quotes_the_committed_cpu_cook():
    "The README's `cpu` numbers (time per chapter, bits per byte, the decay) are `showcase_markdown()` of `reports/cpu/`: never typed by hand."
    from wizardlearner.cook import SHOWCASE_END, SHOWCASE_START, showcase_markdown
    block = readme_block(SHOWCASE_START, SHOWCASE_END)
    assert block == showcase_markdown('cpu'), 'the showcase is stale: run fill_showcase on nbs/index.ipynb after cooking cpu'
    assert 'bits per byte' in block and 'pretrain' in block
