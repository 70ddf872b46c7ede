"""Shared timing helpers for the benchmarks in `bench/`.

* `timeit(f, *args)`: median seconds per call of one (jitted) function and its first-call time (used by `w1d_bench.py`).
* `time_group({name: thunk})`: the same for several zero-argument callables, **interleaved**: every repeat runs each
  implementation once (in a rotating order), so a load spike on the shared machine hits all of them alike and the ratios
  stay fair.
* `compile_jax(f, *args)`: lower and compile a jitted function ahead of time; returns the executable and the seconds spent.
* `set_threads(mode)`: single-threaded (XLA and torch) or library-default threading; must run before jax is imported.
* `machine_info()`: CPU, cores, load, library versions, thread mode.
"""
import os, platform, sys, time
import numpy as np

SINGLE_XLA_FLAGS = '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'


def set_threads(mode: str):
    "'single': one thread for XLA (XLA_FLAGS) and torch; 'default': the libraries' defaults. Call before importing jax."
    if mode not in ('single', 'default'): raise ValueError(f"unknown thread mode {mode!r}; use 'single' or 'default'")
    if 'jax' in sys.modules and mode == 'single':
        raise RuntimeError("set_threads('single') must run before jax is imported (XLA reads XLA_FLAGS once)")
    if mode == 'single':
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + SINGLE_XLA_FLAGS).strip()
        for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[v] = '1'
    try:
        import torch
        if mode == 'single': torch.set_num_threads(1)
    except ImportError: pass


def _sync(out):
    "Wait for asynchronous (JAX) results; numpy and torch-CPU results are already done."
    if 'jax' in sys.modules:
        import jax
        jax.block_until_ready(out)
    return out


def timeit(f, *args, repeats=7, min_time=0.2):
    "Median seconds per call of the jitted `f`, and its first-call (compile) time."
    import jax
    t0 = time.perf_counter(); jax.block_until_ready(f(*args)); compile_s = time.perf_counter() - t0
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n): jax.block_until_ready(f(*args))
        dt = time.perf_counter() - t0
        if dt >= min_time: break
        n *= 2
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n): jax.block_until_ready(f(*args))
        runs.append((time.perf_counter() - t0) / n)
    return float(np.median(runs)), compile_s


def _loop(f, n):
    t0 = time.perf_counter()
    for _ in range(n): _sync(f())
    return time.perf_counter() - t0


def time_group(fns: dict, repeats: int = 5, min_time: float = 0.1, max_calls: int = 1 << 14) -> dict:
    """Interleaved medians for zero-argument callables `fns` {name: thunk}.
    Returns {name: {'median': s, 'first': s, 'loops': n, 'runs': [s, ...]}}; `first` is the first call (warm-up)."""
    first, loops = {}, {}
    for k, f in fns.items():
        t0 = time.perf_counter(); _sync(f()); first[k] = time.perf_counter() - t0
        n = 1
        while n < max_calls:                                   # calibrate: a loop of at least `min_time`
            dt = _loop(f, n)
            if dt >= min_time: break
            n = min(max_calls, max(2 * n, int(np.ceil(n * 1.2 * min_time / max(dt, 1e-9)))))
        loops[k] = n
    runs = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:    # rotate the order every repeat
            runs[k].append(_loop(fns[k], loops[k]) / loops[k])
    return {k: {'median': float(np.median(runs[k])), 'first': first[k], 'loops': loops[k], 'runs': runs[k]} for k in fns}


def compile_jax(f, *args):
    "Ahead-of-time compile the jitted `f` for `args`: returns (executable, seconds to trace + lower + compile)."
    t0 = time.perf_counter()
    c = f.lower(*args).compile()
    return c, time.perf_counter() - t0


def machine_info(threads: str) -> dict:
    "The machine, the load and the versions of every library the benchmarks touch."
    info = {'python': platform.python_version(), 'platform': platform.platform(), 'cpus': os.cpu_count(),
            'cpu': _cpu_name(), 'threads': threads, 'XLA_FLAGS': os.environ.get('XLA_FLAGS', ''),
            'loadavg_start': os.getloadavg() if hasattr(os, 'getloadavg') else None,
            'date_utc': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}
    for mod in ('numpy', 'scipy', 'jax', 'jaxlib', 'ot', 'ott', 'torch', 'auraloss', 'sot', 'spectral_losses'):
        info[mod] = _version(mod)
    try:
        import torch
        info['torch_threads'] = torch.get_num_threads()
    except ImportError: pass
    return info


def _version(mod):
    try:
        from importlib.metadata import version
        dist = {'ot': 'POT', 'ott': 'ott-jax', 'sot': 'sot-loss'}.get(mod, mod)
        return version(dist)
    except Exception:
        m = sys.modules.get(mod)
        return getattr(m, '__version__', None)


def _cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()
