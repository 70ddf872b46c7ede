#!/usr/bin/env python
"""Core tests of `spectral_losses` that need only jax and numpy, for the minimum versions.

    python tools/test_min.py              # run; ends 'N passed, N failed', exit 1 on a failure
    python tools/test_min.py -k wasser    # only the cases whose name contains 'wasser'
    python tools/test_min.py --write-ref  # store the reference values (with the current jax, .venv)
    python tools/test_min.py --floors     # settings.ini's requirements pinned at their floors
    python tools/test_min.py --at-floors  # also fail unless the installed versions are the floors
    make test-min                         # .venv-min: the floors + the package (--no-deps), this

What it checks, with nothing but jax + numpy installed (no POT, torch, librosa):
- with --at-floors (what `make test-min` runs): the installed versions of the requirements are
  exactly settings.ini's floors, so a pass is evidence for the declared floors;
- every module imports (found with pkgutil, so a new module is covered without an edit here);
- every `jax.`/`jnp.`/`lax.`/`np.` name the installed package's code refers to (attribute chains
  and `from jax... import` names, found with `ast`) exists in the installed jax and numpy: this
  covers code paths the cases below do not run; imports inside `try: ... except ImportError`
  are skipped (they have a fallback);
- each public loss / transform on fixed random signals, float32: the value under `jit` equals the
  stored reference (tools/test_min_ref.json, made with the current jax) to float32 tolerance; the
  gradient (same compile) is finite and matches the stored gradient summary (looser); for some,
  `jit(vmap(f))` equals the batched call;
- `spectral_losses.testing.check_loss` on a few losses (edge cases, transforms, dtypes, bad input,
  finite differences via jax.test_util);
- float64 under x64 for some (switched on globally at the end, with `jax.config.update`): float64
  out, finite gradient, equal to the float64 reference.

The script itself uses only APIs that exist in jax >= 0.4.30 and numpy >= 1.24, so that a failure
points at the library. Regenerate the reference (`--write-ref`) when a loss's definition changes on
purpose; an unexplained change of a value is what this test is for.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from functools import partial
from pathlib import Path

REF = Path(__file__).with_name('test_min_ref.json')
RTOL_VALUE, RTOL_GRAD, RTOL_64 = 2e-4, 2e-3, 1e-3  # relative to the case's largest |reference|
RTOL_64_REF = 1e-9  # float64 values against the float64 reference
N = 1024  # samples per signal
SR = 16000.0


def versions() -> str:
    import numpy as np
    import jax

    try:
        import jaxlib

        jl = getattr(jaxlib, '__version__', None) or jaxlib.version.__version__
    except Exception as e:  # pragma: no cover
        jl = f'? ({e})'
    return (
        f"python {platform.python_version()}, jax {jax.__version__}, jaxlib {jl},"
        f" numpy {np.__version__}"
    )


# ---------------------------------------------------------------- signals (stable across versions)
def signals(dtype):
    "Two batches of 2 signals of N samples: noise plus tones (legacy RandomState: a stable stream)."
    import numpy as np
    import jax.numpy as jnp

    rs = np.random.RandomState(0)
    t = np.arange(N) / SR
    x = 0.3 * rs.standard_normal((2, N)) + np.sin(2 * np.pi * np.array([[440.0], [1000.0]]) * t)
    y = 0.3 * rs.standard_normal((2, N)) + np.sin(2 * np.pi * np.array([[660.0], [1500.0]]) * t)
    w = rs.standard_normal(4096)  # fixed weights for summaries of array outputs
    return jnp.asarray(x, dtype), jnp.asarray(y, dtype), w


# ---------------------------------------------------------------- the cases
def cases():
    """name -> (fn(x, y), options). fn maps two (..., N) float signals to a per-signal value or an
    array; options: grad (differentiate w.r.t. x), vmap (also check jit(vmap(fn)) = fn), x64 (also
    run in float64), ref (compare with the stored value), numpy (numpy-only: value check only).
    vmap and x64 are on for a representative few: every check is a compile, and compiles dominate.
    """
    import numpy as np
    import jax
    import jax.numpy as jnp
    import spectral_losses as sl

    L = importlib.import_module('spectral_losses.losses')
    ot1d = importlib.import_module('spectral_losses.ot1d')
    sot = importlib.import_module('spectral_losses.spectral_ot')
    spectra = importlib.import_module('spectral_losses.spectra')
    mel = importlib.import_module('spectral_losses.mel')
    stl = importlib.import_module('spectral_losses.stft_losses')
    mr = importlib.import_module('spectral_losses.multires')
    sto = importlib.import_module('spectral_losses.stft_ot')
    circ = importlib.import_module('spectral_losses.circular')
    comp = importlib.import_module('spectral_losses.compose')
    synth = importlib.import_module('spectral_losses.synth')
    wt = importlib.import_module('spectral_losses.weighting')
    del sl

    rfft = jnp.fft.rfft
    S = lambda s: spectra.stft(s, 256, 64)  # complex (..., bins, frames)
    small = dict(fft_sizes=(128, 256), hop_sizes=(32, 64), win_lengths=(128, 256))
    support = lambda s: s[..., :64]  # a 64-point support per signal
    unit = lambda s: jnp.abs(s[..., :64]) / jnp.sum(jnp.abs(s[..., :64]), -1, keepdims=True)
    # points on the circle [0, 1) and their weights, support first (POT's layout)
    frac = lambda s: jnp.moveaxis(jnp.mod(s[..., :64] * 0.37, 1.0), -1, 0)
    ufrac = lambda s: jnp.moveaxis(unit(s), -1, 0)
    stereo = lambda s: jnp.stack([s, s[..., ::-1]], -2)
    osc = lambda s: (440.0 + 100.0 * s[..., :4], 0.5 + 0.1 * s[..., 4:8])  # freqs, amps (..., 4)

    C = {}

    def case(name, fn, **opt):
        C[name] = (
            fn,
            dict(dict(grad=True, vmap=False, x64=False, ref=True, numpy=False, jit=True), **opt),
        )

    # losses (seed API) on spectra
    case('losses.log_mag', lambda x, y: L.log_mag(rfft(x)))
    case('losses.log_mag_loss', lambda x, y: L.log_mag_loss(rfft(x), rfft(y)), vmap=True, x64=True)
    case(
        'losses.log_mag_loss l2 floor',
        lambda x, y: L.log_mag_loss(rfft(x), rfft(y), distance='l2', floor=1e-3),
    )
    case('losses.linear_mag_loss', lambda x, y: L.linear_mag_loss(rfft(x), rfft(y)))
    case(
        'losses.spectral_convergence_loss',
        lambda x, y: L.spectral_convergence_loss(rfft(x), rfft(y)),
    )
    # 1-D optimal transport
    case(
        'ot1d.wasserstein_1d p=1',
        lambda x, y: ot1d.wasserstein_1d(support(x), support(y), p=1, axis=-1),
    )
    case(
        'ot1d.wasserstein_1d p=2 weighted',
        lambda x, y: ot1d.wasserstein_1d(
            support(x), support(y), unit(y), unit(x[..., ::-1]), p=2, axis=-1
        ),
        vmap=True,
        x64=True,
    )
    case(
        'ot1d.quantile_function',
        lambda x, y: ot1d.quantile_function(
            jnp.linspace(0.01, 0.99, 17) + 0 * x[..., :17],
            jnp.cumsum(unit(y), -1),
            jnp.sort(support(x), -1),
            axis=-1,
        ),
    )
    # spectral OT
    case(
        'spectral_ot.spectral_wasserstein',
        lambda x, y: sot.spectral_wasserstein(x, y),
        vmap=True,
        x64=True,
    )
    case(
        'spectral_ot.spectral_wasserstein p=1 hann',
        lambda x, y: sot.spectral_wasserstein(x, y, p=1, window='hann'),
        x64=True,
    )
    case(
        'spectral_ot.spectral_wasserstein cutoff',
        lambda x, y: sot.spectral_wasserstein(x, y, cutoff=True, squared=False),
    )
    case(
        'spectral_ot.spectral_quantiles',
        lambda x, y: jnp.concatenate(
            [
                jnp.broadcast_to(q, x.shape[:-1] + q.shape[-1:])
                for q in sot.spectral_quantiles(x, y, levels=64)
            ],
            -1,
        ),
    )
    # spectra and mel
    case('spectra.compute_mag', lambda x, y: spectra.compute_mag(x, 'hann'))
    case('spectra.stft', lambda x, y: jnp.concatenate([S(x).real, S(x).imag], -1))
    case('spectra.magnitude', lambda x, y: spectra.magnitude(S(x)))
    case(
        'mel.mel_spectrogram', lambda x, y: mel.mel_spectrogram(x, SR, 256, 64, n_mels=32), x64=True
    )
    case('mel.mel_filterbank', lambda x, y: mel.mel_filterbank(SR, 256, 32), numpy=True)
    case(
        'mel.hz_to_mel/mel_to_hz',
        lambda x, y: np.concatenate(
            [
                mel.hz_to_mel(np.array([100.0, 1000.0, 4000.0])),
                mel.mel_to_hz(np.array([5.0, 20.0]), htk=True),
            ]
        ),
        numpy=True,
    )
    # frame-wise STFT losses
    case(
        'stft_losses.stft_spectral_convergence',
        lambda x, y: stl.stft_spectral_convergence(S(x), S(y)),
    )
    case('stft_losses.stft_log_mag_loss', lambda x, y: stl.stft_log_mag_loss(S(x), S(y)), vmap=True)
    case('stft_losses.stft_linear_mag_loss', lambda x, y: stl.stft_linear_mag_loss(S(x), S(y)))
    case('stft_losses.stft_phase_loss', lambda x, y: stl.stft_phase_loss(S(x), S(y)))
    # multi-resolution
    case(
        'multires.multi_resolution_stft_loss pwg',
        lambda x, y: mr.multi_resolution_stft_loss(x, y, 'pwg', **small),
        x64=True,
    )
    case(
        'multires.multi_resolution_stft_loss ddsp',
        lambda x, y: mr.multi_resolution_stft_loss(x, y, 'ddsp', **small),
    )
    case(
        'multires.multi_resolution_stft_loss mel',
        lambda x, y: mr.multi_resolution_stft_loss(x, y, 'pwg', n_mels=32, sample_rate=SR, **small),
    )
    # random resolutions: the key's random bits changed with jax_threefry_partitionable (jax 0.5),
    # so only finiteness and the gradient are checked, not the stored value; eager (jit=False), as
    # the resolutions are drawn with numpy at trace time and a key split under jit is a tracer
    key = jax.random.PRNGKey(0)
    case(
        'multires.random_resolution_stft_loss',
        lambda x, y: mr.random_resolution_stft_loss(x, y, key, 2, max_fft_size=512),
        ref=False,
        jit=False,
    )
    case(
        'multires.sum_and_difference_loss',
        lambda x, y: mr.sum_and_difference_loss(
            stereo(x), stereo(y), partial(mr.multi_resolution_stft_loss, **small)
        ),
    )
    # spectral OT on STFT frames
    case(
        'stft_ot.stft_wasserstein',
        lambda x, y: sto.stft_wasserstein(x, y, 256, 64),
        vmap=True,
        x64=True,
    )
    case(
        'stft_ot.stft_wasserstein mel p=1',
        lambda x, y: sto.stft_wasserstein(
            x, y, 256, 64, p=1, freq_scale='mel', sample_rate=SR, n_mels=32
        ),
    )
    case(
        'stft_ot.multi_resolution_stft_wasserstein',
        lambda x, y: sto.multi_resolution_stft_wasserstein(x, y, (128, 256), (32, 64)),
    )
    # circular
    case(
        'circular.wasserstein_circle',
        lambda x, y: circ.wasserstein_circle(
            frac(x), frac(y), ufrac(y), ufrac(x), require_sort=True
        ),
        vmap=True,
        x64=True,
    )
    # presorted atoms, distinct supports: a merge (jnp.put_along_axis) instead of a sort
    case(
        'circular.wasserstein_circle presorted',
        lambda x, y: circ.wasserstein_circle(
            jnp.sort(frac(x), 0), jnp.sort(frac(y), 0), ufrac(y), ufrac(x), require_sort=False
        ),
    )
    case('circular.chroma_wasserstein', lambda x, y: circ.chroma_wasserstein(x, y, SR))
    # composed losses
    case(
        'compose.spectral_loss STFT l1+sc',
        lambda x, y: comp.spectral_loss(
            x, y, [comp.STFT(256, 64), comp.STFT(128, 32)], [comp.term('l1'), comp.term('sc')]
        ),
        x64=True,
    )
    case(
        'compose.spectral_loss MelSTFT log',
        lambda x, y: comp.spectral_loss(
            x, y, comp.MelSTFT(256, 64, SR, n_mels=32), comp.term('l1', 'log')
        ),
    )
    # synthesis (differentiated w.r.t. the controls made from x)
    case(
        'synth.oscillator_bank',
        lambda x, y: synth.oscillator_bank(*osc(x), 512, SR),
        vmap=True,
        x64=True,
    )
    case(
        'synth.harmonic',
        lambda x, y: synth.harmonic(220.0 + 10.0 * x[..., 0], 0.5 + 0.1 * x[..., 4:8], 512, SR),
    )
    # weighting
    case('weighting.pre_emphasis hp', lambda x, y: wt.pre_emphasis(x, 'hp'))
    case(
        'weighting.pre_emphasis aw', lambda x, y: wt.pre_emphasis(x, 'aw', sample_rate=SR, ntaps=31)
    )
    case(
        'weighting.frequency_weighting',
        lambda x, y: np.concatenate(
            [wt.frequency_weighting(np.array([31.5, 1000.0, 8000.0]), k) for k in wt.WEIGHTINGS]
        ),
        numpy=True,
    )
    return C


def check_loss_cases():
    """Losses that run the library's own test battery (`spectral_losses.testing.check_loss`): a
    few, as each is ~10-30 s of compiles on 2 busy cores (stft_wasserstein alone took 65 s)."""
    import jax.numpy as jnp
    from spectral_losses.losses import log_mag_loss
    from spectral_losses.spectral_ot import spectral_wasserstein
    from spectral_losses.multires import multi_resolution_stft_loss

    # rfft takes float32/float64 only: half-precision signals (check_dtypes) are promoted first
    rfft = lambda s: jnp.fft.rfft(jnp.asarray(s, jnp.promote_types(s.dtype, jnp.float32)))
    return {
        'check_loss spectral_wasserstein p=1 hann': (
            lambda x, y: spectral_wasserstein(x, y, p=1, window='hann'),
            dict(names=('x', 'y')),
        ),
        'check_loss log_mag_loss(rfft)': (lambda x, y: log_mag_loss(rfft(x), rfft(y)), {}),
        'check_loss multi_resolution_stft_loss': (
            lambda x, y: multi_resolution_stft_loss(
                x, y, 'pwg', fft_sizes=(64,), hop_sizes=(16,), win_lengths=(64,)
            ),
            dict(eager=False, fd_samples=None),
        ),
    }


# ---------------------------------------------------------------- helpers
def summary(a, w):
    "A few numbers that pin an array down: its first values, mean |a|, rms, and a weighted sum."
    import numpy as np

    a = np.asarray(a)
    if np.iscomplexobj(a):
        a = np.concatenate([a.real.ravel(), a.imag.ravel()])
    a = a.astype(np.float64).ravel()
    if a.size <= 16:
        return a.tolist()
    ww = np.resize(w, a.size)
    return a[:8].tolist() + [
        float(np.mean(np.abs(a))),
        float(np.sqrt(np.mean(a * a))),
        float(np.mean(a * ww)),
    ]


def close(got, want, rtol, what):
    import numpy as np

    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(got - want), initial=0.0))
    if not np.all(np.isfinite(got)) or err > rtol * scale:
        raise AssertionError(
            f"{what}: max abs difference {err:.3g} > {rtol:g} x {scale:.3g}\n"
            f"   got      {np.array2string(got[:6], precision=8)}\n"
            f"   expected {np.array2string(want[:6], precision=8)}"
        )


def finite(a, what):
    import numpy as np

    a = np.asarray(a)
    if not np.all(np.isfinite(a)):
        raise AssertionError(f"{what}: {np.size(a) - np.isfinite(a).sum()} non-finite entries")


def scalar_of(fn, w):
    "x -> a scalar: the sum of fn's output, weighted by fixed numbers for array outputs."
    import jax.numpy as jnp

    import numpy as np

    def f(x, y):
        flat = fn(x, y).reshape(-1)
        return (
            jnp.sum(flat * jnp.asarray(np.resize(w, flat.size), flat.dtype))
            if flat.size > 2
            else jnp.sum(flat)
        )

    return f


# ---------------------------------------------------------------- the runner
class Runner:
    def __init__(self, verbose=False):
        self.passed, self.failed, self.verbose = 0, [], verbose

    def run(self, name, thunk):
        t0 = time.perf_counter()
        try:
            note = thunk()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next case runs
            dt = time.perf_counter() - t0
            msg = f"{type(e).__name__}: {e}".strip()
            self.failed.append((name, msg))
            print(f"FAIL {name} ({dt:.1f}s)\n     {msg.splitlines()[0][:300]}", flush=True)
            for line in msg.splitlines()[1:6]:
                print(f"     {line[:300]}", flush=True)
            if self.verbose:
                traceback.print_exc()
            return None
        dt = time.perf_counter() - t0
        self.passed += 1
        print(f"PASS {name} ({dt:.1f}s){'  ' + note if note else ''}", flush=True)
        return note


SETTINGS = Path(__file__).resolve().parent.parent / 'settings.ini'


def floors(settings: Path = SETTINGS) -> list[str]:
    """settings.ini's `requirements` with each `>=` floor pinned exactly as declared:
    `jax>=0.8.0` -> `jax==0.8.0`, `numpy>=2.0` -> `numpy==2.0` (which pip reads as 2.0.0)."""
    from configparser import ConfigParser

    cp = ConfigParser(delimiters=['='])
    cp.read(settings, encoding='utf-8')
    out = []
    for req in cp['DEFAULT'].get('requirements', '').split():
        name, sep, v = req.partition('>=')
        out.append(f"{name}=={v.split(',')[0]}" if sep else req)
    return out


def release(v: str) -> tuple:
    "The release numbers of a version, trailing zeros dropped: '2.0' and '2.0.0' -> (2,)."
    import re

    t = [int(p) for p in re.match(r'\d+(?:\.\d+)*', v).group(0).split('.')]
    while len(t) > 1 and t[-1] == 0:
        t.pop()
    return tuple(t)


def at_floors() -> str:
    "Raise unless each pinned requirement's installed version is its declared floor."
    from importlib.metadata import version

    got, bad = [], []
    for pin in floors():
        name, sep, want = pin.partition('==')
        if not sep:
            continue
        have = version(name)
        got.append(f"{name} {have}")
        if release(have) != release(want):
            bad.append(f"{name} {have} installed, the declared floor is {want}")
    if bad:
        raise AssertionError('; '.join(bad))
    return ', '.join(got)


def api_refs(pkg_dir: Path):
    """(name, 'file:line') for each jax/numpy name the package's code refers to: attribute chains
    on an imported jax/numpy module (`jnp.fft.rfft`) and names imported from one; imports in a
    `try` whose handler catches ImportError, AttributeError or Exception are skipped (they have a
    fallback)."""
    import ast

    roots = ('jax', 'numpy')
    fallbacks = ('ImportError', 'AttributeError', "'Exception'")
    out = []
    for f in sorted(pkg_dir.glob('*.py')):
        tree = ast.parse(f.read_text(encoding='utf-8'))
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                h.type is None or any(e in ast.dump(h.type) for e in fallbacks)
                for h in node.handlers
            ):
                guarded |= {id(n) for b in node.body for n in ast.walk(b)}
        alias = {}  # local name -> module
        for node in ast.walk(tree):
            where = f"{f.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                for a in node.names:
                    top = a.name.split('.')[0]
                    if top in roots:
                        alias[a.asname or top] = a.name if a.asname else top
                        if id(node) not in guarded:
                            out.append((a.name, where))
            elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] in roots:
                for a in node.names:
                    alias[a.asname or a.name] = f"{node.module}.{a.name}"
                    if id(node) not in guarded:
                        out.append((f"{node.module}.{a.name}", where))
        attrs = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
        inner = {id(n.value) for n in attrs}  # `jnp.fft` in `jnp.fft.rfft`: not a chain of its own
        for node in attrs:
            if id(node) in inner or id(node) in guarded:
                continue
            parts, n = [], node
            while isinstance(n, ast.Attribute):
                parts.append(n.attr)
                n = n.value
            if isinstance(n, ast.Name) and n.id in alias:
                out.append(('.'.join([alias[n.id]] + parts[::-1]), f"{f.name}:{node.lineno}"))
    return sorted(set(out))


def missing_api(refs) -> list[str]:
    "The references that do not resolve: a module lacks the attribute (objects are not checked)."
    import importlib
    import types

    bad = []
    for name, where in refs:
        parts = name.split('.')
        try:
            obj, path = importlib.import_module(parts[0]), parts[0]
        except ImportError as e:
            bad.append(f"{name} ({where}): {e}")
            continue
        for p in parts[1:]:
            if hasattr(obj, p):
                obj, path = getattr(obj, p), f"{path}.{p}"
                continue
            if not isinstance(obj, types.ModuleType):
                break  # an attribute of a class or object: not checked
            try:
                obj, path = importlib.import_module(f"{path}.{p}"), f"{path}.{p}"
            except ImportError:
                bad.append(f"{name} ({where}): {path} has no {p!r}")
                break
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        '--floors',
        action='store_true',
        help="print settings.ini's requirements pinned at their floors, and exit",
    )
    ap.add_argument(
        '--at-floors',
        action='store_true',
        help="fail unless the installed versions of the requirements are settings.ini's floors",
    )
    ap.add_argument('-k', default='', help='only the cases whose name contains this')
    ap.add_argument('--write-ref', action='store_true', help=f'write {REF.name} from this jax')
    ap.add_argument('--no-check-loss', action='store_true', help='skip the check_loss battery')
    ap.add_argument('-v', '--verbose', action='store_true', help='full tracebacks')
    args = ap.parse_args(argv)
    if args.floors:
        print(' '.join(floors()))
        return 0
    t_start = time.perf_counter()
    print(versions(), flush=True)
    R = Runner(args.verbose)
    if args.at_floors:
        R.run("installed versions = settings.ini's floors", at_floors)

    # 1. every public module imports
    t0 = time.perf_counter()
    import spectral_losses

    where = Path(spectral_losses.__file__).parent
    print(f"spectral_losses {getattr(spectral_losses, '__version__', '?')} from {where}")
    mods = sorted(m.name for m in pkgutil.iter_modules(spectral_losses.__path__))
    public = [m for m in mods if not m.startswith('_')]
    for m in mods:

        def imp(m=m):
            mod = importlib.import_module(f'spectral_losses.{m}')
            missing = [n for n in getattr(mod, '__all__', []) if not hasattr(mod, n)]
            if missing:
                raise AssertionError(f"__all__ names missing: {missing}")
            return f"{len(getattr(mod, '__all__', []))} public names" if m in public else ''

        R.run(f"import spectral_losses.{m}", imp)
    print(f"     imports took {time.perf_counter() - t0:.1f}s")

    def api():
        refs = api_refs(where)
        bad = missing_api(refs)
        if bad:
            raise AssertionError(f"{len(bad)} missing: " + '; '.join(bad))
        return f"{len(refs)} references"

    R.run("every jax/numpy name the package refers to exists", api)

    import numpy as np
    import jax
    import jax.numpy as jnp

    jax.config.update('jax_enable_x64', False)
    ref = {} if args.write_ref else (json.loads(REF.read_text()) if REF.exists() else None)
    if ref is None:
        print(f"no {REF}: values are not compared (make it with --write-ref)")
    new = {'_made_with': versions(), 'cases': {}}
    try:
        all_cases = cases()
    except Exception as e:  # an API the cases use is gone from the library: one clear failure
        R.run('cases: the public API the test uses', lambda: (_ for _ in ()).throw(e))
        all_cases = {}
    sel = {k: v for k, v in all_cases.items() if args.k in k}

    # 2. float32: value (= reference) and gradient (finite, = reference) from one jit compile;
    #    jit(vmap(fn)) = fn for some
    x, y, w = signals(jnp.float32)

    def evaluate(fn, o, x, y, w):
        "fn's value and (if o['grad']) its gradient w.r.t. x, from one jit compile."
        jit = jax.jit if o['jit'] else (lambda f: f)
        if not o['grad']:
            return jit(fn)(x, y), None
        scalar = scalar_of(fn, w)
        aux = lambda x, y: (scalar(x, y), fn(x, y))
        (_, v), g = jit(jax.value_and_grad(aux, has_aux=True))(x, y)
        return v, g

    for name, (fn, o) in sel.items():

        def one(name=name, fn=fn, o=o):
            want = (ref or {}).get('cases', {}).get(name) if o['ref'] else None
            if ref is not None and o['ref'] and want is None and not args.write_ref:
                raise AssertionError("no reference for this case: run --write-ref")
            if o['numpy']:
                v, g = fn(x, y), None
            else:
                v, g = evaluate(fn, o, x, y, w)
                if v.dtype != jnp.float32:
                    raise AssertionError(f"float32 inputs gave {v.dtype}")
            finite(v, 'value')
            rec = {'value': summary(v, w)}
            if want:
                close(rec['value'], want['value'], RTOL_VALUE, 'value vs reference')
            if g is not None:
                finite(g, 'gradient')
                rec['grad'] = summary(g, w)[-3:]
                if want and 'grad' in want:
                    close(rec['grad'], want['grad'], RTOL_GRAD, 'gradient vs reference')
            if o['vmap']:
                close(jax.jit(jax.vmap(fn))(x, y), v, RTOL_VALUE, 'jit(vmap) vs batch')
            new['cases'][name] = rec
            return 'vmap' if o['vmap'] else ''

        R.run(f"f32 {name}", one)

    # 3. the library's own battery on a few losses
    if not args.no_check_loss and not args.write_ref:
        from spectral_losses.testing import check_loss

        for name, (fn, kw) in check_loss_cases().items():
            if args.k in name:
                R.run(name, lambda fn=fn, kw=kw: check_loss(fn, 256, **kw) and '')

    # 4. float64 under x64, switched on globally (jax.config.update exists in every version)
    jax.config.update('jax_enable_x64', True)
    x, y, w = signals(jnp.float64)
    for name, (fn, o) in sel.items():
        if o['numpy'] or not o['x64']:
            continue

        def one64(name=name, fn=fn, o=o):
            v, g = evaluate(fn, o, x, y, w)
            if v.dtype != jnp.float64:
                raise AssertionError(f"float64 inputs under x64 gave {v.dtype}")
            finite(v, 'value')
            rec = new['cases'].setdefault(name, {})
            rec['value64'] = summary(v, w)
            want = (ref or {}).get('cases', {}).get(name) if o['ref'] else None
            if want and 'value' in want:
                close(rec['value64'], want['value'], RTOL_64, 'float64 vs float32 reference')
            if want and 'value64' in want:
                close(rec['value64'], want['value64'], RTOL_64_REF, 'float64 vs float64 reference')
            if g is not None:
                if g.dtype != jnp.float64:
                    raise AssertionError(f"float64 gradient dtype {g.dtype}")
                finite(g, 'gradient')
            return ''

        R.run(f"f64 {name}", one64)
    jax.config.update('jax_enable_x64', False)

    if args.write_ref:
        # a failed case gets no entry (and fails later with 'no reference') until it passes here
        new['cases'] = {k: v for k, v in new['cases'].items() if 'value' in v}
        REF.write_text(json.dumps(new, indent=1) + '\n')
        print(f"wrote {REF} ({len(new['cases'])} cases, {new['_made_with']})")

    total = time.perf_counter() - t_start
    print(f"\n{versions()}: {total:.0f}s")
    if R.failed:
        print("failed:")
        for name, msg in R.failed:
            print(f"  {name}: {msg.splitlines()[0][:200]}")
    print(f"{R.passed} passed, {len(R.failed)} failed")
    return 1 if R.failed else 0


if __name__ == '__main__':
    os.environ.setdefault('JAX_PLATFORMS', 'cpu')
    sys.exit(main())
