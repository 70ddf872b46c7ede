"""Speed of `spectral_losses.wasserstein_1d` against POT's `ot.wasserstein_1d` on JAX arrays (both jitted, same process).

    python bench/w1d_bench.py [--batch 1024] [--bins 1025] [--repeats 7] [--threads default|single]

Cases (float32, POT's (n, batch) layout), p = 2 and p = 1:
* `default call, sorted 1-D support`: `wasserstein_1d(x, x, a, b, p)` exactly as POT's users call it, with the default
  `require_sort=True`, on an already sorted grid `x` shared by both measures (ours takes the 1-D grid; POT needs it
  broadcast to (n, batch), which the jitted caller does). Targets: >= 20x POT for p = 1, >= 2x for p = 2.
* `shared sorted support, require_sort=False`: the same measures with sorting switched off on both sides (POT's fastest
  setting; our O(n) CDF path for p = 1).
* `separate random supports`: both sort.
Forward and forward+grad (gradient with respect to both weight arrays). Each timing is the median of `--repeats` runs
of a loop of at least 0.2 s; ours and POT are timed back to back for each case (not interleaved: bench/run_all.py
interleaves, and its `default_call` section repeats the first case), so run it on a quiet machine. Compile time is
reported separately. Threads: `--threads default` (the stored table) leaves XLA at its default threading on all the
cores; `--threads single` pins the process to one core (see `_timing.set_threads`). The last lines say which threads
the process had and on which CPUs they could run.
"""
import argparse, os, platform, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import set_threads, timeit, thread_report, _survey  # noqa: E402  (shared with run_all.py)


def cases(batch, bins, rng):
    "(name, u_values, v_values, u_weights, v_weights, kind) in POT's (n, batch) layout."
    import numpy as np, jax.numpy as jnp
    w = lambda: jnp.asarray(rng.random((bins, batch)), jnp.float32)
    grid = jnp.asarray(np.linspace(0, 1, bins), jnp.float32)
    xs, ys = (jnp.asarray(rng.normal(size=(bins, batch)), jnp.float32) for _ in range(2))
    return [('default call, sorted 1-D support', grid, grid, w(), w(), 'default'),
            ('shared sorted, require_sort=False', grid, grid, w(), w(), 'nosort'),
            ('separate random supports', xs, ys, w(), w(), 'separate')]


def main(batch=1024, bins=1025, repeats=7, threads='default'):
    import numpy as np, jax, jax.numpy as jnp, ot
    from spectral_losses.losses import wasserstein_1d
    rng = np.random.default_rng(0)
    print(f"jax {jax.__version__}, POT {ot.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), threads: "
          + ('one core for everyone (pinned, XLA/torch/OMP one thread)' if threads == 'single' else 'XLA default, all cores'))
    print(f"batch {batch} x {bins} bins, float32, median of {repeats}\n")
    print(f"{'case':34s} {'p':>3s} {'mode':13s} {'ours ms':>9s} {'POT ms':>9s} {'speed-up':>9s} {'compile s (ours/POT)':>21s}")
    B = lambda x, w: jnp.broadcast_to(x[:, None], w.shape)   # POT needs (n, batch) supports
    results = {}
    for name, x, y, a, b, kind in cases(batch, bins, rng):
        for p in (2, 1):
            # supports are arguments, not constants, so XLA cannot sort them at compile time
            if kind == 'default':   # the call as POT's users write it: default require_sort=True
                ours = lambda a, b, x, y: wasserstein_1d(x, x, a, b, p=p)
                pot = lambda a, b, x, y: ot.wasserstein_1d(B(x, a), B(x, b), a, b, p=p)
            elif kind == 'nosort':  # the same traced array for both supports: our O(n) CDF path for p = 1
                ours = lambda a, b, x, y: wasserstein_1d(x, x, a, b, p=p, require_sort=False)
                pot = lambda a, b, x, y: ot.wasserstein_1d(B(x, a), B(x, b), a, b, p=p, require_sort=False)
            else:
                ours = lambda a, b, x, y: wasserstein_1d(x, y, a, b, p=p)
                pot = lambda a, b, x, y: ot.wasserstein_1d(x, y, a, b, p=p)
            np.testing.assert_allclose(np.asarray(ours(a, b, x, y)), np.asarray(pot(a, b, x, y)), rtol=1e-3)
            for mode in ('forward', 'forward+grad'):
                wrap = (lambda f: jax.jit(f)) if mode == 'forward' else (lambda f: jax.jit(jax.value_and_grad(lambda *args: f(*args).sum(), (0, 1))))
                (t_o, c_o), (t_p, c_p) = timeit(wrap(ours), a, b, x, y, repeats=repeats), timeit(wrap(pot), a, b, x, y, repeats=repeats)
                results[(name, p, mode)] = t_p / t_o
                print(f"{name:34s} {p:>3d} {mode:13s} {1e3 * t_o:9.2f} {1e3 * t_p:9.2f} {t_p / t_o:8.1f}x {c_o:10.2f} / {c_p:.2f}", flush=True)
                _survey()
    rep = thread_report()
    d = lambda p, m: results[('default call, sorted 1-D support', p, m)]
    print(f"\ntargets (default call): p=1 >= 20x POT: forward {d(1, 'forward'):.1f}x, forward+grad {d(1, 'forward+grad'):.1f}x; "
          f"p=2 >= 2x POT: forward {d(2, 'forward'):.1f}x, forward+grad {d(2, 'forward+grad'):.1f}x")
    print(f"threads seen: up to {rep['threads_seen_max']}, allowed CPUs {rep['cpus_allowed_union']}; load average {os.getloadavg()}")
    return results


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=1024); ap.add_argument('--bins', type=int, default=1025)
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--threads', default='default', choices=('default', 'single'))
    args = ap.parse_args()
    set_threads(args.threads)          # before jax is imported
    main(**vars(args))
