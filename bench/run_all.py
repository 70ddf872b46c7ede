"""The spectral_losses benchmark suite: speed against the peers, scaling, memory and compile time, in one run.

    python bench/run_all.py [--quick] [--threads single|default] [--sections w1d,signal,scaling,memory]

Peers (CPU): POT `ot.wasserstein_1d` (numpy, JAX jitted, torch), OTT-JAX's univariate solver (`solve_univariate`,
jitted, vmapped over the batch), `scipy.stats.wasserstein_distance` (a Python loop over the batch, p = 1, no gradient),
sot-loss 0.1.5 (`Wasserstein1DLoss`, torch eager) and auraloss 0.4.0 (`STFTLoss`, `MultiResolutionSTFTLoss`, torch eager).

Method: in every table the implementations of one case are timed **interleaved** (each repeat runs every implementation
once, in a rotating order) and each entry is the median over the repeats of the mean time per call of a loop of at least
`--min-time` seconds. Ratios are `peer time / our time` (> 1: ours is faster). JAX functions are compiled ahead of time
(`jit(f).lower(...).compile()`), and that compile time is reported in its own column, never inside the medians; for our
forward+grad functions it is the median of 3 fresh compiles (`jax.clear_caches()` before each; the first one, which
also pays the process's one-off warm-up, is reported beside it).
Forward = the loss value; forward+grad = the value and its gradient (with respect to the predicted signal, or to both
weight arrays for the 1-D cases). torch peers run eager (torch.compile costs 2-20 s per model to compile here).

Threads: `--threads single` (the default, used for the stored tables) pins XLA to one thread
(XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1) and torch to one thread
(torch.set_num_threads(1)); `--threads default` leaves both libraries at their default threading. Each mode writes
bench/results/run_all_<mode>.txt and .json; when both JSON files exist the run also prints a comparison of the two.
"""
import argparse, contextlib, io, json, os, sys, time, traceback
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _timing import set_threads, time_group, compile_jax, machine_info   # noqa: E402

SIGNAL_SIZES = [(10, 1000), (16, 16000), (4, 48000), (8, 65536)]   # 16 x 16000 and 4 x 48000 are issue 3's sizes
W1D_SIZES = [(64, 4097), (1024, 1025)]
MR_PWG = [(1024, 120, 600), (2048, 240, 1200), (512, 50, 240)]   # auraloss MultiResolutionSTFTLoss defaults (fft, hop, win)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='fewer repeats, shorter loops, smaller scaling/memory grids (< 3 min)')
    ap.add_argument('--threads', default='single', choices=('single', 'default'))
    ap.add_argument('--sections', default='w1d,signal,scaling,memory')
    ap.add_argument('--repeats', type=int, default=None, help='timed repeats per implementation (default 5, quick 3)')
    ap.add_argument('--min-time', type=float, default=None, help='seconds per timed loop (default 0.1, quick 0.03)')
    ap.add_argument('--out', default=os.path.join(HERE, 'results'))
    a = ap.parse_args(argv)
    a.repeats = a.repeats or (3 if a.quick else 5)
    a.min_time = a.min_time or (0.03 if a.quick else 0.1)
    a.sections = a.sections.split(',')
    return a


ARGS = parse_args()
set_threads(ARGS.threads)          # before jax is imported

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
COMPILE_REPEATS = 3   # fresh compiles of each of our forward+grad functions; the compile-time target uses their median


class Impl:
    "One implementation of one loss: `fwd()` and `grad()` thunks (None when not available), value, compile times."
    def __init__(self, name, ours, fwd=None, grad=None, value=None, compile_fwd=None, compile_grad=None, vs=None):
        self.name, self.ours, self.fwd, self.grad, self.value, self.vs = name, ours, fwd, grad, value, vs   # vs: the 'ours' row to compare with
        self.compile = {'forward': compile_fwd, 'forward+grad': compile_grad}
        self.compile_first = compile_grad                      # ours: the first of the COMPILE_REPEATS compiles


def jax_impl(name, f, args, grad_argnums=(0,), ours=True, vs=None, fwd=True):
    "`f(*args)` returns per-example losses; forward = their mean; forward+grad = value_and_grad of the mean."
    loss = lambda *a: jnp.mean(f(*a))
    cg, tg = compile_jax(jax.jit(jax.value_and_grad(loss, grad_argnums)), *args)
    times = [tg]
    for _ in range(COMPILE_REPEATS - 1 if ours else 0):       # ours: the median of fresh compiles (caches cleared)
        jax.clear_caches()
        times.append(compile_jax(jax.jit(jax.value_and_grad(loss, grad_argnums)), *args)[1])
    tg = float(np.median(times))
    if not fwd: impl = Impl(name, ours, None, lambda: cg(*args), None, None, tg, vs)
    else:
        cf, tf = compile_jax(jax.jit(loss), *args)
        impl = Impl(name, ours, lambda: cf(*args), lambda: cg(*args), float(cf(*args)), tf, tg, vs)
    impl.compile_first = times[0]
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
        res[mode] = time_group(fns, ARGS.repeats, ARGS.min_time) if fns else {}
    ours = {i.name: i for i in impls if i.ours}
    first = next(iter(ours), None)
    print(f"\n== {section}: {case} ==")
    print(f"{'implementation':44s} {'fwd ms':>8s} {'f+g ms':>8s} {'fwd x':>7s} {'f+g x':>7s} {'value':>13s} {'rel.diff':>8s} {'compile s f / f+g':>18s}")
    for i in impls:
        t = {m: res[m].get(i.name, {}).get('median') for m in res}
        vs = i.vs or first
        x = {m: (None if (i.ours or t[m] is None or vs is None or vs not in res[m]) else t[m] / res[m][vs]['median']) for m in res}
        ref = None if vs is None else ours[vs].value
        rd = None if (i.ours and i.vs is None) or ref is None or i.value is None else abs(i.value - ref) / max(abs(ref), 1e-30)
        comp = ' / '.join('  -  ' if i.compile[m] is None else f"{i.compile[m]:5.2f}" for m in res)
        xs = {m: '      -' if x[m] is None else f"{x[m]:6.2f}x" for m in res}
        print(f"{i.name:44s} {ms(t['forward'])} {ms(t['forward+grad'])} {xs['forward']} {xs['forward+grad']} "
              f"{'' if i.value is None else f'{i.value:13.6g}':>13s} {'' if rd is None else f'{rd:8.1e}':>8s} {comp:>18s}")
        for m in res:
            if i.name in res[m]:
                ROWS.append({'section': section, 'case': case, 'impl': i.name, 'ours': i.ours, 'mode': m, **(extra or {}),
                             'median_s': res[m][i.name]['median'], 'first_s': res[m][i.name]['first'],
                             'runs_s': res[m][i.name]['runs'], 'compile_s': i.compile[m], 'value': i.value,
                             'compile_first_s': i.compile_first if m == 'forward+grad' else i.compile[m]})
    print(f"(x = peer time / time of {'its' if any(i.vs for i in impls) else 'the'} 'ours' row{'' if any(i.vs for i in impls) else ' ' + repr(first)}: "
          "> 1 means ours is faster; rel.diff = |value - ours| / |ours|)", flush=True)
    return res


def best_peer(res, mode, impls, exclude=()):
    peers = [(res[mode][i.name]['median'], i.name) for i in impls if i is not None and not i.ours and i.name in res[mode] and i.name not in exclude]
    return min(peers) if peers else (None, None)


def check(target, case, ratio, goal, detail=''):
    ok = ratio is not None and ratio >= goal
    CHECKS.append({'target': target, 'case': case, 'goal': goal, 'measured': ratio, 'pass': bool(ok), 'detail': detail})


# ---------------------------------------------------------------------------------------------- 1-D Wasserstein
def ott_w(x, y, a, b, p):
    "OTT's univariate solver, one problem per batch row (OTT shares weights across its d slices, so vmap over rows)."
    cost = costs.Euclidean() if p == 1 else costs.SqEuclidean()
    one = lambda x, y, a, b: solve_univariate(pointcloud.PointCloud(x[:, None], y[:, None], cost_fn=cost), a, b).ot_costs[0]
    return jax.vmap(one, in_axes=(1, 1, 1, 1))(x, y, a, b)


def section_w1d():
    rng = np.random.default_rng(0)
    for batch, n in W1D_SIZES:
        x, y = (rng.normal(size=(n, batch)).astype(np.float32) for _ in range(2))
        a, b = (rng.random((n, batch)).astype(np.float32) for _ in range(2))
        a, b = a / a.sum(0), b / b.sum(0)
        J = [tojax(t) for t in (a, b, x, y)]
        for p in (1, 2):
            if ARGS.quick and p != (1 if n > 2048 else 2): continue     # quick: p = 1 at 64 x 4097, p = 2 at 1024 x 1025
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


# ---------------------------------------------------------------------------------------------- signal losses
def sot_whole(p):
    "sot-loss on the whole-signal power spectrum: |rfft|^2 in torch, then its Wasserstein1DLoss on linspace(0, 1, K)."
    with contextlib.redirect_stdout(io.StringIO()): L = sot.Wasserstein1DLoss(transform='identity', p=p)
    def f(x, y):
        X, Y = torch.fft.rfft(x).abs() ** 2, torch.fft.rfft(y).abs() ** 2
        pos = torch.linspace(0, 1, X.shape[-1])
        return L.loss(X, Y, pos, pos)
    return f


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


def _library_fn(module, want, kwargs):
    "Find an exported function of `spectral_losses.<module>` whose name contains one of `want`; bind the kwargs it accepts."
    import importlib, inspect
    try: m = importlib.import_module(f'spectral_losses.{module}')
    except ImportError as e:
        note(f"spectral_losses.{module} is not present ({e}); its rows are skipped"); return None
    for nm in getattr(m, '__all__', []):
        f = getattr(m, nm)
        if callable(f) and any(w in nm for w in want) and not any(w in nm for w in ('phase', 'preset', 'frames')) and not isinstance(f, type):
            try: sig = inspect.signature(f).parameters
            except (TypeError, ValueError): continue
            kw = {k: v for k, v in kwargs.items() if k in sig}
            print(f"using spectral_losses.{module}.{nm}(x, y, **{kw})")
            return nm, (lambda x, y: f(x, y, **kw))
    note(f"spectral_losses.{module} has no function matching {want} in __all__ = {getattr(m, '__all__', None)}; skipped")
    return None


def try_impl(make):
    try: return make()
    except Exception as e:
        note(f"{type(e).__name__}: {str(e).splitlines()[0][:160]}")
        return None


def section_signal():
    mr = _library_fn('multires', ('multi_resolution_stft_loss', 'multi'), {'preset': 'pwg'})
    if mr:   # the same function at one resolution: auraloss STFTLoss() (per-example SC, where auraloss's is batch-global)
        from spectral_losses.multires import multi_resolution_stft_loss as _mr
        mr1 = lambda x, y: _mr(x, y, 'pwg', fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,))
    sw = _library_fn('stft_ot', ('wasserstein', 'sot', 'ot'), {'n_fft': 1024, 'hop_length': 256, 'window': 'flattop', 'center': True, 'p': 2, 'squared': False})
    rng = np.random.default_rng(1)
    with contextlib.redirect_stdout(io.StringIO()):
        sot_stft = sot.Wasserstein1DLoss()                         # defaults: STFT 1024/256 flattop, magnitudes, p = 2
    aura1 = auraloss.freq.STFTLoss()
    aura_mr = auraloss.freq.MultiResolutionSTFTLoss()
    for batch, T in (SIGNAL_SIZES[1:3] if ARGS.quick else SIGNAL_SIZES):     # quick: 16 x 16000 and 4 x 48000
        x, y = (rng.standard_normal((batch, T)).astype(np.float32) for _ in range(2))
        J = [tojax(x), tojax(y)]
        extra = {'batch': batch, 'n': T}
        # whole-signal spectral Wasserstein, plus the rfft + grad floor
        case = f"batch {batch} x {T}, whole-signal power spectrum"
        imp = [jax_impl('ours spectral_wasserstein p=1', lambda x, y: spectral_wasserstein(x, y, p=1), J),
               jax_impl('ours spectral_wasserstein p=2', lambda x, y: spectral_wasserstein(x, y, p=2), J),
               jax_impl('floor: jnp rfft (sum |X|^2)', lambda x, y: jnp.sum(jnp.abs(jnp.fft.rfft(x)) ** 2, -1), J),
               torch_impl('sot-loss Wasserstein1DLoss p=1', sot_whole(1), (x, y), vs='ours spectral_wasserstein p=1'),
               torch_impl('sot-loss Wasserstein1DLoss p=2', sot_whole(2), (x, y), vs='ours spectral_wasserstein p=2')]
        imp[2].value, imp[2].ours = None, False     # the floor is compared like a peer: its 'x' = floor time / ours (p=2)
        imp[2].vs = 'ours spectral_wasserstein p=2'
        res = run_case('whole-signal SW', case, imp, extra)
        g = res['forward+grad']
        t1, t2, tf = (g[n]['median'] for n in ('ours spectral_wasserstein p=1', 'ours spectral_wasserstein p=2', 'floor: jnp rfft (sum |X|^2)'))
        s1, s2 = g['sot-loss Wasserstein1DLoss p=1']['median'], g['sot-loss Wasserstein1DLoss p=2']['median']
        v = {i.name: i.value for i in imp}
        print(f"p=1: sot/ours {s1 / t1:.2f}x (values {v['ours spectral_wasserstein p=1']:.6g} vs {v['sot-loss Wasserstein1DLoss p=1']:.6g}); "
              f"p=2: sot/ours {s2 / t2:.2f}x (values {v['ours spectral_wasserstein p=2']:.6g} vs {v['sot-loss Wasserstein1DLoss p=2']:.6g}); "
              f"ours/floor p=1 {t1 / tf:.2f}, p=2 {t2 / tf:.2f}")
        check('whole-signal spectral_wasserstein p=2 >= 3x sot-loss (f+g)', case, s2 / t2, 3)
        check('whole-signal spectral_wasserstein p=1 >= 10x sot-loss (f+g)', case, s1 / t1, 10)
        check('whole-signal spectral_wasserstein p=2 within 2x rfft+grad (floor/ours >= 0.5)', case, tf / t2, 0.5, f"ours/floor = {t2 / tf:.2f}")
        check('whole-signal spectral_wasserstein p=1 within 2x rfft+grad (floor/ours >= 0.5)', case, tf / t1, 0.5, f"ours/floor = {t1 / tf:.2f}")
        # frame-wise STFT spectral Wasserstein
        case = f"batch {batch} x {T}, STFT 1024/256 flattop, p=2 (sot-loss defaults)"
        imp = [try_impl(lambda: jax_impl(f'ours stft_ot.{sw[0]}', lambda x, y: sw[1](x, y), J)) if sw else None,
               jax_impl('ours composed (stft + spectral_wasserstein)', ours_stft_sw, J),
               torch_impl('sot-loss Wasserstein1DLoss()', lambda x, y: sot_stft(x, y), (x, y))]
        res = run_case('STFT SW', case, imp, extra)
        for i in imp:
            if i is not None and i.ours:
                t, who = best_peer(res, 'forward+grad', imp)
                check(f'STFT spectral Wasserstein >= 2x sot-loss (f+g) [{i.name}]', case, t / res['forward+grad'][i.name]['median'], 2)
        # single-resolution STFT loss (auraloss STFTLoss defaults)
        case = f"batch {batch} x {T}, STFT loss 1024/256 hann, SC + log-mag (auraloss defaults)"
        imp = [jax_impl('ours composed (stft losses)', ours_stft_loss, J),
               try_impl(lambda: jax_impl(f'ours multires.{mr[0]} (1 resolution)', mr1, J)) if mr else None,
               torch_impl('auraloss STFTLoss()', lambda x, y: aura1(x[:, None], y[:, None]), (x, y))]
        res = run_case('STFT loss', case, imp, extra)
        t, _ = best_peer(res, 'forward+grad', imp)
        for i in imp:
            if i is not None and i.ours:
                check(f'single-resolution STFT loss >= 3x auraloss (f+g) [{i.name}]', case, t / res['forward+grad'][i.name]['median'], 3)
        # multi-resolution STFT loss (auraloss defaults = PWG)
        case = f"batch {batch} x {T}, multi-resolution STFT loss (auraloss defaults, PWG)"
        if T <= 1024:
            note(f"{case}: skipped: the 2048-point resolution needs more than 1024 samples for reflect padding (auraloss and ours both refuse)")
            continue
        imp = [try_impl(lambda: jax_impl(f'ours multires.{mr[0]}', lambda x, y: mr[1](x, y), J)) if mr else None,
               jax_impl('ours composed (3 x stft losses)', ours_mr_composed, J),
               torch_impl('auraloss MultiResolutionSTFTLoss()', lambda x, y: aura_mr(x[:, None], y[:, None]), (x, y))]
        res = run_case('MR-STFT loss', case, imp, extra)
        for i in imp:
            if i is not None and i.ours:
                t, _ = best_peer(res, 'forward+grad', imp)
                check(f'multi-resolution STFT loss >= 2x auraloss (f+g) [{i.name}]', case, t / res['forward+grad'][i.name]['median'], 2)


# ---------------------------------------------------------------------------------------------- scaling
def section_scaling():
    batch = 8
    top = 16 if ARGS.quick else 20
    ns = [2 ** k for k in ((10, 14, 15, 16) if ARGS.quick else range(8, top + 1))]
    rng = np.random.default_rng(2)
    names = ['floor: rfft+grad', 'SW p=1 (signal)', 'SW p=2 (signal)', 'W p=1 shared support (spectra)', 'W p=2 shared support (spectra)']
    table = {k: [] for k in names}
    print(f"\n== scaling: forward+grad, batch {batch}, n = {ns[0]} .. {ns[-1]} samples (spectra: n/2+1 bins) ==")
    print(f"{'n':>8s} " + ' '.join(f"{k[:22]:>22s}" for k in names) + "   (ms)")
    for n in ns:
        x, y = (rng.standard_normal((batch, n)).astype(np.float32) for _ in range(2))
        X, Y = np.abs(np.fft.rfft(x)), np.abs(np.fft.rfft(y))
        S, M = [tojax(x), tojax(y)], [tojax(X), tojax(Y)]
        imp = [jax_impl(names[0], lambda x, y: jnp.sum(jnp.abs(jnp.fft.rfft(x)) ** 2, -1), S, fwd=False),
               jax_impl(names[1], lambda x, y: spectral_wasserstein(x, y, p=1), S, fwd=False),
               jax_impl(names[2], lambda x, y: spectral_wasserstein(x, y, p=2), S, fwd=False),
               jax_impl(names[3], lambda x, y: spectral_wasserstein(x, y, is_mag=True, p=1), M, fwd=False),
               jax_impl(names[4], lambda x, y: spectral_wasserstein(x, y, is_mag=True, p=2), M, fwd=False)]
        res = time_group({i.name: i.grad for i in imp}, ARGS.repeats, ARGS.min_time)
        for i in imp:
            table[i.name].append(res[i.name]['median'])
            ROWS.append({'section': 'scaling', 'case': f'batch {batch} x {n}', 'impl': i.name, 'ours': True, 'mode': 'forward+grad',
                         'batch': batch, 'n': n, 'median_s': res[i.name]['median'], 'runs_s': res[i.name]['runs'], 'compile_s': i.compile['forward+grad']})
        print(f"{n:8d} " + ' '.join(f"{1e3 * table[k][-1]:22.3f}" for k in names), flush=True)
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
    for k, nm in ((names[1], 'p=1'), (names[2], 'p=2')):
        worst = max(t / f for t, f in zip(table[k], table[names[0]]))
        check(f'whole-signal SW {nm} within 2x rfft+grad at every n of the scan (worst floor/ours >= 0.5)', f'batch {batch}, n = {ns[0]}..{ns[-1]}', 1 / worst, 0.5, f"worst ours/floor = {worst:.2f}")
    return {'batch': batch, 'n': ns, 'median_s': table, 'slopes': fits, 'nlogn_slope': nlogn}


# ---------------------------------------------------------------------------------------------- memory
def section_memory():
    "XLA's compiled memory analysis (temporaries) of forward+grad, over batch x n: linear means constant bytes per sample."
    batches = [1, 4, 16] if not ARGS.quick else [1, 8]
    ns = [2 ** 12, 2 ** 16] if not ARGS.quick else [2 ** 12, 2 ** 15]
    losses = {'spectral_wasserstein p=1': lambda x, y: spectral_wasserstein(x, y, p=1),
              'spectral_wasserstein p=2': lambda x, y: spectral_wasserstein(x, y, p=2),
              'stft loss 1024/256 (composed)': ours_stft_loss,
              'wasserstein_1d p=2, separate supports': lambda x, y: wasserstein_1d(x.T, y.T, jnp.abs(y.T) + 1, jnp.abs(x.T) + 1, p=2),
              'rfft floor': lambda x, y: jnp.sum(jnp.abs(jnp.fft.rfft(x)) ** 2, -1)}
    out = {}
    print("\n== memory: XLA temp bytes of the compiled forward+grad, per input sample (batch x n) ==")
    print(f"{'loss':40s} " + ' '.join(f"{f'{b}x{n}':>10s}" for b in batches for n in ns) + f" {'max/min':>8s}")
    for name, f in losses.items():
        vals = []
        for b in batches:
            for n in ns:
                args = [jax.ShapeDtypeStruct((b, n), jnp.float32)] * 2
                c = jax.jit(jax.value_and_grad(lambda x, y: jnp.mean(f(x, y)))).lower(*args).compile()
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
        check(f'memory linear in batch x n: {name} (temp bytes per sample max/min <= 1.5)', 'batch x n grid', 1.5 / spread, 1.0, f"max/min {spread:.2f}")
    return out


# ---------------------------------------------------------------------------------------------- summary
def summary():
    print(f"\n== compile time per loss (trace + lower + compile of forward+grad, median of {COMPILE_REPEATS} fresh compiles; target < 1 s) ==")
    seen = {}
    for r in ROWS:
        if r.get('ours') and r.get('compile_s') is not None and r['mode'] == 'forward+grad' and r['section'] != 'scaling':
            seen.setdefault((r['section'], r['impl']), []).append((r['compile_s'], r.get('compile_first_s', r['compile_s'])))
    for (sec, name), v in seen.items():
        if 'floor' in name: continue
        v, first = [t for t, _ in v], [t for _, t in v]
        print(f"  {sec:16s} {name:46s} max {max(v):5.2f} s over {len(v)} sizes (first compile in the process: max {max(first):5.2f} s)")
        check(f'jit compile < 1 s: {name}', sec, 1 / max(v), 1.0, f"max {max(v):.2f} s")
    print("\n== targets (ratios measured in this run; forward+grad unless stated) ==")
    print(f"{'':4s} {'target':78s} {'case':64s} {'measured':>9s} {'goal':>6s}")
    for c in CHECKS:
        m = 'n/a' if c['measured'] is None else f"{c['measured']:.2f}"
        print(f"{'PASS' if c['pass'] else 'MISS'} {c['target'][:78]:78s} {c['case'][:64]:64s} {m:>9s} {c['goal']:>6g}  {c['detail']}")
    print(f"\n{sum(c['pass'] for c in CHECKS)} PASS, {sum(not c['pass'] for c in CHECKS)} MISS "
          f"(goals as ratios: time of the peer (or the floor) / ours; for slopes, memory and compile time: bound / measured)")


def compare_threads():
    paths = {m: os.path.join(ARGS.out, f'run_all_{m}.json') for m in ('single', 'default')}
    if not all(os.path.exists(p) for p in paths.values()): return
    data = {m: json.load(open(p)) for m, p in paths.items()}
    key = lambda r: (r['section'], r['case'], r['impl'], r['mode'])
    idx = {m: {key(r): r for r in data[m]['rows'] if 'median_s' in r and r['section'] != 'scaling'} for m in data}
    print("\n== threads: default-threads time / single-thread time (< 1: default threading is faster) ==")
    print(f"{'section':16s} {'case':58s} {'implementation':36s} {'mode':13s} {'default/single':>14s}")
    for k in sorted(set(idx['single']) & set(idx['default'])):
        print(f"{k[0]:16s} {k[1][:58]:58s} {k[2][:36]:36s} {k[3]:13s} {idx['default'][k]['median_s'] / idx['single'][k]['median_s']:14.2f}")
    print("(the two modes ran in separate processes, possibly under different machine load)")


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    txt = os.path.join(ARGS.out, f"run_all_{ARGS.threads}{'_quick' if ARGS.quick else ''}.txt")
    with open(txt, 'w') as fh:
        sys.stdout = Tee(sys.__stdout__, fh)
        try:
            t0 = time.time()
            info = machine_info(ARGS.threads)
            print(f"spectral_losses benchmark suite ({'quick' if ARGS.quick else 'full'}), threads: {ARGS.threads} "
                  f"(XLA_FLAGS={info['XLA_FLAGS']!r}, torch threads {info.get('torch_threads')}), float32, "
                  f"median of {ARGS.repeats} interleaved repeats of loops >= {ARGS.min_time} s")
            print(f"machine: {info['cpu']}, {info['cpus']} CPUs, {info['platform']}, load average {info['loadavg_start']}, {info['date_utc']} UTC")
            print('versions: ' + ', '.join(f"{k} {info[k]}" for k in ('python', 'numpy', 'scipy', 'jax', 'jaxlib', 'ot', 'ott', 'torch', 'auraloss', 'sot', 'spectral_losses')))
            out = {'machine': info, 'args': {k: v for k, v in vars(ARGS).items()}, 'rows': ROWS}
            for sec, fn in (('w1d', section_w1d), ('signal', section_signal), ('scaling', section_scaling), ('memory', section_memory)):
                if sec in ARGS.sections:
                    t1 = time.time()
                    try: out[sec] = fn()
                    except Exception:
                        traceback.print_exc(file=sys.stdout); note(f"section {sec} failed (traceback above)")
                    print(f"[section {sec}: {time.time() - t1:.0f} s]", flush=True)
            summary()
            out['checks'], out['notes'] = CHECKS, NOTES
            info['loadavg_end'] = os.getloadavg() if hasattr(os, 'getloadavg') else None
            info['wall_s'] = time.time() - t0
            print(f"\nwall time {info['wall_s']:.0f} s; load average at the end {info['loadavg_end']}")
            js = txt[:-4] + '.json'
            with open(js, 'w') as f: json.dump(out, f, indent=1, default=float)
            print(f"written: {os.path.relpath(txt)}, {os.path.relpath(js)}")
            if not ARGS.quick: compare_threads()
        finally:
            sys.stdout.flush(); sys.stdout = sys.__stdout__


if __name__ == '__main__':
    main()
