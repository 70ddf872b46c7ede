#!/usr/bin/env python
"""The project's test runner (`make test`, CI): every notebook's tests, pyflakes, the tiny autoencoder
experiment (experiments/autoencoder.py all --tiny), then the docs test.

    python tools/run_tests.py            # skips cells flagged with settings.ini `tst_flags` (notest slow)
    python tools/run_tests.py slow       # also runs `#| slow` cells (same as NBDEV_FLAGS=slow)
    python tools/run_tests.py --no-docs  # notebooks only

One test = one notebook, run by nbdev's own `test_nb` with nbdev_test's skip rules (tst_flags, `#| eval: false`,
`nbdev_export(` cells, `skip_exec` front matter, `.notest` folders); the docs test is tools/check_docs.py.
Closes with the line `N passed, N failed`; exit code 1 on any failure or if no notebook was found."""
import contextlib, io, os, subprocess, sys, tempfile, time
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from nbdev.config import get_config
from nbdev.doclinks import nbglob
import nbdev.test as nbtest  # not `from nbdev.test import test_nb`: pytest would collect that name as a test


def run_nb(fn, skip_flags, force_flags, basepath):
    "Test one notebook; returns (ok, seconds, captured stderr with nbdev's traceback)."
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try: ok, secs = nbtest.test_nb(fn, skip_flags=skip_flags, force_flags=force_flags, basepath=basepath)
        except Exception as e: ok, secs = False, 0.; err.write(f'{type(e).__name__}: {e}\n')
    return ok, secs, err.getvalue()


def indent(s): return ''.join('    ' + l for l in s.rstrip().splitlines(True)) + '\n'


def main(argv):
    docs = '--no-docs' not in argv
    force = ' '.join([a for a in argv if not a.startswith('--')] + [os.environ.get('NBDEV_FLAGS', '')]).split()
    cfg = get_config()
    root, skip = cfg.config_path, cfg.tst_flags.split()
    files = [f.absolute() for f in sorted(nbglob(cfg.nbs_path, as_path=True)) if nbtest._keep_file(f, '.notest')]
    if force: print(f'running cells flagged: {" ".join(force)}')
    npass = nfail = 0
    t0 = time.time()
    if files:
        with contextlib.chdir(cfg.nbs_path):
            # a fresh process per notebook (nbdev_test reuses forked workers, so state can leak between notebooks)
            with ProcessPoolExecutor(2, mp_context=get_context('spawn'), max_tasks_per_child=1) as ex:
                res = list(ex.map(run_nb, files, [skip] * len(files), [force] * len(files), [root] * len(files)))
        for f, (ok, secs, err) in zip(files, res):
            print(f"{'PASS' if ok else 'FAIL'} {f.relative_to(root)} ({secs:.1f}s)")
            if not ok: print(indent(err or '(no traceback captured)'), end='')
            npass, nfail = npass + ok, nfail + (not ok)
        print(f'{len(files)} notebook(s) tested in {time.time() - t0:.1f}s')
    else: print(f'FAIL no notebooks found under {cfg.nbs_path}'); nfail += 1
    # the library's own code: no undefined names, no unused imports (a name a notebook's test cells
    # define would hide them from its tests)
    p = subprocess.run([sys.executable, '-m', 'pyflakes', cfg.lib_name], cwd=root, capture_output=True,
                       text=True)
    ok = p.returncode == 0
    print(f"{'PASS' if ok else 'FAIL'} pyflakes {cfg.lib_name}/")
    if not ok: print(indent(p.stdout + p.stderr), end='')
    npass, nfail = npass + ok, nfail + (not ok)
    # the autoencoder experiment's tiny configuration (issue 17): train, evaluate, real notes, sound
    # matching and the landscape, end to end in a temporary folder (< 2 minutes)
    t1 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, 'experiments/autoencoder.py', 'all', '--tiny', '--out', tmp],
                           cwd=root, capture_output=True, text=True)
    ok = p.returncode == 0
    print(f"{'PASS' if ok else 'FAIL'} experiments/autoencoder.py all --tiny ({time.time() - t1:.1f}s)")
    if not ok: print(indent((p.stdout + p.stderr)[-4000:]), end='')
    npass, nfail = npass + ok, nfail + (not ok)
    if docs:
        t1 = time.time()
        p = subprocess.run([sys.executable, str(Path(__file__).with_name('check_docs.py'))], cwd=root,
                           capture_output=True, text=True)
        ok = p.returncode == 0
        print(f"{'PASS' if ok else 'FAIL'} docs: tools/check_docs.py ({time.time() - t1:.1f}s)")
        print(indent(p.stdout + p.stderr), end='')
        npass, nfail = npass + ok, nfail + (not ok)
    print(f'{npass} passed, {nfail} failed')
    return 1 if nfail or not files else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
