"""Shared timing helpers for the benchmarks in `bench/`.

* `set_threads(mode, cpu=None)`: `'single'` = one core for everyone: the process is pinned to one CPU
  (`os.sched_setaffinity`, applied to every thread that exists and inherited by every thread created later, so XLA's
  and torch's pools and OpenBLAS's threads all share that one core), plus the thread settings of each library
  (XLA_FLAGS, torch.set_num_threads(1), OMP/MKL/OpenBLAS = 1). `'default'` = every library's default threading on all
  the cores. Must run before jax, torch and numpy are imported (this module imports numpy lazily for that reason).
* `time_group({name: thunk})`: interleaved medians of several zero-argument callables: every repeat runs each
  implementation once (in a rotating order), so a load spike on the shared machine hits all of them alike and the
  ratios stay fair. Around every timed loop it also measures the process's CPU time (`time.process_time`, all threads)
  against the wall time: the **CPU utilisation** of that implementation. In single mode a utilisation above
  `UTIL_LIMIT` (1.05) means something ran in parallel: a warning is printed and stored in `UTIL_WARNINGS`.
  Before and after each group it surveys the process's threads (`/proc/self/task`): how many exist, the CPUs they may
  run on (`Cpus_allowed_list`), and which of them used CPU during the timed loops (`THREADS`).
* `timeit(f, *args)`: median seconds per call of one jitted function and its first-call time (used by `w1d_bench.py`).
* `compile_jax(f, *args)`: lower and compile a jitted function ahead of time; returns the executable and the seconds.
* `machine_info(mode)`: CPU model (name, family/model/stepping, micro-architecture where known), cores, affinity,
  load, thread settings, library versions; `thread_report()`: what the thread survey and the utilisation saw.
"""
import os, platform, sys, time

SINGLE_XLA_FLAGS = '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'
UTIL_LIMIT = 1.05            # single mode: process CPU time / wall time above this = something ran in parallel
MODE = None                  # set by set_threads
PINNED = None                # the CPU the process is pinned to (single mode)
UTIL_WARNINGS = []           # [{'group': [...], 'impl': name, 'util': u}] in single mode
UTIL = []                    # every timed implementation: {'impl', 'util', 'cpu_s', 'wall_s'}
THREADS = {'max_threads': 0, 'cpus_allowed': set(), 'names': {}, 'max_busy': 0, 'busy_names': {}, 'surveys': 0}
_THREAD_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS')


def _parse_cpus(s):
    "'0-1,4' -> {0, 1, 4}."
    out = set()
    for part in s.strip().split(','):
        if not part: continue
        lo, _, hi = part.partition('-')
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _fmt_cpus(cpus):
    return ','.join(str(c) for c in sorted(cpus))


def set_threads(mode: str, cpu: int | None = None):
    """'single': pin the process to one CPU (`cpu`, default the highest allowed one) and set one thread for XLA, torch
    and OpenMP/BLAS; 'default': the libraries' defaults on all the online CPUs. Call before importing jax/torch/numpy."""
    global MODE, PINNED
    if mode not in ('single', 'default'): raise ValueError(f"unknown thread mode {mode!r}; use 'single' or 'default'")
    late = [m for m in ('jax', 'torch', 'numpy') if m in sys.modules]
    if late and mode == 'single':
        raise RuntimeError(f"set_threads('single') must run before {', '.join(late)} is imported "
                           "(XLA reads XLA_FLAGS once; thread pools are sized and placed at import)")
    MODE = mode
    if mode == 'single':
        allowed = sorted(os.sched_getaffinity(0))
        cpu = allowed[-1] if cpu is None else int(cpu)
        for tid in os.listdir('/proc/self/task'):       # every thread that exists (normally only this one) ...
            try: os.sched_setaffinity(int(tid), {cpu})
            except OSError: pass
        os.sched_setaffinity(0, {cpu})                  # ... and this one, whose mask every new thread inherits
        PINNED = cpu
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + SINGLE_XLA_FLAGS).strip()
        for v in _THREAD_ENV: os.environ[v] = '1'
    else:
        try: os.sched_setaffinity(0, set(range(os.cpu_count())))    # all the cores, even if the caller narrowed us
        except OSError: pass
    try:
        import torch
        if mode == 'single':
            torch.set_num_threads(1)
            try: torch.set_num_interop_threads(1)
            except RuntimeError: pass
    except ImportError: pass


# ---------------------------------------------------------------------------------------------- thread survey
def _threads():
    "{tid: (name, cpus allowed, cpu seconds)} of this process's threads, from /proc/self/task."
    tick, out = os.sysconf('SC_CLK_TCK'), {}
    for tid in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{tid}/status') as f: st = f.read()
            with open(f'/proc/self/task/{tid}/stat') as f: sa = f.read()
        except OSError: continue                         # the thread ended meanwhile
        name = sa[sa.index('(') + 1:sa.rindex(')')]
        fields = sa[sa.rindex(')') + 2:].split()
        cpus = next((_parse_cpus(l.split(':', 1)[1]) for l in st.splitlines() if l.startswith('Cpus_allowed_list')), set())
        out[tid] = (name, cpus, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _survey(before=None, after=None, wall=None):
    "Fold a survey (and, given `before`, the threads busy in between) into THREADS."
    after = after or _threads()
    THREADS['surveys'] += 1
    THREADS['max_threads'] = max(THREADS['max_threads'], len(after))
    for name, cpus, _ in after.values():
        THREADS['cpus_allowed'] |= cpus
        THREADS['names'][name] = max(THREADS['names'].get(name, 0), sum(v[0] == name for v in after.values()))
    if before is not None and wall:
        busy = [v[0] for t, v in after.items() if v[2] - before.get(t, (None, None, 0.0))[2] > 0.1 * wall + 0.02]
        THREADS['max_busy'] = max(THREADS['max_busy'], len(busy))
        for name in busy: THREADS['busy_names'][name] = THREADS['busy_names'].get(name, 0) + 1
    return after


def thread_report() -> dict:
    "What the thread survey and the utilisation measurements saw in this process (JSON-ready)."
    import numpy as np
    utils = [u['util'] for u in UTIL]
    _survey()
    return {'mode': MODE, 'pinned_cpu': PINNED, 'affinity_now': _fmt_cpus(os.sched_getaffinity(0)),
            'threads_seen_max': THREADS['max_threads'], 'cpus_allowed_union': _fmt_cpus(THREADS['cpus_allowed']),
            'n_cpus_allowed_union': len(THREADS['cpus_allowed']), 'thread_names': dict(sorted(THREADS['names'].items())),
            'busy_threads_max': THREADS['max_busy'], 'busy_thread_names': dict(sorted(THREADS['busy_names'].items())),
            'surveys': THREADS['surveys'], 'util_limit': UTIL_LIMIT,
            'util_max': max(utils) if utils else None, 'util_median': float(np.median(utils)) if utils else None,
            'util_n': len(utils), 'util_over_limit': len(UTIL_WARNINGS), 'util_warnings': UTIL_WARNINGS,
            'util_by_impl': {u['impl']: u['util'] for u in UTIL}}


# ---------------------------------------------------------------------------------------------- timing
def _sync(out):
    "Wait for asynchronous (JAX) results; numpy and torch-CPU results are already done."
    if 'jax' in sys.modules:
        import jax
        jax.block_until_ready(out)
    return out


def timeit(f, *args, repeats=7, min_time=0.2):
    "Median seconds per call of the jitted `f`, and its first-call (compile) time."
    import jax, numpy as np
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


def _loop_cpu(f, n):
    "(wall seconds, process CPU seconds) of n calls."
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n): _sync(f())
    return time.perf_counter() - t0, time.process_time() - c0


def time_group(fns: dict, repeats: int = 5, min_time: float = 0.1, max_calls: int = 1 << 14, label: str = '') -> dict:
    """Interleaved medians for zero-argument callables `fns` {name: thunk}.
    Returns {name: {'median': s, 'first': s, 'loops': n, 'runs': [s, ...], 'util': cpu/wall, 'cpu_s', 'wall_s'}};
    `first` is the first call (warm-up); `util` is the process CPU time / wall time over the timed loops."""
    import numpy as np
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
    wall, cpu = {k: 0.0 for k in fns}, {k: 0.0 for k in fns}
    names = list(fns)
    before, w0 = _threads(), time.perf_counter()
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:    # rotate the order every repeat
            w, c = _loop_cpu(fns[k], loops[k])
            runs[k].append(w / loops[k]); wall[k] += w; cpu[k] += c
    _survey(before, wall=time.perf_counter() - w0)
    out = {}
    for k in fns:
        util = cpu[k] / max(wall[k], 1e-12)
        UTIL.append({'impl': f"{label}: {k}" if label else k, 'util': util, 'cpu_s': cpu[k], 'wall_s': wall[k]})
        if MODE == 'single' and util > UTIL_LIMIT:
            UTIL_WARNINGS.append({'group': label, 'impl': k, 'util': util})
            print(f"WARNING: CPU utilisation {util:.2f} > {UTIL_LIMIT} in single-thread mode ({label}: {k}): "
                  "something ran in parallel", flush=True)
        out[k] = {'median': float(np.median(runs[k])), 'first': first[k], 'loops': loops[k], 'runs': runs[k],
                  'util': util, 'cpu_s': cpu[k], 'wall_s': wall[k]}
    return out


def compile_jax(f, *args, cpu=False):
    """Ahead-of-time compile the jitted `f` for `args`: returns (executable, seconds to trace + lower + compile), and
    with `cpu=True` also the process CPU seconds it took (robust to a loaded machine; > wall if it compiled in parallel)."""
    c0, t0 = time.process_time(), time.perf_counter()
    c = f.lower(*args).compile()
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return (c, wall, cpu_s) if cpu else (c, wall)


# ---------------------------------------------------------------------------------------------- the machine
_MICROARCH = {('AuthenticAMD', 23): 'Zen / Zen+ / Zen 2', ('AuthenticAMD', 25): 'Zen 3 / Zen 4',
              ('AuthenticAMD', 26): 'Zen 5'}


def _cpuinfo() -> dict:
    "The first processor's entries of /proc/cpuinfo, plus a micro-architecture label where the family says it."
    d = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if not line.strip(): break
                k, _, v = line.partition(':')
                d[k.strip()] = v.strip()
    except OSError: pass
    fam, model = int(d.get('cpu family', -1) or -1), int(d.get('model', -1) or -1)
    arch = _MICROARCH.get((d.get('vendor_id'), fam))
    if d.get('vendor_id') == 'AuthenticAMD' and fam == 25:        # family 19h: models 0x00-0x0f Zen 3, 0x10-0x1f Zen 4 (Genoa)
        arch = 'Zen 3' if model < 0x10 else 'Zen 4 (Genoa)' if model < 0x20 else 'Zen 3 / Zen 4'
    flags = set(d.get('flags', '').split())
    return {'cpu': d.get('model name') or platform.processor() or platform.machine(), 'cpu_vendor': d.get('vendor_id'),
            'cpu_family': fam, 'cpu_model': model, 'cpu_stepping': d.get('stepping'), 'cpu_microarch': arch,
            'cpu_mhz': d.get('cpu MHz'), 'cpu_cache': d.get('cache size'), 'hypervisor': 'hypervisor' in flags,
            'cpu_simd': ' '.join(x for x in ('sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16') if x in flags)}


def machine_info(threads: str) -> dict:
    "The machine (CPU model stored so a docs page can name it), the load, the thread settings and the versions."
    info = {'python': platform.python_version(), 'platform': platform.platform(), 'cpus': os.cpu_count(),
            **_cpuinfo(), 'threads': threads, 'pinned_cpu': PINNED,
            'affinity': _fmt_cpus(os.sched_getaffinity(0)), 'XLA_FLAGS': os.environ.get('XLA_FLAGS', ''),
            **{v: os.environ.get(v) for v in _THREAD_ENV},
            'loadavg_start': os.getloadavg() if hasattr(os, 'getloadavg') else None,
            'date_utc': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}
    for mod in ('numpy', 'scipy', 'jax', 'jaxlib', 'ot', 'ott', 'torch', 'auraloss', 'sot', 'korvax', 'spectral_losses'):
        info[mod] = _version(mod)
    try:
        import torch
        info['torch_threads'] = torch.get_num_threads()
        info['torch_interop_threads'] = torch.get_num_interop_threads()
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
    return _cpuinfo()['cpu']
