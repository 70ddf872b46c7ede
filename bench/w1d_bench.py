"""Speed of `spectral_losses.wasserstein_1d` against POT's `ot.wasserstein_1d` on JAX arrays (both jitted, same process).

    python bench/w1d_bench.py [--batch 1024] [--bins 1025] [--repeats 7]

Cases (float32): p = 2 and p = 1, on one shared sorted support (spectra; POT gets `require_sort=False` there, its
fastest setting) and on separate random supports (both sort). Forward and forward+grad (gradient with respect to both
weight arrays). Each timing is the median of `--repeats` runs of a loop of at least 0.2 s; ours and POT are timed
back to back for each case (not interleaved: bench/run_all.py interleaves), so run it on a quiet machine. Compile time is reported separately. XLA's CPU runtime is left
at its default threading (2 cores here); the line `threads:` says so.
"""
import argparse, os, platform, sys
import numpy as np
import jax, jax.numpy as jnp
import ot
from spectral_losses.losses import wasserstein_1d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import timeit  # noqa: E402  (shared with run_all.py)


def cases(batch, bins, rng):
    "(name, u_values, v_values, u_weights, v_weights, shared) in POT's (n, batch) layout."
    w = lambda: jnp.asarray(rng.random((bins, batch)), jnp.float32)
    grid = jnp.asarray(np.linspace(0, 1, bins), jnp.float32)
    xs, ys = (jnp.asarray(rng.normal(size=(bins, batch)), jnp.float32) for _ in range(2))
    return [('shared sorted support', grid, grid, w(), w(), True), ('separate random supports', xs, ys, w(), w(), False)]


def main(batch=1024, bins=1025, repeats=7):
    rng = np.random.default_rng(0)
    print(f"jax {jax.__version__}, POT {ot.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), threads: XLA default")
    print(f"batch {batch} x {bins} bins, float32, median of {repeats}\n")
    print(f"{'case':26s} {'p':>3s} {'mode':13s} {'ours ms':>9s} {'POT ms':>9s} {'speed-up':>9s} {'compile s (ours/POT)':>21s}")
    results = {}
    for name, x, y, a, b, shared in cases(batch, bins, rng):
        for p in (2, 1):
            # supports are arguments, not constants, so XLA cannot sort them at compile time
            if shared:   # the same traced array for both supports: our O(n) CDF path for p = 1
                ours = lambda a, b, x, y: wasserstein_1d(x, x, a, b, p=p, require_sort=False)
                pot = lambda a, b, x, y: ot.wasserstein_1d(jnp.broadcast_to(x[:, None], a.shape), jnp.broadcast_to(x[:, None], b.shape), a, b, p=p, require_sort=False)
            else:
                ours = lambda a, b, x, y: wasserstein_1d(x, y, a, b, p=p)
                pot = lambda a, b, x, y: ot.wasserstein_1d(x, y, a, b, p=p)
            np.testing.assert_allclose(np.asarray(ours(a, b, x, y)), np.asarray(pot(a, b, x, y)), rtol=1e-3)
            for mode in ('forward', 'forward+grad'):
                wrap = (lambda f: jax.jit(f)) if mode == 'forward' else (lambda f: jax.jit(jax.value_and_grad(lambda *args: f(*args).sum(), (0, 1))))
                (t_o, c_o), (t_p, c_p) = timeit(wrap(ours), a, b, x, y, repeats=repeats), timeit(wrap(pot), a, b, x, y, repeats=repeats)
                results[(name, p, mode)] = t_p / t_o
                print(f"{name:26s} {p:>3d} {mode:13s} {1e3 * t_o:9.2f} {1e3 * t_p:9.2f} {t_p / t_o:8.1f}x {c_o:10.2f} / {c_p:.2f}", flush=True)
    return results


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=1024); ap.add_argument('--bins', type=int, default=1025)
    ap.add_argument('--repeats', type=int, default=7)
    main(**vars(ap.parse_args()))
