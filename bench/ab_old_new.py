#!/usr/bin/env python
"""Same-process A/B of the library at an old commit against the working tree: forward+grad of the
main losses, interleaved repeats, medians. A ratio new/old above 1 is a regression.

    python bench/ab_old_new.py [REF]     # default REF: 8de4ce6 (before the layout and speed work)

The old package is `git archive`d into a temporary folder and imported as `sl_old` (its modules
import each other relatively). Both are jitted in this process, on the same inputs, under the
thread setting of `bench/_timing.py` (`--threads single`: one pinned core, the default here).
Stores bench/results/ab_old_new.txt."""
import argparse, io, os, subprocess, sys, tarfile, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _timing import set_threads  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('ref', nargs='?', default='8de4ce6')
ap.add_argument('--threads', default='single', choices=('single', 'default'))
ap.add_argument('--repeats', type=int, default=9)
ARGS = ap.parse_args()
set_threads(ARGS.threads)

import numpy as np  # noqa: E402
import jax, jax.numpy as jnp  # noqa: E402

ROOT = os.path.dirname(HERE)
tmp = tempfile.mkdtemp()
tar = subprocess.run(['git', 'archive', ARGS.ref, 'spectral_losses'], cwd=ROOT, capture_output=True,
                     check=True).stdout
tarfile.open(fileobj=io.BytesIO(tar)).extractall(tmp)
os.rename(os.path.join(tmp, 'spectral_losses'), os.path.join(tmp, 'sl_old'))
sys.path.insert(0, tmp)
sys.path.insert(0, ROOT)
import sl_old.losses as OL, sl_old.stft_ot as OS, sl_old.multires as OM  # noqa: E402
import spectral_losses.spectral_ot as NSW, spectral_losses.ot1d as NO  # noqa: E402
import spectral_losses.stft_ot as NS, spectral_losses.multires as NM  # noqa: E402

r = np.random.default_rng(0)
sig = lambda b, t: [jnp.asarray(r.standard_normal((b, t)), jnp.float32) for _ in range(2)]
x16, y16 = sig(16, 16000)
x4, y4 = sig(4, 48000)
pos = lambda: jnp.asarray(r.standard_normal((4097, 64)), jnp.float32)
mass = lambda: jnp.asarray(np.abs(r.standard_normal((4097, 64))), jnp.float32)
u1, v1, a1, b1 = pos(), pos(), mass(), mass()
grid = jnp.linspace(0, 1, 4097, dtype=jnp.float32)
CASES = {  # name: (old function, new function, inputs)
    'spectral_wasserstein p=1, 16 x 16000': (
        lambda x, y: OL.spectral_wasserstein(x, y, p=1),
        lambda x, y: NSW.spectral_wasserstein(x, y, p=1), (x16, y16)),
    'spectral_wasserstein p=2, 16 x 16000': (
        lambda x, y: OL.spectral_wasserstein(x, y, p=2),
        lambda x, y: NSW.spectral_wasserstein(x, y, p=2), (x16, y16)),
    'stft_wasserstein, 16 x 16000': (
        OS.stft_wasserstein, NS.stft_wasserstein, (x16, y16)),
    "multi_resolution_stft_loss 'pwg', 16 x 16000": (
        OM.multi_resolution_stft_loss, NM.multi_resolution_stft_loss, (x16, y16)),
    "multi_resolution_stft_loss 'ddsp', 4 x 48000": (
        lambda x, y: OM.multi_resolution_stft_loss(x, y, 'ddsp'),
        lambda x, y: NM.multi_resolution_stft_loss(x, y, 'ddsp'), (x4, y4)),
    "multi_resolution_stft_loss 'smooth', 4 x 48000": (
        lambda x, y: OM.multi_resolution_stft_loss(x, y, 'smooth'),
        lambda x, y: NM.multi_resolution_stft_loss(x, y, 'smooth'), (x4, y4)),
    'wasserstein_1d p=2, separate supports, 64 x 4097': (
        lambda a, b: OL.wasserstein_1d(u1, v1, a, b, p=2),
        lambda a, b: NO.wasserstein_1d(u1, v1, a, b, p=2), (a1, b1)),
    'wasserstein_1d p=1, shared sorted grid, 64 x 4097': (
        lambda a, b: OL.wasserstein_1d(grid, grid, a, b, p=1),
        lambda a, b: NO.wasserstein_1d(grid, grid, a, b, p=1), (a1, b1)),
}


def timed(f, args, n):
    t0 = time.perf_counter()
    for _ in range(n): jax.block_until_ready(f(*args))
    return (time.perf_counter() - t0) / n


lines = [f"A/B, forward+grad, {ARGS.threads} threads, median of {ARGS.repeats} interleaved repeats; "
         f"old = {ARGS.ref}, new = working tree; jax {jax.__version__}"]
print(lines[0], flush=True)
for name, (fo, fn, args) in CASES.items():
    fs = {k: jax.jit(jax.value_and_grad(lambda x, y, f=f: jnp.sum(f(x, y))))
          for k, f in (('old', fo), ('new', fn))}
    vals = {k: float(jax.block_until_ready(f(*args))[0]) for k, f in fs.items()}
    n = 1
    while timed(fs['new'], args, n) * n < 0.15: n *= 2
    ts = {k: [] for k in fs}
    for rep in range(ARGS.repeats):
        for k in (('old', 'new') if rep % 2 else ('new', 'old')):
            ts[k].append(timed(fs[k], args, n))
    mo, mn = np.median(ts['old']), np.median(ts['new'])
    rd = abs(vals['new'] - vals['old']) / max(abs(vals['old']), 1e-30)
    line = (f"{name:52s} old {1e3 * mo:8.2f} ms  new {1e3 * mn:8.2f} ms  new/old {mn / mo:5.2f}"
            f"  value rel.diff {rd:.1e}")
    print(line, flush=True)
    lines.append(line)
os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
with open(os.path.join(HERE, 'results', 'ab_old_new.txt'), 'w') as f: f.write('\n'.join(lines) + '\n')
