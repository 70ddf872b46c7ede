#!/usr/bin/env python
"""Re-execute notebooks in place so their stored outputs (and plots) are fresh, then nbdev-clean them.

    python tools/exec_nbs.py                  # every notebook under nbs/ but the long-running ones
    python tools/exec_nbs.py --long           # also the long-running ones (front matter `long_running: true`)
    python tools/exec_nbs.py nbs/losses.ipynb # just these (long-running or not)

Every code cell runs, `#| slow`/`#| notest` ones included. Skipped: `#| eval: false` cells and cells calling
`nbdev_export(` (their old outputs are kept), notebooks with `skip_exec: true` front matter, and, unless `--long`
is given or they are named, notebooks with `long_running: true` front matter (their stored outputs, which say
when they were measured, are kept: `make docs-long` refreshes them). Each notebook runs in its own fresh process
(execnb's in-process `CaptureShell`, cwd = the notebook's folder, project root on sys.path, matplotlib's inline
backend so figures are stored as PNG outputs). On an exception the notebook is left untouched and the notebook
and cell are named."""
import argparse, os, re, sys, time, traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ['MPLBACKEND'] = 'agg'  # never an interactive window (the shell then switches to the inline backend)

from nbdev.config import get_config
from nbdev.doclinks import nbglob


def _skip(cell):
    from nbdev.process import extract_directives
    if cell.cell_type != 'code' or not cell.source.strip(): return True
    if 'nbdev_export(' in cell.source: return True
    return extract_directives(cell, remove=False).get('eval:', [''])[0].lower() == 'false'


def exec_one(fn, root, mpl_format='retina', run_long=True):
    "Run every cell of notebook `fn`, write it back and nbdev-clean it. Returns seconds taken."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.clean import nbdev_clean
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    fn, t0 = Path(fn).resolve(), time.time()
    fm = getattr(NBProcessor(fn, procs=FrontmatterProc, process=True).nb, 'frontmatter_', {})
    if str(fm.get('skip_exec', '')).lower() in ('true', '1', 'yes'): return None  # as nbdev_test does
    if not run_long and str(fm.get('long_running', '')).lower() in ('true', '1', 'yes'): return 'long'
    sys.path.insert(0, str(root))
    nb = read_nb(fn)
    with working_directory(fn.parent):
        sh = CaptureShell(fn, mpl_format=mpl_format)
        for i, cell in enumerate(nb.cells):
            if _skip(cell): continue
            sh.cell(cell)
            if sh.exc is not None:
                tb = ''.join(traceback.format_exception(type(sh.exc), sh.exc, sh.exc.__traceback__))
                code = [l for l in cell.source.splitlines() if l.strip() and not l.startswith('#|')]
                out = ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('name') == 'stdout')
                out = re.sub(r'\x1b\[[0-9;]*m', '', out).split('-' * 40)[0]  # IPython prints its traceback to stdout too
                raise RuntimeError(f"cell {i + 1} (id {cell.get('id', '?')}, `{(code or [''])[0][:70]}`) raised "
                                   f"{type(sh.exc).__name__}; notebook left unchanged\n" +
                                   (f"cell output:\n{out.rstrip()}\n" if out else '') + tb)
    write_nb(nb, fn)
    nbdev_clean.__wrapped__(fname=str(fn))
    return time.time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('nbs', nargs='*', help='notebooks to run (default: all under nbs_path)')
    p.add_argument('--n_workers', type=int, default=2)
    p.add_argument('--mpl_format', default='retina', help="matplotlib inline format: retina, png or svg")
    p.add_argument('--long', action='store_true', help='also run notebooks with `long_running: true` front matter')
    a = p.parse_args(argv)
    cfg = get_config()
    root = cfg.config_path
    files = [Path(f).resolve() for f in a.nbs] or sorted(nbglob(cfg.nbs_path, as_path=True))
    if not files: sys.exit('exec_nbs: no notebooks found')
    failed = []
    # one fresh process per notebook: no state (jax config, rcParams, imported modules) leaks between notebooks
    with ProcessPoolExecutor(a.n_workers, mp_context=get_context('spawn'), max_tasks_per_child=1) as ex:
        futs = {f: ex.submit(exec_one, f, root, a.mpl_format, a.long or bool(a.nbs)) for f in files}
        for f, fut in futs.items():
            try:
                secs = fut.result()
                msg = {None: 'skipped {} (skip_exec front matter)',
                       'long': 'kept {} (long_running: its stored outputs; `make docs-long` re-runs it)'}
                print(msg[secs].format(f.relative_to(root)) if secs in msg else
                      f'executed {f.relative_to(root)} ({secs:.1f}s)', flush=True)
            except Exception as e:
                failed.append(f)
                print(f'ERROR executing {f.relative_to(root)}:\n{e}', file=sys.stderr, flush=True)
    if failed: sys.exit(f'exec_nbs: {len(failed)} notebook(s) failed: ' + ' '.join(str(f.relative_to(root)) for f in failed))


if __name__ == '__main__': main()
