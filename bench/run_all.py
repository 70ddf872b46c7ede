"""The spectral_losses benchmark suite: speed against the peers, scaling, memory and compile time, in one run.

    python bench/run_all.py [--quick] [--threads single|default] [--cpu N]
                            [--sections w1d,default_call,signal,features,scaling,memory]

Peers (CPU): POT `ot.wasserstein_1d` (numpy, JAX jitted, torch), OTT-JAX's univariate solver (`solve_univariate`,
jitted, vmapped over the batch), `scipy.stats.wasserstein_distance` (a Python loop over the batch, p = 1, no gradient),
sot-loss 0.1.5 (`Wasserstein1DLoss`, torch eager), auraloss 0.4.0 (`STFTLoss`, `MultiResolutionSTFTLoss`, torch eager)
and korvax 0.3.0 (JAX, jitted: `loss.spectral_optimal_transport_loss` on its `spectrogram`, `loss.mrstft_loss` with its
defaults, `loss.smooth_mrstft_loss`). Each peer is run with settings that compute the same quantity as the 'ours' row
it is compared with (`vs`), and the rel.diff column checks that the values agree; where they cannot agree exactly a
note says why (korvax: ours with `pad_mode='constant'` is korvax's zero padding, our presets' default is 'reflect';
korvax adds float eps to the spectral masses before normalising, ~1e-7 relative).

Sections: `w1d` (1-D Wasserstein on separate random supports), `default_call` (`wasserstein_1d(x, x, a, b)` called as
POT's users call it, default `require_sort=True`, on a shared sorted support, vs POT's JAX backend; and a batch-first
(batch, n) problem on a uniform grid vs a plain float32 cumsum W_1, with float32 accuracy against float64 numpy),
`signal` (whole-signal and frame-wise spectral OT, single-, multi-resolution and smooth STFT losses at every size of
SIGNAL_SIZES), `scaling` (forward+grad time vs n) and `memory` (XLA's temporary bytes vs batch x n).

Method: in every table the implementations of one case are timed **interleaved** (each repeat runs every implementation
once, in a rotating order) and each entry is the median over the repeats of the mean time per call of a loop of at least
`--min-time` seconds. Ratios are `peer time / our time` (> 1: ours is faster). JAX functions are compiled ahead of time
(`jit(f).lower(...).compile()`), and that compile time is reported in its own column, never inside the medians; for every
JAX forward+grad function (ours and the JAX peers) it is the median of 3 fresh compiles (`jax.clear_caches()` before
each; `--quick`: 1), and the first one, which also pays the process's one-off warm-up, is stored beside it. The summary
lists the compile time of every JAX loss; targets: < 1 s for every loss of ours, < 0.5 s for the O(n) W_1 path
(`spectral_wasserstein(p=1)`, `wasserstein_1d` on a shared sorted support, p = 1).
Forward = the loss value; forward+grad = the value and its gradient (with respect to the predicted signal, or to both
weight arrays for the 1-D cases). torch peers run eager (torch.compile costs 2-20 s per model to compile here).

The FFT floor of the whole-signal spectral OT loss is the FFTs the loss itself needs, timed in the same run as jitted
functions that do exactly that and nothing else: forward floor = `rfft(x)` and `rfft(y)`; forward+grad floor =
`rfft(x)`, `rfft(y)` and one `irfft` of a spectrum-sized array (the gradient's way back to the signal). Targets: the loss
within 1.3x (p = 1) and 2.5x (p = 2) of the forward+grad floor at every size (signal section and scaling scan).

Threads: `--threads single` (the default, used for the stored tables) means **one core for everyone**: before jax,
torch and numpy are imported the process is pinned to one CPU (`os.sched_setaffinity`; every thread the libraries
create inherits the mask), and XLA (XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1),
torch (set_num_threads(1)) and OpenMP/BLAS (OMP/MKL/OPENBLAS_NUM_THREADS=1) are set to one thread. (The XLA flags alone
left two busy `tf_XLAEigen` threads here.) `--threads default` leaves every library at its default threading on all
the cores. The run VERIFIES the setting: it surveys the process's threads (/proc/self/task: how many, the union of their
`Cpus_allowed_list`, which were busy during the timed loops) and measures the CPU utilisation of every timed loop
(process CPU time / wall time); in single mode a utilisation above 1.05 means something ran in parallel and is printed
as a warning and stored. All of this, and the CPU model, goes into the header of the txt and into `machine` of the JSON.
Each mode writes bench/results/run_all_<mode>[_quick].txt and .json; when both modes' JSON files exist (of the same
kind, quick or full) the run also prints a comparison of the two.

JSON layout (everything a docs page needs to render the tables): `machine` (CPU, cores, affinity, thread settings,
`thread_report` = threads seen and utilisation, versions, load, wall time), `args`, `rows` (one per implementation,
case and mode: median, runs, utilisation, value, rel_diff, compile median/first), `checks` (target, case, goal,
measured, pass), `compile` (per loss: compile times over the sizes), `agreement` (peer values vs ours), `notes`, and
one entry per section that ran.
"""
import argparse, contextlib, inspect, io, json, os, sys, time, traceback
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _timing                                                                              # noqa: E402
from _timing import set_threads, time_group, compile_jax, machine_info, thread_report       # noqa: E402

SIGNAL_SIZES = [(10, 1000), (16, 16000), (4, 48000), (8, 65536)]   # 16 x 16000 and 4 x 48000 are issue 3's sizes
W1D_SIZES = [(64, 4097), (1024, 1025)]
MR_PWG = [(1024, 120, 600), (2048, 240, 1200), (512, 50, 240)]   # auraloss MultiResolutionSTFTLoss defaults (fft, hop, win)
KX_HOPS, KX_WINS = (32, 64, 128, 256, 512, 1024), (64, 128, 256, 512, 1024, 2048)   # korvax mrstft_loss defaults
SECTIONS = 'w1d,default_call,signal,features,scaling,memory'


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='fewer repeats and sizes, shorter loops, 1 compile per loss (a few minutes)')
    ap.add_argument('--threads', default='single', choices=('single', 'default'))
    ap.add_argument('--cpu', type=int, default=None, help='single mode: the CPU to pin to (default: the highest allowed)')
    ap.add_argument('--sections', default=SECTIONS)
    ap.add_argument('--repeats', type=int, default=None, help='timed repeats per implementation (default 5, quick 3)')
    ap.add_argument('--min-time', type=float, default=None, help='seconds per timed loop (default 0.1, quick 0.03)')
    ap.add_argument('--compile-repeats', type=int, default=None, help='fresh compiles per JAX forward+grad (default 3, quick 1)')
    ap.add_argument('--out', default=os.path.join(HERE, 'results'))
    a = ap.parse_args(argv)
    a.repeats = a.repeats or (3 if a.quick else 5)
    a.min_time = a.min_time or (0.03 if a.quick else 0.1)
    a.compile_repeats = a.compile_repeats or (1 if a.quick else 3)
    a.sections = a.sections.split(',')
    unknown = set(a.sections) - set(SECTIONS.split(','))
    if unknown: ap.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    return a


ARGS = parse_args()
set_threads(ARGS.threads, ARGS.cpu)      # before jax, torch and numpy are imported

import numpy as np                 # noqa: E402
import jax, jax.numpy as jnp       # noqa: E402
import torch                       # noqa: E402
try: import torchaudio             # noqa: E402,F401  (sot imports it; only its Mel front end needs it)
except Exception:
    import types
    sys.modules['torchaudio'] = types.ModuleType('torchaudio')
import ot, scipy.stats             # noqa: E402
import sot, sot.losses             # noqa: E402
import auraloss                    # noqa: E402
import korvax, korvax.loss         # noqa: E402
from ott.geometry import pointcloud, costs   # noqa: E402
from ott.solvers.linear import solve_univariate   # noqa: E402
from spectral_losses.losses import wasserstein_1d, spectral_wasserstein   # noqa: E402
from spectral_losses.stft import stft, magnitude, stft_spectral_convergence, stft_log_mag_loss   # noqa: E402

ROWS, CHECKS, NOTES = [], [], []


# ---------------------------------------------------------------------------------------------- output helpers
class Tee(io.TextIOBase):
    def __init__(self, *streams): self.streams = streams
    def write(self, s):
        for f in self.streams: f.write(s)
        return len(s)
    def flush(self):
        for f in self.streams: f.flush()


def note(msg):
    NOTES.append(msg); print(f"note: {msg}", flush=True)


def ms(t): return '     n/a' if t is None else f"{1e3 * t:8.3f}" if t < 0.01 else f"{1e3 * t:8.2f}" if t < 1 else f"{1e3 * t:8.0f}"


def tojax(a): return jnp.asarray(a, jnp.float32)
def totorch(a, grad=False): return torch.tensor(np.asarray(a), dtype=torch.float32, requires_grad=grad)


# ---------------------------------------------------------------------------------------------- implementations
class Impl:
    "One implementation of one loss: `fwd()` and `grad()` thunks (None when not available), value, compile times."
    def __init__(self, name, ours, fwd=None, grad=None, value=None, compile_fwd=None, compile_grad=None, vs=None,
                 compile_goal=None):
        self.name, self.ours, self.fwd, self.grad, self.value, self.vs = name, ours, fwd, grad, value, vs   # vs: the 'ours' row to compare with
        self.compile = {'forward': compile_fwd, 'forward+grad': compile_grad}
        self.compile_first = compile_grad                      # the first of the fresh compiles of forward+grad
        self.compile_runs = [] if compile_grad is None else [compile_grad]
        self.compile_goal = compile_goal                       # target for ours: seconds (None: not a loss, e.g. a floor)
        self.jax = False
        self.compile_cpu = None


def jax_impl(name, f, args, grad_argnums=(0,), ours=True, vs=None, fwd=True, compile_goal=1.0):
    "`f(*args)` returns per-example losses (or a scalar); forward = their mean; forward+grad = value_and_grad of the mean."
    loss = lambda *a: jnp.mean(f(*a))
    times, cpus = [], []
    for i in range(ARGS.compile_repeats):                      # the median of fresh compiles (caches cleared)
        if i: jax.clear_caches()
        cg, t, c = compile_jax(jax.jit(jax.value_and_grad(loss, grad_argnums)), *args, cpu=True)
        times.append(t); cpus.append(c)
    tg = float(np.median(times))
    if not fwd: impl = Impl(name, ours, None, lambda: cg(*args), None, None, tg, vs)
    else:
        cf, tf = compile_jax(jax.jit(loss), *args)
        impl = Impl(name, ours, lambda: cf(*args), lambda: cg(*args), float(cf(*args)), tf, tg, vs)
    impl.compile_first, impl.compile_runs, impl.jax = times[0], times, True
    impl.compile_cpu = float(np.median(cpus))                  # process CPU seconds of those compiles (median)
    impl.compile_goal = compile_goal if ours else None
    return impl


def floor_impl(name, args, vs):
    """The FFTs the whole-signal spectral OT loss needs, and nothing else (jitted): forward = rfft(x), rfft(y);
    forward+grad = rfft(x), rfft(y) and one irfft of a spectrum-sized array (their product: nothing XLA can simplify)."""
    n = args[0].shape[-1]
    fwd = lambda x, y: (jnp.fft.rfft(x), jnp.fft.rfft(y))
    fg = lambda x, y: jnp.fft.irfft(jnp.fft.rfft(x) * jnp.fft.rfft(y), n)
    cf, tf = compile_jax(jax.jit(fwd), *args)
    cg, tg = compile_jax(jax.jit(fg), *args)
    impl = Impl(name, False, lambda: cf(*args), lambda: cg(*args), None, tf, tg, vs)
    impl.jax = True
    return impl


def torch_impl(name, f, args, grad_argnums=(0,), vs=None):
    "`f(*tensors)` returns a scalar (or per-example) torch loss."
    fargs = [totorch(a) for a in args]
    def fwd():
        with torch.no_grad(): return f(*fargs).mean()
    gargs = [totorch(a, i in grad_argnums) for i, a in enumerate(args)]
    def grad():
        loss = f(*gargs).mean()
        return loss, torch.autograd.grad(loss, [gargs[i] for i in grad_argnums])
    return Impl(name, False, fwd, grad, float(fwd()), vs=vs)


def run_case(section, case, impls, extra=None):
    "Time every implementation of one case interleaved, forward and forward+grad; print one table; record rows."
    impls = [i for i in impls if i is not None]
    res = {}
    for mode, attr in (('forward', 'fwd'), ('forward+grad', 'grad')):
        fns = {i.name: getattr(i, attr) for i in impls if getattr(i, attr) is not None}
        res[mode] = time_group(fns, ARGS.repeats, ARGS.min_time, label=f"{section} | {case} | {mode}") if fns else {}
    ours = {i.name: i for i in impls if i.ours}
    first = next(iter(ours), None)
    print(f"\n== {section}: {case} ==")
    print(f"{'implementation':50s} {'fwd ms':>8s} {'f+g ms':>8s} {'fwd x':>7s} {'f+g x':>7s} {'value':>13s} {'rel.diff':>8s} "
          f"{'compile s f / f+g':>18s} {'cpu util f/f+g':>14s}")
    for i in impls:
        t = {m: res[m].get(i.name, {}).get('median') for m in res}
        vs = i.vs or first
        x = {m: (None if (i.ours or t[m] is None or vs is None or vs not in res[m]) else t[m] / res[m][vs]['median']) for m in res}
        ref = None if vs is None or vs not in ours else ours[vs].value
        rd = None if (i.ours and i.vs is None) or ref is None or i.value is None else abs(i.value - ref) / max(abs(ref), 1e-30)
        comp = ' / '.join('  -  ' if i.compile[m] is None else f"{i.compile[m]:5.2f}" for m in res)
        util = ' / '.join(f"{res[m][i.name]['util']:4.2f}" if i.name in res[m] else '  - ' for m in res)
        xs = {m: '      -' if x[m] is None else f"{x[m]:6.2f}x" for m in res}
        print(f"{i.name[:50]:50s} {ms(t['forward'])} {ms(t['forward+grad'])} {xs['forward']} {xs['forward+grad']} "
              f"{'' if i.value is None else f'{i.value:13.6g}':>13s} {'' if rd is None else f'{rd:8.1e}':>8s} {comp:>18s} {util:>14s}")
        for m in res:
            if i.name in res[m]:
                r = res[m][i.name]
                ROWS.append({'section': section, 'case': case, 'impl': i.name, 'ours': i.ours, 'mode': m, **(extra or {}),
                             'median_s': r['median'], 'first_s': r['first'], 'runs_s': r['runs'], 'util': r['util'],
                             'vs': None if i.ours and i.vs is None else vs, 'ratio_vs': x[m],
                             'compile_s': i.compile[m], 'value': i.value, 'rel_diff': rd, 'jax': i.jax,
                             'compile_first_s': i.compile_first if m == 'forward+grad' else i.compile[m],
                             'compile_runs_s': i.compile_runs if m == 'forward+grad' else None,
                             'compile_cpu_s': i.compile_cpu if m == 'forward+grad' else None,
                             'compile_goal_s': i.compile_goal if m == 'forward+grad' else None})
    print(f"(x = peer time / time of {'its' if any(i.vs for i in impls) else 'the'} 'ours' row{'' if any(i.vs for i in impls) else ' ' + repr(first)}: "
          "> 1 means ours is faster; rel.diff = |value - ours| / |ours|; cpu util = process CPU time / wall time)", flush=True)
    return res


def best_peer(res, mode, impls, exclude=()):
    peers = [(res[mode][i.name]['median'], i.name) for i in impls
             if i is not None and not i.ours and i.name in res[mode] and i.name not in exclude and not i.name.startswith('floor')]
    return min(peers) if peers else (None, None)


def ratio(res, mode, peer, ours):
    "time of `peer` / time of `ours` in `res[mode]` (None when either did not run)."
    r = res.get(mode, {})
    return r[peer]['median'] / r[ours]['median'] if peer in r and ours in r else None


def check(target, case, ratio, goal, detail=''):
    ok = ratio is not None and ratio >= goal
    CHECKS.append({'target': target, 'case': case, 'goal': goal, 'measured': ratio, 'pass': bool(ok), 'detail': detail,
                   'info': target.startswith('(info)')})


def try_impl(make):
    try: return make()
    except Exception as e:
        note(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        return None


# ---------------------------------------------------------------------------------------------- 1-D Wasserstein
def ott_w(x, y, a, b, p):
    "OTT's univariate solver, one problem per batch row (OTT shares weights across its d slices, so vmap over rows)."
    cost = costs.Euclidean() if p == 1 else costs.SqEuclidean()
    one = lambda x, y, a, b: solve_univariate(pointcloud.PointCloud(x[:, None], y[:, None], cost_fn=cost), a, b).ot_costs[0]
    return jax.vmap(one, in_axes=(1, 1, 1, 1))(x, y, a, b)


def section_w1d():
    rng = np.random.default_rng(0)
    sizes = [(64, 4097, (1,)), (128, 1025, (2,))] if ARGS.quick else [(b, n, (1, 2)) for b, n in W1D_SIZES]
    for batch, n, ps in sizes:                     # quick: p = 1 at 64 x 4097, p = 2 at 128 x 1025
        x, y = (rng.normal(size=(n, batch)).astype(np.float32) for _ in range(2))
        a, b = (rng.random((n, batch)).astype(np.float32) for _ in range(2))
        a, b = a / a.sum(0), b / b.sum(0)
        J = [tojax(t) for t in (a, b, x, y)]
        for p in ps:
            case = f"batch {batch} x {n}, separate random supports, p={p}"
            impls = [jax_impl('ours wasserstein_1d', lambda a, b, x, y: wasserstein_1d(x, y, a, b, p=p), J, (0, 1)),
                     Impl('POT numpy', False, lambda: ot.wasserstein_1d(x, y, a, b, p=p), value=float(np.mean(ot.wasserstein_1d(x, y, a, b, p=p)))),
                     jax_impl('POT jax (jit)', lambda a, b, x, y: ot.wasserstein_1d(x, y, a, b, p=p), J, (0, 1), ours=False),
                     torch_impl('POT torch', lambda a, b, x, y: ot.wasserstein_1d(x, y, a, b, p=p), (a, b, x, y), (0, 1)),
                     jax_impl('OTT solve_univariate (jit, vmap)', lambda a, b, x, y: ott_w(x, y, a, b, p), J, (0, 1), ours=False),
                     torch_impl('sot-loss wasserstein_1d (torch)', lambda a, b, x, y: sot.losses.wasserstein_1d(x.T, y.T, a.T, b.T, p=p), (a, b, x, y), (0, 1))]
            if p == 1:
                sc = lambda: [scipy.stats.wasserstein_distance(x[:, i], y[:, i], a[:, i], b[:, i]) for i in range(batch)]
                impls.append(Impl('scipy wasserstein_distance (loop)', False, sc, value=float(np.mean(sc()))))
            res = run_case('W1D', case, impls, {'batch': batch, 'n': n, 'p': p})
            for mode in ('forward', 'forward+grad'):
                t, who = best_peer(res, mode, impls)
                r = t / res[mode]['ours wasserstein_1d']['median'] if t else None
                if mode == 'forward+grad': check('wasserstein_1d, separate supports, >= 1.25x the fastest peer (f+g)', case, r, 1.25, f"fastest peer with a gradient: {who}")
                else: check('(info) wasserstein_1d forward, >= 1.25x the fastest peer', case, r, 1.25, f"fastest peer: {who}")


# ---------------------------------------------------------------------------------------------- the default call
def section_default_call():
    """`wasserstein_1d(x, x, a, b, p)` with the default require_sort=True, as POT's users call it, on an already sorted
    support shared by both measures; and a batch-first (batch, n) problem on a uniform grid vs a plain cumsum W_1."""
    out = {'pot_layout': [], 'batch_first': [], 'accuracy': []}
    rng = np.random.default_rng(3)
    n, batch = 1025, 1024
    x = np.linspace(0, 1, n).astype(np.float32)
    a, b = (rng.random((n, batch)).astype(np.float32) for _ in range(2))
    a, b = a / a.sum(0), b / b.sum(0)
    J = [tojax(a), tojax(b), tojax(x)]
    B = lambda x, w: jnp.broadcast_to(x[:, None], w.shape)      # POT needs (n, batch) supports: users broadcast the grid
    main = 'ours wasserstein_1d(x, x, a, b), 1-D x'
    for p in (1, 2):
        case = f"({n}, {batch}) POT layout, sorted shared support, default call, p={p}"
        goal = 0.5 if p == 1 else 1.0
        imps = [jax_impl(main, lambda a, b, x: wasserstein_1d(x, x, a, b, p=p), J, (0, 1), compile_goal=goal),
                None if ARGS.quick else
                jax_impl('ours, (n, batch) supports (as POT needs them)', lambda a, b, x: wasserstein_1d(B(x, a), B(x, b), a, b, p=p), J, (0, 1), compile_goal=goal),
                jax_impl('ours, 1-D x, require_sort=False', lambda a, b, x: wasserstein_1d(x, x, a, b, p=p, require_sort=False), J, (0, 1), compile_goal=goal),
                jax_impl('POT jax (jit), (n, batch) supports', lambda a, b, x: ot.wasserstein_1d(B(x, a), B(x, b), a, b, p=p), J, (0, 1), ours=False)]
        res = run_case('default call', case, imps, {'batch': batch, 'n': n, 'p': p})
        goal = 20 if p == 1 else 2
        line = []
        for mode in ('forward', 'forward+grad'):
            r = ratio(res, mode, 'POT jax (jit), (n, batch) supports', main)
            check(f"default call wasserstein_1d(x, x, a, b, p={p}), sorted shared support, >= {goal}x POT-JAX ({mode})", case, r, goal)
            r2 = ratio(res, mode, 'POT jax (jit), (n, batch) supports', 'ours, (n, batch) supports (as POT needs them)')
            if r2 is not None: check(f"(info) the same with POT's (n, batch) supports, >= {goal}x POT-JAX ({mode})", case, r2, goal)
            r3 = ratio(res, mode, 'POT jax (jit), (n, batch) supports', 'ours, 1-D x, require_sort=False')
            line.append(f"{mode}: POT/ours {fx(r)}x (POT layout {fx(r2)}x, require_sort=False {fx(r3)}x)")
            out['pot_layout'].append({'p': p, 'mode': mode, 'pot_over_ours': r, 'pot_over_ours_pot_layout': r2, 'pot_over_ours_nosort': r3})
        print(f"p={p}: " + '; '.join(line))

    # batch-first: (batch, n) weights on a uniform grid, vs a plain float32 cumsum W_1
    batch = 8
    ns = [2 ** k for k in ((10, 16) if ARGS.quick else range(8, 21, 2))]
    has_axis = 'axis' in inspect.signature(wasserstein_1d).parameters
    if not has_axis: note("wasserstein_1d has no `axis` keyword (yet): the batch-first rows through axis=-1 are skipped; "
                          "only the transposed (POT layout) call is timed")
    for n in ns:
        grid = np.linspace(0, 1, n).astype(np.float32)
        dx = np.float32(1 / (n - 1))
        a, b = (rng.random((batch, n)).astype(np.float32) for _ in range(2))
        a, b = a / a.sum(-1, keepdims=True), b / b.sum(-1, keepdims=True)
        J = [tojax(a), tojax(b), tojax(grid)]
        case = f"batch-first ({batch}, {n}), uniform grid, default call, p=1"
        fns = {'plain jnp W_1 (cumsum, float32)': lambda a, b, x: jnp.sum(jnp.abs(jnp.cumsum(a - b, -1)), -1) * dx}
        if has_axis: fns['ours wasserstein_1d(x, x, a, b, axis=-1)'] = lambda a, b, x: wasserstein_1d(x, x, a, b, p=1, axis=-1)
        fns["ours wasserstein_1d(x, x, a.T, b.T) (POT layout)"] = lambda a, b, x: wasserstein_1d(x, x, a.T, b.T, p=1)
        ours_names = [k for k in fns if k.startswith('ours')]
        nosort = "(info) ours (POT layout), require_sort=False"     # what a run-time sortedness check can reach
        fns[nosort] = lambda a, b, x: wasserstein_1d(x, x, a.T, b.T, p=1, require_sort=False)
        imps = [jax_impl(k, f, J, (0, 1), ours=k.startswith(('ours', '(info) ours')), compile_goal=0.5,
                         vs=None if k.startswith(('ours', '(info) ours')) else ours_names[0]) for k, f in fns.items()]
        res = run_case('default call', case, imps, {'batch': batch, 'n': n, 'p': 1})
        # float32 accuracy of each against float64 numpy on the same inputs
        ref = np.sum(np.abs(np.cumsum(a.astype(np.float64) - b.astype(np.float64), -1)), -1) / (n - 1)
        acc = {}
        for k, f in fns.items():
            v = np.asarray(jax.jit(f)(*J), np.float64)
            acc[k] = float(np.max(np.abs(v - ref) / np.abs(ref)))
        print("float32 accuracy vs float64 numpy (max relative error over the batch): "
              + '; '.join(f"{k}: {e:.1e}" for k, e in acc.items()))
        out['accuracy'].append({'n': n, 'batch': batch, 'max_rel_err': acc})
        for k in ours_names:
            r = ratio(res, 'forward+grad', 'plain jnp W_1 (cumsum, float32)', k)
            check(f"batch-first W_1 within 1.5x of a plain cumsum W_1 (f+g) [{k}]", case, r, 1 / 1.5,
                  '' if r is None else f"ours/plain = {1 / r:.2f}")
            out['batch_first'].append({'n': n, 'impl': k, 'plain_over_ours_fg': r,
                                       'plain_over_ours_fwd': ratio(res, 'forward', 'plain jnp W_1 (cumsum, float32)', k)})
        r = ratio(res, 'forward+grad', 'plain jnp W_1 (cumsum, float32)', nosort)
        check(f"(info) batch-first W_1 within 1.5x of a plain cumsum W_1 (f+g) [{nosort}]", case, r, 1 / 1.5,
              '' if r is None else f"ours/plain = {1 / r:.2f}")
    out['has_axis'] = has_axis
    return out


# ---------------------------------------------------------------------------------------------- signal losses
def sot_whole(p):
    "sot-loss on the whole-signal power spectrum: |rfft|^2 in torch, then its Wasserstein1DLoss on linspace(0, 1, K)."
    with contextlib.redirect_stdout(io.StringIO()): L = sot.Wasserstein1DLoss(transform='identity', p=p)
    def f(x, y):
        X, Y = torch.fft.rfft(x).abs() ** 2, torch.fft.rfft(y).abs() ** 2
        pos = torch.linspace(0, 1, X.shape[-1])
        return L.loss(X, Y, pos, pos)
    return f


def kx_whole(p):
    """korvax on the whole-signal power spectrum: its `spectrogram` with one frame of the whole signal (n_fft = T,
    boxcar window, no padding, power 2), then `spectral_optimal_transport_loss` on our default positions linspace(0, 1, K)."""
    def f(x, y):
        T = x.shape[-1]
        S = lambda s: korvax.spectrogram(s, n_fft=T, hop_length=T, window='boxcar', center=False, power=2)
        Sx, Sy = S(x), S(y)
        return korvax.loss.spectral_optimal_transport_loss(Sx, Sy, positions=jnp.linspace(0, 1, Sx.shape[-2], dtype=Sx.dtype), p=p)
    return f


def kx_stft_sot(x, y):
    "korvax frame-wise SOT with sot-loss's settings: |STFT| 1024/256 flattop, centred (korvax pads with zeros), p = 2."
    S = lambda s: korvax.spectrogram(s, n_fft=1024, hop_length=256, window='flattop', center=True, power=1)
    Sx, Sy = S(x), S(y)
    return korvax.loss.spectral_optimal_transport_loss(Sx, Sy, positions=jnp.linspace(0, 1, Sx.shape[-2], dtype=Sx.dtype), p=2)


def ours_stft_sw(x, y, p=2):
    "Composed from the library: frame-wise spectral_wasserstein on |stft| (sot-loss defaults: 1024/256 flattop, magnitudes)."
    S = lambda s: jnp.swapaxes(magnitude(stft(s, 1024, 256, window='flattop')), -1, -2)
    return spectral_wasserstein(S(x), S(y), squared=False, is_mag=True, p=p)


def ours_stft_loss(x, y, n_fft=1024, hop=256, win=None):
    "Composed from the library: auraloss STFTLoss defaults (SC with one Frobenius norm over the batch + mean L1 log-magnitude)."
    M = lambda s: magnitude(stft(s, n_fft, hop, win), clamp=1e-8)
    X, Y = M(x), M(y)
    return stft_spectral_convergence(X, Y, reduction='global') + jnp.mean(stft_log_mag_loss(X, Y))


def ours_mr_composed(x, y):
    return sum(ours_stft_loss(x, y, *r) for r in MR_PWG) / len(MR_PWG)


_MR_ALIASES = {'fft_sizes': ('fft_sizes', 'n_ffts'), 'hop_sizes': ('hop_sizes', 'hop_lengths'),
               'win_lengths': ('win_lengths', 'win_sizes')}


def _mr_bind(fn, preset, **want):
    "`fn(x, y, preset, **want)` with each setting under the keyword `fn` spells it (hop_sizes/hop_lengths, ...)."
    sig = inspect.signature(fn).parameters
    kw = {}
    for k, v in want.items():
        name = next((a for a in _MR_ALIASES.get(k, (k,)) if a in sig), None)
        if name is None: raise TypeError(f"{fn.__name__} has no keyword for {k!r}")
        kw[name] = v
    return lambda x, y: fn(x, y, preset, **kw)


def _library_fn(module, want, kwargs):
    "Find an exported function of `spectral_losses.<module>` whose name contains one of `want`; bind the kwargs it accepts."
    import importlib
    try: m = importlib.import_module(f'spectral_losses.{module}')
    except ImportError as e:
        note(f"spectral_losses.{module} is not present ({e}); its rows are skipped"); return None
    for nm in getattr(m, '__all__', []):
        f = getattr(m, nm)
        if callable(f) and any(w in nm for w in want) and not any(w in nm for w in ('phase', 'preset', 'frames', 'multi')) and not isinstance(f, type):
            try: sig = inspect.signature(f).parameters
            except (TypeError, ValueError): continue
            kw = {k: v for k, v in kwargs.items() if k in sig}
            print(f"using spectral_losses.{module}.{nm}(x, y, **{kw})")
            return nm, (lambda x, y: f(x, y, **kw))
    note(f"spectral_losses.{module} has no function matching {want} in __all__ = {getattr(m, '__all__', None)}; skipped")
    return None


def _mr_fn():
    try:
        from spectral_losses.multires import multi_resolution_stft_loss
        return multi_resolution_stft_loss
    except ImportError as e:
        note(f"spectral_losses.multires.multi_resolution_stft_loss is not present ({e}); its rows are skipped")
        return None


def section_signal():
    mrf = _mr_fn()
    if mrf: print(f"using spectral_losses.multires.multi_resolution_stft_loss{inspect.signature(mrf)}")
    # the same function at one resolution: auraloss STFTLoss() (per-example SC, where auraloss's is batch-global)
    mr_pwg = (lambda x, y: mrf(x, y, 'pwg')) if mrf else None
    mr1 = try_impl(lambda: _mr_bind(mrf, 'pwg', fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,))) if mrf else None
    # korvax mrstft_loss defaults: 6 resolutions, hann, zero padding, L1 |X| + L1 log(|X| + 1e-7), mean over resolutions
    mr_kx = try_impl(lambda: _mr_bind(mrf, 'pwg', fft_sizes=KX_WINS, hop_sizes=KX_HOPS, win_lengths=KX_WINS, window='hann',
                                      center=True, pad_mode='constant', w_sc=0.0, w_log=1.0, w_lin=1.0, distance='l1', clamp=0.0,
                                      log_fac=1.0, log_eps=1e-7, log_floor=0.0, aggregate='mean')) if mrf else None
    smooth = (lambda x, y: mrf(x, y, 'smooth')) if mrf else None
    smooth_c = try_impl(lambda: _mr_bind(mrf, 'smooth', pad_mode='constant')) if mrf else None
    sw_kw = {'n_fft': 1024, 'hop_length': 256, 'window': 'flattop', 'center': True, 'p': 2, 'squared': False}
    sw = _library_fn('stft_ot', ('wasserstein', 'sot', 'ot'), sw_kw)
    sw_c = _library_fn('stft_ot', ('wasserstein', 'sot', 'ot'), {**sw_kw, 'pad_mode': 'constant'})
    note("korvax agreement: korvax pads centred frames with zeros; the rows 'pad_mode=constant' compute korvax's quantity "
         "(rel.diff ~1e-7: korvax adds float eps to the masses it normalises); our 'smooth' preset pads by reflection "
         "(Schwaer & Mueller / librosa), so it differs from korvax's smooth_mrstft_loss at the edges (a few %)")
    rng = np.random.default_rng(1)
    with contextlib.redirect_stdout(io.StringIO()):
        sot_stft = sot.Wasserstein1DLoss()                         # defaults: STFT 1024/256 flattop, magnitudes, p = 2
    aura1 = auraloss.freq.STFTLoss()
    aura_mr = auraloss.freq.MultiResolutionSTFTLoss()
    out = {'floor': [], 'korvax': []}
    for batch, T in (SIGNAL_SIZES[:2] if ARGS.quick else SIGNAL_SIZES):     # quick: 10 x 1000 and 16 x 16000
        x, y = (rng.standard_normal((batch, T)).astype(np.float32) for _ in range(2))
        J = [tojax(x), tojax(y)]
        extra = {'batch': batch, 'n': T}
        # whole-signal spectral Wasserstein, the FFT floor, sot-loss and korvax
        case = f"batch {batch} x {T}, whole-signal power spectrum"
        o1, o2, fl = 'ours spectral_wasserstein p=1', 'ours spectral_wasserstein p=2', 'floor: rfft x, rfft y (+ irfft for f+g)'
        imp = [jax_impl(o1, lambda x, y: spectral_wasserstein(x, y, p=1), J, compile_goal=0.5),
               jax_impl(o2, lambda x, y: spectral_wasserstein(x, y, p=2), J),
               floor_impl(fl, J, vs=o2),        # compared like a peer: its 'x' = floor time / ours (p=2)
               torch_impl('sot-loss Wasserstein1DLoss p=1', sot_whole(1), (x, y), vs=o1),
               torch_impl('sot-loss Wasserstein1DLoss p=2', sot_whole(2), (x, y), vs=o2),
               try_impl(lambda: jax_impl('korvax spectral_optimal_transport_loss p=1', kx_whole(1), J, ours=False, vs=o1)),
               try_impl(lambda: jax_impl('korvax spectral_optimal_transport_loss p=2', kx_whole(2), J, ours=False, vs=o2))]
        res = run_case('whole-signal SW', case, imp, extra)
        f, g = res['forward'], res['forward+grad']
        r = {(o, m): res[m][o]['median'] / res[m][fl]['median'] for o in (o1, o2) for m in res}
        print(f"ours / FFT floor: forward p=1 {r[o1, 'forward']:.2f}, p=2 {r[o2, 'forward']:.2f}; "
              f"forward+grad p=1 {r[o1, 'forward+grad']:.2f}, p=2 {r[o2, 'forward+grad']:.2f}")
        out['floor'].append({'batch': batch, 'n': T, **{f"{o[-3:]} {m}": v for (o, m), v in r.items()}})
        s1, s2 = ratio(res, 'forward+grad', 'sot-loss Wasserstein1DLoss p=1', o1), ratio(res, 'forward+grad', 'sot-loss Wasserstein1DLoss p=2', o2)
        print(f"sot-loss / ours (f+g): p=1 {fx(s1)}x, p=2 {fx(s2)}x")
        check('whole-signal spectral_wasserstein p=2 >= 3x sot-loss (f+g)', case, s2, 3)
        check('whole-signal spectral_wasserstein p=1 >= 10x sot-loss (f+g)', case, s1, 10)
        check('whole-signal spectral_wasserstein p=1 within 1.3x the FFT floor (f+g; floor/ours >= 0.77)', case, 1 / r[o1, 'forward+grad'], 1 / 1.3, f"ours/floor = {r[o1, 'forward+grad']:.2f}")
        check('whole-signal spectral_wasserstein p=2 within 2.5x the FFT floor (f+g; floor/ours >= 0.4)', case, 1 / r[o2, 'forward+grad'], 1 / 2.5, f"ours/floor = {r[o2, 'forward+grad']:.2f}")
        for p, o in ((1, o1), (2, o2)):
            k = f'korvax spectral_optimal_transport_loss p={p}'
            for m in res:
                check(f'whole-signal spectral OT p={p} >= 3x korvax ({m})', case, ratio(res, m, k, o), 3)
        # frame-wise STFT spectral Wasserstein (sot-loss defaults), korvax with its zero padding
        case = f"batch {batch} x {T}, STFT 1024/256 flattop, p=2 (sot-loss defaults)"
        oc = f'ours stft_ot.{sw_c[0]} pad_mode=constant (korvax)' if sw_c else None
        imp = [try_impl(lambda: jax_impl(f'ours stft_ot.{sw[0]}', lambda x, y: sw[1](x, y), J)) if sw else None,
               jax_impl('ours composed (stft + spectral_wasserstein)', ours_stft_sw, J),
               torch_impl('sot-loss Wasserstein1DLoss()', lambda x, y: sot_stft(x, y), (x, y)),
               try_impl(lambda: jax_impl(oc, lambda x, y: sw_c[1](x, y), J)) if sw_c else None,
               try_impl(lambda: jax_impl('korvax SOT on spectrogram(power=1)', kx_stft_sot, J, ours=False, vs=oc if sw_c else None))]
        res = run_case('STFT SW', case, imp, extra)
        for i in imp:
            if i is not None and i.ours and i.name != oc:
                check(f'STFT spectral Wasserstein >= 2x sot-loss (f+g) [{i.name}]', case, ratio(res, 'forward+grad', 'sot-loss Wasserstein1DLoss()', i.name), 2)
        if oc:
            for m in res:
                check(f'STFT spectral OT >= 3x korvax ({m}) [{oc}]', case, ratio(res, m, 'korvax SOT on spectrogram(power=1)', oc), 3)
        # single-resolution STFT loss (auraloss STFTLoss defaults)
        case = f"batch {batch} x {T}, STFT loss 1024/256 hann, SC + log-mag (auraloss defaults)"
        imp = [jax_impl('ours composed (stft losses)', ours_stft_loss, J),
               try_impl(lambda: jax_impl('ours multires.multi_resolution_stft_loss (1 resolution)', mr1, J)) if mr1 else None,
               torch_impl('auraloss STFTLoss()', lambda x, y: aura1(x[:, None], y[:, None]), (x, y))]
        res = run_case('STFT loss', case, imp, extra)
        t, _ = best_peer(res, 'forward+grad', imp)
        for i in imp:
            if i is not None and i.ours:
                check(f'single-resolution STFT loss >= 3x auraloss (f+g) [{i.name}]', case, t / res['forward+grad'][i.name]['median'], 3)
        # multi-resolution STFT loss, korvax's defaults (6 resolutions 64..2048)
        case = f"batch {batch} x {T}, multi-resolution STFT loss (korvax mrstft_loss defaults)"
        ok = 'ours multires (korvax settings: 6 res, hann, zero pad, lin+log L1)'
        imp = [try_impl(lambda: jax_impl(ok, mr_kx, J)) if mr_kx else None,
               try_impl(lambda: jax_impl('korvax mrstft_loss()', lambda x, y: korvax.loss.mrstft_loss(x, y), J, ours=False, vs=ok))]
        res = run_case('MR-STFT korvax', case, imp, extra)
        for m in res:
            check(f'multi-resolution STFT loss >= 1x korvax mrstft_loss ({m})', case, ratio(res, m, 'korvax mrstft_loss()', ok), 1)
        out['korvax'].append({'case': case, **{m: ratio(res, m, 'korvax mrstft_loss()', ok) for m in res}})
        # the smooth multi-resolution loss (Schwaer & Mueller 2023)
        case = f"batch {batch} x {T}, smooth multi-resolution STFT loss (Schwaer & Mueller)"
        os_, oc2 = "ours multires 'smooth' preset", "ours 'smooth', pad_mode=constant (korvax)"
        imp = [try_impl(lambda: jax_impl(os_, smooth, J)) if smooth else None,
               try_impl(lambda: jax_impl(oc2, smooth_c, J)) if smooth_c else None,
               try_impl(lambda: jax_impl('korvax smooth_mrstft_loss()', lambda x, y: korvax.loss.smooth_mrstft_loss(x, y), J, ours=False, vs=oc2))]
        res = run_case('smooth MR-STFT', case, imp, extra)
        for m in res:
            check(f"smooth MR-STFT loss ('smooth' preset) >= 1x korvax smooth_mrstft_loss ({m})", case, ratio(res, m, 'korvax smooth_mrstft_loss()', os_), 1)
            check(f"(info) smooth MR-STFT loss (pad_mode=constant) >= 1x korvax ({m})", case, ratio(res, m, 'korvax smooth_mrstft_loss()', oc2), 1)
        out['korvax'].append({'case': case, **{m: ratio(res, m, 'korvax smooth_mrstft_loss()', os_) for m in res}})
        # multi-resolution STFT loss (auraloss defaults = PWG)
        case = f"batch {batch} x {T}, multi-resolution STFT loss (auraloss defaults, PWG)"
        if T <= 1024:
            note(f"{case}: skipped: the 2048-point resolution needs more than 1024 samples for reflect padding (auraloss and ours both refuse)")
            continue
        imp = [try_impl(lambda: jax_impl('ours multires.multi_resolution_stft_loss', mr_pwg, J)) if mr_pwg else None,
               jax_impl('ours composed (3 x stft losses)', ours_mr_composed, J),
               torch_impl('auraloss MultiResolutionSTFTLoss()', lambda x, y: aura_mr(x[:, None], y[:, None]), (x, y))]
        res = run_case('MR-STFT loss', case, imp, extra)
        for i in imp:
            if i is not None and i.ours:
                t, _ = best_peer(res, 'forward+grad', imp)
                check(f'multi-resolution STFT loss >= 2x auraloss (f+g) [{i.name}]', case, t / res['forward+grad'][i.name]['median'], 2)
    return out


# ---------------------------------------------------------------------------------------------- features (issue 16)
def section_features():
    """The losses of the features issue against their peers, forward and forward+grad, same inputs:
    mel STFT loss (auraloss MelSTFTLoss), stereo sum-and-difference (auraloss SumAndDifferenceSTFTLoss),
    perceptually weighted STFT loss (auraloss STFTLoss(perceptual_weighting=True)), and a CQT magnitude
    loss (korvax.cqt, which takes minutes to compile: one size, one compile)."""
    from functools import partial
    from spectral_losses.multires import multi_resolution_stft_loss, sum_and_difference_loss
    from spectral_losses.weighting import pre_emphasis
    from spectral_losses.cqt import cqt
    SR, rng, out = 16000, np.random.default_rng(2), []
    mel1 = dict(fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,), n_mels=128, sample_rate=SR)
    one = dict(fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,))
    aura_mel = auraloss.freq.MelSTFTLoss(SR, 1024, 256, 1024, n_mels=128)
    aura_pw = auraloss.freq.STFTLoss(perceptual_weighting=True, sample_rate=SR)
    aura_sd = auraloss.freq.SumAndDifferenceSTFTLoss(*map(list, zip(*MR_PWG)))
    aw = lambda s: pre_emphasis(s, 'aw', sample_rate=SR)
    sizes = [(16, 16000)] if ARGS.quick else [(16, 16000), (4, 48000)]
    for batch, T in sizes:
        x, y = (rng.standard_normal((batch, T)).astype(np.float32) for _ in range(2))
        J, extra = [tojax(x), tojax(y)], {'batch': batch, 'n': T}
        # auraloss reduces the batch first (its spectral convergence is batch-global): compare per example
        case = f"batch {batch} x {T}, mel STFT loss 1024/256, 128 mels (auraloss MelSTFTLoss)"
        o = 'ours multi_resolution_stft_loss(n_mels=128)'
        imp = [jax_impl(o, lambda x, y: multi_resolution_stft_loss(x, y, **mel1), J),
               torch_impl('auraloss MelSTFTLoss', lambda x, y: aura_mel(x[:, None], y[:, None]), (x, y))]
        res = run_case('features', case, imp, extra)
        out.append({'case': case, **{m: ratio(res, m, 'auraloss MelSTFTLoss', o) for m in res}})
        check('mel STFT loss >= 1x auraloss MelSTFTLoss (f+g)', case, out[-1]['forward+grad'], 1)
        case = f"batch {batch} x {T}, A-weighting FIR + STFT loss 1024/256 (auraloss perceptual_weighting)"
        o = "ours pre_emphasis('aw') + multi_resolution_stft_loss"
        imp = [jax_impl(o, lambda x, y: multi_resolution_stft_loss(aw(x), aw(y), **one), J),
               torch_impl('auraloss STFTLoss(perceptual_weighting)', lambda x, y: aura_pw(x[:, None], y[:, None]),
                          (x, y))]
        res = run_case('features', case, imp, extra)
        out.append({'case': case, **{m: ratio(res, m, 'auraloss STFTLoss(perceptual_weighting)', o) for m in res}})
        check('A-weighted STFT loss >= 1x auraloss (f+g)', case, out[-1]['forward+grad'], 1)
        xs, ys = x.reshape(batch // 2, 2, T), y.reshape(batch // 2, 2, T)
        case = f"batch {batch // 2} x 2 x {T}, stereo sum-and-difference, PWG resolutions (auraloss)"
        o = 'ours sum_and_difference_loss'
        imp = [jax_impl(o, sum_and_difference_loss, [tojax(xs), tojax(ys)]),
               torch_impl('auraloss SumAndDifferenceSTFTLoss', aura_sd, (xs, ys))]
        res = run_case('features', case, imp, extra)
        out.append({'case': case, **{m: ratio(res, m, 'auraloss SumAndDifferenceSTFTLoss', o) for m in res}})
        check('sum-and-difference loss >= 1x auraloss (f+g)', case, out[-1]['forward+grad'], 1)
    # CQT magnitude L1 (84 bins from C1, hop 256): korvax compiles for about 4 minutes, so one size,
    # one compile, no separate forward compile
    batch, T = 4, 16000
    x, y = (rng.standard_normal((batch, T)).astype(np.float32) for _ in range(2))
    kx = jax.vmap(lambda v: korvax.cqt(v, sr=SR, hop_length=256, fmin=32.7, n_bins=84, power=None))
    l1 = lambda tf: (lambda a, b: jnp.mean(jnp.abs(jnp.abs(tf(a)) - jnp.abs(tf(b))), (-2, -1)))
    case = f"batch {batch} x {T}, L1 of CQT magnitudes (84 bins from 32.7 Hz, hop 256)"
    o = 'ours cqt'
    reps, ARGS.compile_repeats = ARGS.compile_repeats, 1
    try:
        imp = [jax_impl(o, l1(lambda s: cqt(s, SR, 256, 32.7, 84)), [tojax(x), tojax(y)]),
               try_impl(lambda: jax_impl('korvax cqt (vmap)', l1(kx), [tojax(x), tojax(y)], ours=False, vs=o,
                                         fwd=False))]
    finally:
        ARGS.compile_repeats = reps
    res = run_case('features', case, imp, extra={'batch': batch, 'n': T})
    out.append({'case': case, **{m: ratio(res, m, 'korvax cqt (vmap)', o) for m in res}})
    check('CQT loss >= 1x korvax cqt (f+g)', case, out[-1]['forward+grad'], 1)
    note("korvax cqt vs ours: magnitudes differ by a few % of the peak (korvax's 'librosa' normalisation "
         "and its own resampling); ours matches librosa.cqt (see the CQT page)")
    return out


# ---------------------------------------------------------------------------------------------- scaling
def section_scaling():
    batch = 8
    top = 16 if ARGS.quick else 20
    ns = [2 ** k for k in ((10, 14, 15, 16) if ARGS.quick else range(8, top + 1))]
    rng = np.random.default_rng(2)
    names = ['floor: 2 rfft + irfft', 'SW p=1 (signal)', 'SW p=2 (signal)', 'W p=1 shared support (spectra)', 'W p=2 shared support (spectra)']
    table = {k: [] for k in names}
    print(f"\n== scaling: forward+grad, batch {batch}, n = {ns[0]} .. {ns[-1]} samples (spectra: n/2+1 bins) ==")
    print(f"{'n':>8s} " + ' '.join(f"{k[:22]:>22s}" for k in names) + "   (ms)" + f"{'p=1/floor':>11s}{'p=2/floor':>11s}")
    for n in ns:
        x, y = (rng.standard_normal((batch, n)).astype(np.float32) for _ in range(2))
        X, Y = np.abs(np.fft.rfft(x)), np.abs(np.fft.rfft(y))
        S, M = [tojax(x), tojax(y)], [tojax(X), tojax(Y)]
        imp = [floor_impl(names[0], S, vs=None),
               jax_impl(names[1], lambda x, y: spectral_wasserstein(x, y, p=1), S, fwd=False),
               jax_impl(names[2], lambda x, y: spectral_wasserstein(x, y, p=2), S, fwd=False),
               jax_impl(names[3], lambda x, y: spectral_wasserstein(x, y, is_mag=True, p=1), M, fwd=False),
               jax_impl(names[4], lambda x, y: spectral_wasserstein(x, y, is_mag=True, p=2), M, fwd=False)]
        res = time_group({i.name: i.grad for i in imp}, ARGS.repeats, ARGS.min_time, label=f"scaling | n={n} | forward+grad")
        for i in imp:
            table[i.name].append(res[i.name]['median'])
            ROWS.append({'section': 'scaling', 'case': f'batch {batch} x {n}', 'impl': i.name, 'ours': i.ours, 'mode': 'forward+grad',
                         'batch': batch, 'n': n, 'median_s': res[i.name]['median'], 'runs_s': res[i.name]['runs'],
                         'util': res[i.name]['util'], 'compile_s': i.compile['forward+grad'], 'jax': True})
        print(f"{n:8d} " + ' '.join(f"{1e3 * table[k][-1]:22.3f}" for k in names)
              + f"{table[names[1]][-1] / table[names[0]][-1]:11.2f}{table[names[2]][-1] / table[names[0]][-1]:11.2f}", flush=True)
    # slopes of log t against log n where the per-call overhead no longer dominates (n >= 2^14)
    sel = np.array(ns) >= 2 ** 14
    lx = np.log(np.array(ns)[sel])
    fits = {}
    print("\nfitted slope d log t / d log n over n >= 2^14 (1 = linear; the reference slope of n log n is printed below):")
    for k in names:
        slope = float(np.polyfit(lx, np.log(np.array(table[k])[sel]), 1)[0])
        fits[k] = slope
        print(f"  {k:34s} {slope:5.2f}   ns per sample at n = {ns[-1]}: {1e9 * table[k][-1] / (batch * ns[-1]):7.2f}")
    nlogn = float(np.polyfit(lx, np.log(np.array(ns)[sel] * np.log(np.array(ns)[sel])), 1)[0])
    print(f"  (reference: the slope of n log n itself over this range is {nlogn:.3f})")
    check('p=1 on a shared support is O(n) (slope of the OT part <= 1.15)', f'batch {batch}, n = 2^14..2^{top}', 1.15 / fits[names[3]], 1.0, f"slope {fits[names[3]]:.2f}")
    check('p=2 on a shared support is O(n log n) (slope of the OT part <= 1.25)', f'batch {batch}, n = 2^14..2^{top}', 1.25 / fits[names[4]], 1.0, f"slope {fits[names[4]]:.2f}")
    for k, nm, lim in ((names[1], 'p=1', 1.3), (names[2], 'p=2', 2.5)):
        per_n = [t / f for t, f in zip(table[k], table[names[0]])]
        worst = max(per_n)
        check(f'whole-signal SW {nm} within {lim}x the FFT floor at every n of the scan (worst floor/ours >= {1 / lim:.2f})',
              f'batch {batch}, n = {ns[0]}..{ns[-1]}', 1 / worst, 1 / lim, f"worst ours/floor = {worst:.2f} at n = {ns[per_n.index(worst)]}")
    return {'batch': batch, 'n': ns, 'median_s': table, 'slopes': fits, 'nlogn_slope': nlogn,
            'floor': names[0], 'floor_ratio': {k: [t / f for t, f in zip(table[k], table[names[0]])] for k in names[1:3]}}


# ---------------------------------------------------------------------------------------------- memory
def section_memory():
    "XLA's compiled memory analysis (temporaries) of forward+grad, over batch x n: linear means constant bytes per sample."
    batches = [1, 4, 16] if not ARGS.quick else [1, 8]
    ns = [2 ** 12, 2 ** 16] if not ARGS.quick else [2 ** 12, 2 ** 15]
    losses = {'spectral_wasserstein p=1': lambda x, y: spectral_wasserstein(x, y, p=1),
              'spectral_wasserstein p=2': lambda x, y: spectral_wasserstein(x, y, p=2),
              'stft loss 1024/256 (composed)': ours_stft_loss,
              'wasserstein_1d p=2, separate supports': lambda x, y: wasserstein_1d(x.T, y.T, jnp.abs(y.T) + 1, jnp.abs(x.T) + 1, p=2),
              'FFT floor (2 rfft + irfft)': None}
    out = {}
    print("\n== memory: XLA temp bytes of the compiled forward+grad, per input sample (batch x n) ==")
    print(f"{'loss':40s} " + ' '.join(f"{f'{b}x{n}':>10s}" for b in batches for n in ns) + f" {'max/min':>8s}")
    for name, f in losses.items():
        vals = []
        for b in batches:
            for n in ns:
                args = [jax.ShapeDtypeStruct((b, n), jnp.float32)] * 2
                fn = (lambda x, y: jnp.fft.irfft(jnp.fft.rfft(x) * jnp.fft.rfft(y), n)) if f is None else \
                     jax.value_and_grad(lambda x, y: jnp.mean(f(x, y)))
                c = jax.jit(fn).lower(*args).compile()
                m = c.memory_analysis()
                tmp = None if m is None else int(m.temp_size_in_bytes)
                vals.append(tmp)
                ROWS.append({'section': 'memory', 'impl': name, 'batch': b, 'n': n, 'temp_bytes': tmp,
                             'argument_bytes': None if m is None else int(m.argument_size_in_bytes),
                             'output_bytes': None if m is None else int(m.output_size_in_bytes)})
        per = [v / (b * n) for v, (b, n) in zip(vals, [(b, n) for b in batches for n in ns])]
        spread = max(per) / max(min(per), 1e-9)
        out[name] = per
        print(f"{name:40s} " + ' '.join(f"{p:10.1f}" for p in per) + f" {spread:8.2f}", flush=True)
        if f is not None:
            check(f'memory linear in batch x n: {name} (temp bytes per sample max/min <= 1.5)', 'batch x n grid', 1.5 / spread, 1.0, f"max/min {spread:.2f}")
    return out


# ---------------------------------------------------------------------------------------------- summary
def warmup():
    """One throw-away compile of a small forward+grad (FFT, sort, cumsum, searchsorted), so that the process's one-off
    JIT start-up cost is not charged to the first loss's compile time. Returns its seconds."""
    def f(x, y):
        X, Y = jnp.abs(jnp.fft.rfft(x)) ** 2, jnp.sort(jnp.abs(jnp.fft.rfft(y)), -1)
        c = jnp.cumsum(X, -1)
        return jnp.mean(jnp.searchsorted(c[0], Y[0])) * 1e-3 + jnp.mean(c[..., -1]) + jnp.mean(jnp.fft.irfft(X * Y, x.shape[-1]))
    z = jnp.ones((2, 64), jnp.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(jax.value_and_grad(f))(z, z))
    return time.perf_counter() - t0


def _p(r): return '' if r.get('p') is None else f" p={r['p']}"


def fx(r, fmt='.2f'): return 'n/a' if r is None else format(r, fmt)


def compile_summary():
    "Compile time of every JAX loss in the tables (forward+grad): median of the fresh compiles and the first, max over sizes."
    print(f"\n== compile time per loss: trace + lower + compile of forward+grad, median of {ARGS.compile_repeats} fresh "
          f"compile(s) (first compile beside it); max over the sizes; targets for ours: < 1 s, < 0.5 s for the O(n) W_1 path ==")
    seen = {}
    for r in ROWS:
        if r.get('jax') and r.get('compile_s') is not None and r['mode'] == 'forward+grad' and r['section'] != 'scaling' \
                and not r['impl'].startswith('floor'):
            seen.setdefault((r['section'], r['impl']), []).append(r)
    out = []
    print(f"{'':4s} {'section':16s} {'loss':58s} {'median s':>9s} {'first s':>8s} {'cpu s':>6s} {'goal':>5s} sizes")
    for (sec, name), rs in seen.items():
        med, first = max(r['compile_s'] for r in rs), max(r['compile_first_s'] for r in rs)
        cpu = max((r.get('compile_cpu_s') or 0) for r in rs)
        goal = rs[0].get('compile_goal_s')
        ours = rs[0]['ours']
        tag = ('PASS' if med < goal else 'MISS') if ours and goal else 'peer' if not ours else ''
        print(f"{tag:4s} {sec:16s} {name[:58]:58s} {med:9.2f} {first:8.2f} {cpu:6.2f} {'' if not goal else f'{goal:5.1f}':>5s} "
              + ', '.join(f"{r.get('batch')}x{r.get('n')}{_p(r)}: {r['compile_s']:.2f}" for r in rs))
        out.append({'section': sec, 'impl': name, 'ours': ours, 'goal_s': goal, 'max_median_s': med, 'max_first_s': first,
                    'max_cpu_s': cpu,
                    'per_case': [{'case': r['case'], 'median_s': r['compile_s'], 'first_s': r['compile_first_s'],
                                  'cpu_s': r.get('compile_cpu_s'), 'runs_s': r.get('compile_runs_s')} for r in rs]})
        if ours and goal:
            what = 'jit compile < 0.5 s (O(n) W_1 path)' if goal < 1 else 'jit compile < 1 s'
            check(f"{'(info) ' if name.startswith('(info)') else ''}{what}: {name.removeprefix('(info) ')}", sec, goal / med, 1.0,
                  f"max {med:.2f} s (first {first:.2f} s, CPU {cpu:.2f} s)")
    return out


def agreement():
    "Peers' values against the 'ours' row they are compared with."
    out = [{'section': r['section'], 'case': r['case'], 'impl': r['impl'], 'vs': r['vs'], 'value': r['value'], 'rel_diff': r['rel_diff']}
           for r in ROWS if r.get('mode') == 'forward' and not r.get('ours') and r.get('rel_diff') is not None]
    kx = [a for a in out if a['impl'].startswith('korvax')]
    if kx:
        print("\n== korvax agreement (forward values: |korvax - ours| / |ours|) ==")
        for a in kx: print(f"  {a['rel_diff']:8.1e}  {a['impl'][:44]:44s} vs {a['vs'][:60]:60s} [{a['case'][:40]}]")
    return out


def summary():
    comp = compile_summary()
    agr = agreement()
    print("\n== targets (ratios measured in this run; forward+grad unless stated) ==")
    print(f"{'':4s} {'target':96s} {'case':66s} {'measured':>9s} {'goal':>6s}")
    for c in CHECKS:
        m = 'n/a' if c['measured'] is None else f"{c['measured']:.2f}"
        print(f"{'PASS' if c['pass'] else 'MISS'} {c['target'][:96]:96s} {c['case'][:66]:66s} {m:>9s} {c['goal']:>6.3g}  {c['detail']}")
    t = [c for c in CHECKS if not c['info']]
    i = [c for c in CHECKS if c['info']]
    print(f"\n{sum(c['pass'] for c in CHECKS)} PASS, {sum(not c['pass'] for c in CHECKS)} MISS "
          f"(targets: {sum(c['pass'] for c in t)} PASS, {sum(not c['pass'] for c in t)} MISS; "
          f"(info) rows: {sum(c['pass'] for c in i)} PASS, {sum(not c['pass'] for c in i)} MISS) "
          f"(goals as ratios: time of the peer (or the floor) / ours; for slopes, memory and compile time: bound / measured)")
    return comp, agr


def thread_lines(rep) -> list:
    "The thread survey and the utilisation as header lines."
    over = f"{rep['util_over_limit']} timed loops above {rep['util_limit']}" if rep['mode'] == 'single' else 'no limit in default mode'
    return [f"threads seen: up to {rep['threads_seen_max']} threads, allowed CPUs (union of Cpus_allowed_list) "
            f"{rep['cpus_allowed_union']}; up to {rep['busy_threads_max']} threads busy during one timed group "
            f"(busy: {', '.join(f'{k} x{v}' for k, v in rep['busy_thread_names'].items()) or 'none'})",
            f"CPU utilisation of the timed loops (process CPU time / wall): median {rep['util_median']:.2f}, "
            f"max {rep['util_max']:.2f} over {rep['util_n']} loops; {over}"
            if rep['util_n'] else "CPU utilisation: no timed loops"]


def compare_threads():
    suffix = '_quick' if ARGS.quick else ''
    paths = {m: os.path.join(ARGS.out, f'run_all_{m}{suffix}.json') for m in ('single', 'default')}
    if not all(os.path.exists(p) for p in paths.values()): return
    data = {m: json.load(open(p)) for m, p in paths.items()}
    key = lambda r: (r['section'], r['case'], r['impl'], r['mode'])
    idx = {m: {key(r): r for r in data[m]['rows'] if 'median_s' in r and r['section'] != 'scaling'} for m in data}
    print(f"\n== threads: default-threads time / single-thread time (< 1: default threading is faster){' (quick runs)' if suffix else ''} ==")
    for m in ('single', 'default'):
        rep = data[m]['machine'].get('thread_report')
        if rep and rep.get('util_n'):
            print(f"  {m:8s} CPU utilisation median {rep['util_median']:.2f}, max {rep['util_max']:.2f}; threads up to "
                  f"{rep['threads_seen_max']}, CPUs {rep['cpus_allowed_union']}, busy threads up to {rep['busy_threads_max']}")
    print(f"{'section':16s} {'case':66s} {'implementation':44s} {'mode':13s} {'default/single':>14s} {'util s/d':>10s}")
    for k in sorted(set(idx['single']) & set(idx['default'])):
        s, d = idx['single'][k], idx['default'][k]
        u = f"{s['util']:.2f}/{d['util']:.2f}" if 'util' in s and 'util' in d else ''
        print(f"{k[0]:16s} {k[1][:66]:66s} {k[2][:44]:44s} {k[3]:13s} {d['median_s'] / s['median_s']:14.2f} {u:>10s}")
    print("(the two modes ran in separate processes, possibly under different machine load)")


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    txt = os.path.join(ARGS.out, f"run_all_{ARGS.threads}{'_quick' if ARGS.quick else ''}.txt")
    header_lines = 0
    with open(txt, 'w') as fh:
        sys.stdout = Tee(sys.__stdout__, fh)
        try:
            t0 = time.time()
            info = machine_info(ARGS.threads)
            print(f"spectral_losses benchmark suite ({'quick' if ARGS.quick else 'full'}), threads: {ARGS.threads} "
                  f"({'one core for everyone: process pinned to CPU ' + str(info['pinned_cpu']) if ARGS.threads == 'single' else 'library defaults on CPUs ' + info['affinity']}; "
                  f"XLA_FLAGS={info['XLA_FLAGS']!r}, torch threads {info.get('torch_threads')}/{info.get('torch_interop_threads')} interop, "
                  f"OMP_NUM_THREADS={info['OMP_NUM_THREADS']}), float32, median of {ARGS.repeats} interleaved repeats of loops >= {ARGS.min_time} s, "
                  f"compile time = median of {ARGS.compile_repeats} fresh compile(s)")
            print(f"machine: {info['cpu']} ({info['cpu_vendor']} family {info['cpu_family']} model {info['cpu_model']} stepping {info['cpu_stepping']}"
                  f"{', ' + info['cpu_microarch'] if info['cpu_microarch'] else ''}; {info['cpu_simd']}{'; virtual machine' if info['hypervisor'] else ''}), "
                  f"{info['cpus']} CPUs, {info['platform']}, load average {info['loadavg_start']}, {info['date_utc']} UTC")
            print('versions: ' + ', '.join(f"{k} {info[k]}" for k in ('python', 'numpy', 'scipy', 'jax', 'jaxlib', 'ot', 'ott', 'torch', 'auraloss', 'sot', 'korvax', 'spectral_losses')))
            header_lines = 3
            out = {'machine': info, 'args': {k: v for k, v in vars(ARGS).items()}, 'rows': ROWS}
            info['warmup_compile_s'] = warmup()
            print(f"process warm-up compile (not counted in any loss): {info['warmup_compile_s']:.2f} s")
            for sec, fn in (('w1d', section_w1d), ('default_call', section_default_call), ('signal', section_signal),
                            ('features', section_features), ('scaling', section_scaling), ('memory', section_memory)):
                if sec in ARGS.sections:
                    t1 = time.time()
                    try: out[sec] = fn()
                    except Exception:
                        traceback.print_exc(file=sys.stdout); note(f"section {sec} failed (traceback above)")
                    print(f"[section {sec}: {time.time() - t1:.0f} s]", flush=True)
            out['compile'], out['agreement'] = summary()
            out['checks'], out['notes'] = CHECKS, NOTES
            info['loadavg_end'] = os.getloadavg() if hasattr(os, 'getloadavg') else None
            info['wall_s'] = time.time() - t0
            rep = info['thread_report'] = thread_report()
            print()
            for line in thread_lines(rep): print(line)
            if rep['util_over_limit']:
                print(f"WARNING: {rep['util_over_limit']} timed loops ran above {rep['util_limit']} CPU utilisation in single mode")
            print(f"\nwall time {info['wall_s']:.0f} s; load average at the end {info['loadavg_end']}")
            js = txt[:-4] + '.json'
            with open(js, 'w') as f: json.dump(out, f, indent=1, default=lambda o: sorted(o) if isinstance(o, set) else float(o))
            print(f"written: {os.path.relpath(txt)}, {os.path.relpath(js)}")
            compare_threads()
        finally:
            sys.stdout.flush(); sys.stdout = sys.__stdout__
    if header_lines:       # the thread survey and the utilisation into the txt header, after the machine lines
        lines = open(txt).read().splitlines(keepends=True)
        extra = [l + '\n' for l in thread_lines(info['thread_report'])] if 'thread_report' in info else []
        with open(txt, 'w') as f: f.writelines(lines[:header_lines] + extra + lines[header_lines:])


if __name__ == '__main__':
    main()
