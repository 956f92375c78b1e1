"""`--emulate-avx2` for the benchmark scripts: run the script again with the math libraries capped at AVX2
(`wizardlearner.core.AVX2_ONLY_ENV`), as an AVX2-only CPU would compute."""
import os, sys


def rerun_capped(argv=None) -> None:
    "Replace this process by the same script and arguments with the caps set (the libraries read them when they load); a no-op once they are."
    from wizardlearner.core import AVX2_ONLY_ENV, isa_cap
    if isa_cap() == 'avx2': return
    args = sys.argv[1:] if argv is None else list(argv)
    os.execve(sys.executable, [sys.executable, sys.argv[0], *args], {**os.environ, **AVX2_ONLY_ENV})
