#!/usr/bin/env python
"""The spectral-OT paper's autoencoding experiment in JAX (issue 17): an encoder predicts f0 and 8
harmonic amplitudes from audio, `spectral_losses.synth.harmonic` renders them, and the only training
signal is a spectral loss between the rendering and the input. One training run per loss and seed.

    python experiments/autoencoder.py train [--losses A,B] [--seeds 0,1,2] [--jobs 2] [--tiny]
    python experiments/autoencoder.py evaluate [--wav-dir experiments/notes]
    python experiments/autoencoder.py match [--wav-dir experiments/notes]
    python experiments/autoencoder.py all          # train, evaluate, notes, match, landscape
    python experiments/autoencoder.py profile      # one training step per loss, timed
    python experiments/autoencoder.py landscape    # why: gradient directions and amplitude fits

Stored (read by nbs/23_autoencoder.ipynb, no training there):
    experiments/params/<loss>__s<seed>.eqx     encoder parameters (Equinox leaves)
    experiments/results/config.json            data recipe, model, training and loss settings
    experiments/results/runs/<run>.json        training curve: step, train loss, validation metrics
    experiments/results/test/<run>.json        test metrics and per-example f0 (true, predicted)
    experiments/results/summary.json           per loss: mean, std, min, max over seeds
    experiments/results/notes.json             real notes: per-file predictions, pyin, the table
    experiments/results/match.json             sound matching: f0 trajectories, spectra before/after
    experiments/results/profile.json           step times;  landscape.json: the loss diagnostics
`--tiny` (a smoke test, < 2 min) writes under /tmp unless --out is given."""
from __future__ import annotations
import argparse, json, os, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _set_threads(n: int | None):
    "Single-threaded XLA for parallel workers (set before jax is imported)."
    if n == 1:
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                                   ' --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1')


def _args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('train', 'evaluate', 'match', 'all', 'profile', 'landscape'):
        p = sub.add_parser(name)
        p.add_argument('--out', default=None, help='root for results/ and params/ (default experiments/)')
        p.add_argument('--tiny', action='store_true', help='smoke-test sizes (writes under /tmp by default)')
        p.add_argument('--threads', type=int, default=None, help='1: single-threaded XLA')
        p.add_argument('--wav-dir', default=None, help='folder with notes.csv (file,f0_hz) and audio files')
        p.add_argument('--losses', default=None, help='comma-separated loss names (default: all)')
        p.add_argument('--seeds', default=None, help='comma-separated seeds (default 0,1,2)')
        p.add_argument('--steps', type=int, default=None)
        p.add_argument('--batch', type=int, default=None)
        p.add_argument('--lr', type=float, default=None)
        p.add_argument('--jobs', type=int, default=1, help='parallel worker processes for train')
        p.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    return ap.parse_args()


ARGS = _args() if __name__ == '__main__' else None
if ARGS is not None: _set_threads(ARGS.threads)

import numpy as np
import jax
import jax.numpy as jnp
import equinox as eqx
import optax
sys.path.insert(0, str(HERE))
import _ae
from _ae import (SR, N, K, make_data, features, Encoder, predict, decode, n_params, LOSSES,
                 CONTROL_LOSSES, control_loss, pitch_metrics, log_spectral_distance, cents)

# ---------------------------------------------------------------------------------------------------
# Settings

DEFAULT_LOSSES = ('MSS-Lin', 'MSS-LogLin', 'SOT-2048', 'SOT', 'SOT-512', 'SOT-best')
FULL = dict(n_data=4000, steps=2000, batch=16, lr=1e-3, lr_end=1e-4, warmup=100, weight_decay=1e-4,
            eval_every=200, channels=40, seeds=(0, 1, 2), data_seed=0, octave_start=0.4)
TINY = dict(FULL, n_data=400, steps=12, batch=8, eval_every=6, warmup=2, seeds=(0,),
            losses=('MSS-Lin', 'SOT-best'))


def settings(args) -> dict:
    s = dict(TINY if args.tiny else FULL)
    s['losses'] = tuple(args.losses.split(',')) if args.losses else s.get('losses', DEFAULT_LOSSES)
    if args.seeds: s['seeds'] = tuple(int(v) for v in args.seeds.split(','))
    for k in ('steps', 'batch', 'lr'):
        if getattr(args, k) is not None: s[k] = getattr(args, k)
    for l in s['losses']:
        if l not in LOSSES and l not in CONTROL_LOSSES:
            raise SystemExit(f'unknown loss {l!r}; known: {", ".join(list(LOSSES) + list(CONTROL_LOSSES))}')
    return s


def roots(args):
    out = Path(args.out) if args.out else (Path('/tmp/ae_tiny') if args.tiny else HERE)
    res, par = out / 'results', out / 'params'
    for d in (res / 'runs', res / 'test', par): d.mkdir(parents=True, exist_ok=True)
    return res, par


def run_name(loss: str, seed: int) -> str: return f'{loss}__s{seed}'


def dump(obj, path: Path):
    path.write_text(json.dumps(obj, indent=1, default=float))


_DATA = {}

def data(s) -> dict:
    "The dataset and its encoder features, built once per process (seeded: identical everywhere)."
    key = (s['n_data'], s['data_seed'])
    if key not in _DATA:
        d = make_data(s['n_data'], s['data_seed'])
        feat = jax.jit(features)
        for part in d.values():
            part['feat'] = np.concatenate([np.asarray(feat(part['x'][i:i + 256]))
                                           for i in range(0, len(part['x']), 256)])
        _DATA[key] = d
    return _DATA[key]


def infer(model, feats, bs: int = 200):
    "f0 (Hz) and amplitudes for many examples, in chunks."
    f = eqx.filter_jit(predict)
    outs = [f(model, jnp.asarray(feats[i:i + bs])) for i in range(0, len(feats), bs)]
    return (np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs]))


def recon_lsd(f0, amps, x, bs: int = 200) -> np.ndarray:
    dec = jax.jit(decode)
    return np.concatenate([np.asarray(log_spectral_distance(dec(f0[i:i + bs], amps[i:i + bs]),
                                                            jnp.asarray(x[i:i + bs])))
                           for i in range(0, len(x), bs)])


def infer_checked(model, feats, x, bs: int = 200):
    "f0 and amplitudes after the inference-time octave check (`_ae.predict_checked`), in chunks."
    outs = [_ae.predict_checked(model, jnp.asarray(feats[i:i + bs]), jnp.asarray(x[i:i + bs]))
            for i in range(0, len(feats), bs)]
    return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(3))


def split_metrics(model, part, checked: bool = False) -> dict:
    f0, amps = (infer_checked(model, part['feat'], part['x'])[:2] if checked else
                infer(model, part['feat']))
    m = pitch_metrics(f0, part['f0'])
    m['lsd'] = float(recon_lsd(f0, amps, part['x']).mean())
    return m, f0, amps

# ---------------------------------------------------------------------------------------------------
# Training

def train_one(loss: str, seed: int, s: dict, res: Path, par: Path) -> dict:
    d = data(s)
    tr, va = d['train'], d['val']
    key = jax.random.PRNGKey(seed)
    model = Encoder(key, s['channels'])
    sched = optax.warmup_cosine_decay_schedule(0.0, s['lr'], min(s['warmup'], s['steps'] // 2), s['steps'],
                                               s['lr_end'])
    opt = optax.chain(optax.add_decayed_weights(s['weight_decay']), optax.adam(sched))  # torch Adam's L2
    state = opt.init(eqx.filter(model, eqx.is_array))
    lossf = control_loss(loss)
    octw = _ae.OCTAVE_SELECT.get(loss, 0.0)

    @eqx.filter_jit
    def step(model, state, feat, x, octw_now):
        def objective(m):
            logits, g = jax.vmap(m.trunk)(feat)
            f0 = _ae.soft_argmax(logits)
            amps = jax.vmap(m.amplitudes)(g, jax.nn.softmax(logits / _ae.T_SOFT, -1))
            val = lossf(f0, amps, x)
            if octw: val = val + _ae.octave_selection(m, logits, g, f0, x, octw_now)[0]
            return jnp.mean(val)
        val, grads = eqx.filter_value_and_grad(objective)(model)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), state, val

    rng = np.random.default_rng(1000 + seed)
    curve, best, t0, run_loss, n_loss = [], None, time.time(), 0.0, 0
    m0, _, _ = split_metrics(model, va)
    curve.append(dict(step=0, train_loss=None, **{f'val_{k}': v for k, v in m0.items()}))
    for it in range(1, s['steps'] + 1):
        idx = rng.integers(0, len(tr['x']), s['batch'])
        octw_now = jnp.float32(octw if it > s['octave_start'] * s['steps'] else 0.0)
        model, state, val = step(model, state, jnp.asarray(tr['feat'][idx]), jnp.asarray(tr['x'][idx]), octw_now)
        run_loss, n_loss = run_loss + float(val), n_loss + 1
        if it % s['eval_every'] == 0 or it == s['steps']:
            m, _, _ = split_metrics(model, va)
            curve.append(dict(step=it, train_loss=run_loss / n_loss, **{f'val_{k}': v for k, v in m.items()}))
            run_loss, n_loss = 0.0, 0
            if not np.isfinite(curve[-1]['train_loss']): raise FloatingPointError(f'{loss} s{seed}: NaN loss')
            if best is None or m['lsd'] < best[0]: best = (m['lsd'], it, model)
            print(f'  {loss:>12} s{seed} step {it:5d}  loss {curve[-1]["train_loss"]:.4g}  '
                  f'val RPA {m["rpa"]:.3f} RCA {m["rca"]:.3f} LSD {m["lsd"]:.1f}  '
                  f'{time.time() - t0:.0f}s', flush=True)
    elapsed = time.time() - t0
    name = run_name(loss, seed)
    eqx.tree_serialise_leaves(par / f'{name}.eqx', best[2])
    out = dict(loss=loss, seed=seed, best_step=best[1], best_val_lsd=best[0], train_seconds=elapsed,
               n_params=n_params(model), settings={k: v for k, v in s.items() if k != 'losses'}, curve=curve)
    dump(out, res / 'runs' / f'{name}.json')
    return out


def config_json(s) -> dict:
    import spectral_losses
    return dict(
        data=dict(recipe='f0 ~ U[40, 1950] Hz, 8 harmonics, amplitudes ~ U[0.4, 1], first m in 1..8 active '
                         '(m uniform), partials >= Nyquist silent, peak 0.9, 4096 samples at 16 kHz, '
                         'split 70/20/10', n=s['n_data'], seed=s['data_seed'], sample_rate=SR, n_samples=N),
        encoder=dict(input=f'log-frequency power (dB re max, floor -80) from one 8192-point FFT of the Hann-'
                           f'windowed 4096 samples, {_ae.N_IN} bins at 36/octave from 32.7 Hz',
                     f0_head=f'soft-argmax (T={_ae.T_SOFT}) over {_ae.N_OUT} bins, 32.7 .. 2093 Hz',
                     channels=s['channels'],
                     n_params=n_params(Encoder(jax.random.PRNGKey(0), s['channels']))),
        training={k: v for k, v in s.items() if k not in ('losses', 'seeds')},
        losses={k: LOSS_TEXT.get(k, '') for k in dict.fromkeys(DEFAULT_LOSSES + tuple(s['losses']))},
        seeds=list(s['seeds']),
        versions=dict(jax=jax.__version__, equinox=eqx.__version__, optax=optax.__version__,
                      spectral_losses=getattr(spectral_losses, '__version__', '?')))


LOSS_TEXT = {
    'MSS-Lin': "multi_resolution_stft_loss(pred, target, 'ddsp', w_log=0.0)",
    'MSS-LogLin': "multi_resolution_stft_loss(pred, target, 'ddsp')",
    'SOT-2048': "mean over frames of sqrt(stft_wasserstein(pred, target, 2048, 256, window='flattop', p=2, "
                "cutoff=True, center=False, pad_mode='end', reduction='none')) + 0.05 x MSS-Lin with the "
                "paper's normalized-STFT scale (each resolution / sqrt(n_fft))",
    'SOT': 'the SOT-2048 transport term alone',
    'SOT-512': "as SOT-2048 with n_fft=512, hop 256 (the paper's SOT-512), + 0.05 x MSS-Lin (paper scale)",
    'SOT-best': "mean over full frames (center=False, no padding) of stft_wasserstein(pred, target, 2048, 256, "
                "window='flattop', p=1, cutoff=True, positions=log2 frequency in [0, 1]) + 0.01 x "
                "MSS-LogLin of the rendering with f0 held fixed (stop_gradient: an amplitude-only term)",
    'SOT-best+oct': "SOT-best + the octave self-selection term from 40 % of training (see _ae.octave_selection)",
}


def cmd_train(args):
    s = settings(args)
    res, par = roots(args)
    runs = [(l, sd) for sd in s['seeds'] for l in s['losses']]
    if args.worker is not None:                        # a worker: its share of the runs
        i, n = (int(v) for v in args.worker.split('/'))
        runs = share(runs, i, n)
    elif args.jobs > 1:                                # spawn workers, single-threaded each
        t0 = time.time()
        dump(config_json(s), res / 'config.json')
        base = [sys.executable, __file__, 'train', '--threads', '1'] + _passthrough(args)
        procs = [subprocess.Popen(base + ['--worker', f'{i}/{args.jobs}']) for i in range(args.jobs)]
        codes = [p.wait() for p in procs]
        print(f'train: {len(runs)} runs in {time.time() - t0:.0f}s with {args.jobs} workers; exit codes {codes}')
        if any(codes): raise SystemExit(1)
        return
    else: dump(config_json(s), res / 'config.json')
    t0 = time.time()
    for l, sd in runs:
        r = train_one(l, sd, s, res, par)
        print(f'{run_name(l, sd)}: {r["train_seconds"]:.0f}s, best val LSD {r["best_val_lsd"]:.1f} at step '
              f'{r["best_step"]}', flush=True)
    print(f'train: {len(runs)} runs in {time.time() - t0:.0f}s')


COST = {'SOT-2048': 3.0, 'SOT': 2.7, 'SOT-512': 1.2, 'MSS-Lin': 1.0, 'MSS-LogLin': 1.1, 'SOT-best': 1.6}


def share(runs: list, i: int, n: int) -> list:
    "Worker i's runs out of n: longest first, each to the least loaded worker (relative costs above)."
    loads, parts = [0.0] * n, [[] for _ in range(n)]
    for r in sorted(runs, key=lambda r: -COST.get(r[0], 1.0)):
        j = int(np.argmin(loads))
        parts[j].append(r)
        loads[j] += COST.get(r[0], 1.0)
    return parts[i]


def _passthrough(args) -> list:
    out = []
    for k in ('out', 'losses', 'seeds', 'steps', 'batch', 'lr'):
        v = getattr(args, k)
        if v is not None: out += [f'--{k}', str(v)]
    return out + (['--tiny'] if args.tiny else [])

# ---------------------------------------------------------------------------------------------------
# Evaluation on the synthetic test split

def load_model(path: Path, channels: int):
    return eqx.tree_deserialise_leaves(path, Encoder(jax.random.PRNGKey(0), channels))


def stored_runs(res: Path) -> list:
    return [json.loads(p.read_text()) for p in sorted((res / 'runs').glob('*.json'))]


def cmd_evaluate(args):
    res, par = roots(args)
    runs = stored_runs(res)
    if not runs: raise SystemExit(f'no trained runs under {res / "runs"}: run `train` first')
    s = dict(runs[0]['settings'])
    te = data(s)['test']
    per_loss = {}
    for r in runs:
        name = run_name(r['loss'], r['seed'])
        model = load_model(par / f'{name}.eqx', r['settings']['channels'])
        m, f0, amps = split_metrics(model, te)
        mc, f0c, _ = split_metrics(model, te, checked=True)
        dump(dict(loss=r['loss'], seed=r['seed'], metrics=m, metrics_octave_checked=mc,
                  best_step=r['best_step'], f0_true=te['f0'].tolist(), f0_pred=f0.tolist(),
                  f0_pred_octave_checked=f0c.tolist(), n_active=te['n_active'].tolist(),
                  amps_true=te['amps'].round(4).tolist(), amps_pred=amps.round(4).tolist()),
             res / 'test' / f'{name}.json')
        per_loss.setdefault(r['loss'], []).append(dict(m, **{f'{k}_checked': v for k, v in mc.items()},
                                                       seed=r['seed'], train_seconds=r['train_seconds']))
    summary = {}
    for loss, ms in per_loss.items():
        summary[loss] = {k: dict(mean=float(np.mean(v)), std=float(np.std(v)), min=float(np.min(v)),
                                 max=float(np.max(v)), values=[float(x) for x in v])
                         for k in ('rpa', 'rca', 'mean_octave_diff', 'octave_error_rate', 'lsd',
                                   'rpa_checked', 'rca_checked', 'lsd_checked')
                         for v in [[m[k] for m in ms]]}
        summary[loss]['seeds'] = [m['seed'] for m in ms]
        summary[loss]['train_seconds'] = float(sum(m['train_seconds'] for m in ms))
    total = float(sum(r['train_seconds'] for r in runs))
    import platform
    where = dict(date_utc=time.strftime('%Y-%m-%d %H:%M', time.gmtime()), cpus=os.cpu_count(),
                 cpu=platform.processor() or platform.machine(), jax=jax.__version__)
    stamps = sorted(time.strftime('%Y-%m-%d %H:%M', time.gmtime(p.stat().st_mtime))
                    for p in (res / 'runs').glob('*.json'))
    dump(dict(per_loss=summary, total_train_seconds=total, n_test=int(len(te['f0'])), evaluated=where,
              trained_utc=[stamps[0], stamps[-1]]), res / 'summary.json')
    print(f'test split ({len(te["f0"])} examples); mean +- std over seeds (min .. max)')
    print(f'{"loss":>18}  {"RPA %":>14}  {"RCA %":>14}  {"mean oct diff":>13}  {"LSD dB^2":>12}  '
          f'{"RPA % checked":>14}')
    for loss, v in summary.items():
        f = lambda k, sc=100: f'{sc * v[k]["mean"]:5.1f} +- {sc * v[k]["std"]:4.1f}'
        print(f'{loss:>18}  {f("rpa"):>14}  {f("rca"):>14}  {v["mean_octave_diff"]["mean"]:+13.3f}  '
              f'{f("lsd", 1):>12}  {f("rpa_checked"):>14}   seeds {v["seeds"]}')
    print(f'total training time {total:.0f}s')
    if args.wav_dir: cmd_notes(args)

# ---------------------------------------------------------------------------------------------------
# Real notes: encoders vs pyin

def load_notes(wav_dir: Path) -> list:
    import csv, soundfile as sf
    from scipy.signal import resample_poly
    from math import gcd
    rows = list(csv.DictReader(open(wav_dir / 'notes.csv')))
    out = []
    for r in rows:
        y, sr = sf.read(wav_dir / r['file'], dtype='float32', always_2d=True)
        y = y.mean(1)
        if sr != SR:
            g = gcd(int(sr), SR)
            y = resample_poly(y, SR // g, int(sr) // g).astype(np.float32)
        out.append(dict(r, y=y, f0=float(r['f0_hz'])))
    return out


def note_windows(y: np.ndarray, n_win: int = 5) -> np.ndarray:
    """Up to n_win excerpts of 4096 samples evenly spread over the note (zero-padded if shorter), each
    scaled to peak 0.9 like the training data."""
    if len(y) < N: y = np.pad(y, (0, N - len(y)))
    starts = np.unique(np.linspace(0, len(y) - N, n_win).astype(int))
    w = np.stack([y[s:s + N] for s in starts])
    return (w * (0.9 / np.maximum(np.abs(w).max(1, keepdims=True), 1e-9))).astype(np.float32)


def cmd_notes(args):
    import librosa
    res, par = roots(args)
    wav_dir = Path(args.wav_dir)
    if not (wav_dir / 'notes.csv').exists(): raise SystemExit(f'{wav_dir}/notes.csv not found')
    notes = load_notes(wav_dir)
    if args.tiny: notes = notes[::max(1, len(notes) // 8)][:8]   # smoke test: a few notes
    true = np.array([n['f0'] for n in notes])
    wins = [note_windows(n['y']) for n in notes]
    feat = jax.jit(features)
    feats = [np.asarray(feat(jnp.asarray(w))) for w in wins]
    preds, table = {}, {}
    for r in stored_runs(res):
        name = run_name(r['loss'], r['seed'])
        model = load_model(par / f'{name}.eqx', r['settings']['channels'])
        p = np.array([np.exp(np.median(np.log(infer(model, f)[0]))) for f in feats])  # median over windows
        preds[name] = p.tolist()
        table.setdefault(r['loss'], []).append(pitch_metrics(p, true))
    t0 = time.time()
    pyin = []
    for n in notes:
        f, voiced, _ = librosa.pyin(n['y'], fmin=32.7, fmax=2100.0, sr=SR, frame_length=2048)
        f = f[voiced & np.isfinite(f)] if np.any(voiced) else f[np.isfinite(f)]
        pyin.append(float(np.median(f)) if f.size else float('nan'))
    pyin = np.array(pyin)
    pyin_ok = np.where(np.isfinite(pyin), pyin, 1.0)       # an unvoiced note counts as wrong
    rows = {loss: {k: dict(mean=float(np.mean([m[k] for m in ms])), std=float(np.std([m[k] for m in ms])))
                   for k in ms[0]} for loss, ms in table.items()}
    rows['pyin'] = {k: dict(mean=v, std=0.0) for k, v in pitch_metrics(pyin_ok, true).items()}
    fam = sorted({n['family'] for n in notes}) if 'family' in notes[0] else []
    by_family = {}
    for fa in fam:
        sel = np.array([n['family'] == fa for n in notes])
        by_family[fa] = {'n': int(sel.sum()), 'pyin': pitch_metrics(pyin_ok[sel], true[sel])['rpa']}
        for loss in table:
            names = [k for k in preds if k.startswith(loss + '__')]
            by_family[fa][loss] = float(np.mean([pitch_metrics(np.array(preds[k])[sel], true[sel])['rpa']
                                                 for k in names]))
    dump(dict(files=[n['file'] for n in notes], f0_true=true.tolist(), pyin=pyin.tolist(), pred=preds,
              table=rows, by_family=by_family,
              columns={k: n.get(k) for n in notes[:1] for k in n if k not in ('y', 'f0')},
              meta=[{k: v for k, v in n.items() if k not in ('y',)} for n in notes],
              protocol='each note: up to 5 excerpts of 4096 samples at 16 kHz spread over the file, peak 0.9, '
                       'encoder f0 = geometric median over excerpts; pyin(fmin=32.7, fmax=2100, frame 2048), '
                       'median of voiced frames'),
         res / 'notes.json')
    print(f'\nreal notes ({len(notes)} files from {wav_dir}); encoders: mean +- std over seeds')
    print(f'{"model":>12}  {"RPA %":>14}  {"RCA %":>14}  {"octave err %":>14}')
    for loss, v in rows.items():
        f = lambda k: f'{100 * v[k]["mean"]:5.1f} +- {100 * v[k]["std"]:4.1f}'
        print(f'{loss:>12}  {f("rpa"):>14}  {f("rca"):>14}  {f("octave_error_rate"):>14}')
    if by_family:
        print('RPA % by family: ' + '; '.join(f'{fa} (n={v["n"]}): ' + ', '.join(
            f'{k} {100 * x:.0f}' for k, x in v.items() if k != 'n') for fa, v in by_family.items()))

# ---------------------------------------------------------------------------------------------------
# Sound matching: fit `harmonic` to real notes directly, from an f0 an octave or more away

MATCH_NOTES = ('violin_067.flac', 'flute_078.flac', 'trumpet_063.flac', 'cello_048.flac')
MATCH_INIT = (2.2, 0.45)                    # initial f0 = ratio x true: 1.1 octaves up, 1.15 down
MATCH_K = 16


def match_one(loss: str, target: np.ndarray, f0_init: float, steps: int, lr: float = 0.02):
    "Per-example gradient descent (Adam) on log f0 and amplitude logits; returns the trajectory."
    lossf = control_loss(loss)
    params = dict(logf=jnp.log(jnp.float32(f0_init)), amp=jnp.full(MATCH_K, -1.0, jnp.float32))
    opt = optax.adam(lr)
    st = opt.init(params)
    x = jnp.asarray(target)[None]

    def render(p): return _ae.harmonic(jnp.exp(p['logf'])[None], _ae.exp_sigmoid(p['amp'])[None], N, SR)

    @jax.jit
    def step(p, st):
        v, g = jax.value_and_grad(lambda q: jnp.mean(lossf(jnp.exp(q['logf'])[None],
                                                          _ae.exp_sigmoid(q['amp'])[None], x)))(p)
        u, st = opt.update(g, st)
        return optax.apply_updates(p, u), st, v

    traj = []
    for i in range(steps):
        params, st, v = step(params, st)
        if i % 10 == 0 or i == steps - 1: traj.append((i, float(jnp.exp(params['logf'])), float(v)))
    return params, traj, np.asarray(render(params))[0]


def spectrum_db(x: np.ndarray, n_points: int = 256) -> list:
    "Magnitude spectrum (dB re max) of a 4096-sample excerpt on n_points log-spaced frequencies."
    P = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8192)) ** 2
    f = np.fft.rfftfreq(8192, 1 / SR)
    fq = np.geomspace(30, SR / 2, n_points)
    db = 10 * np.log10(np.interp(fq, f, P) / P.max() + 1e-10)
    return [round(float(v), 2) for v in db]


def cmd_match(args):
    res, _ = roots(args)
    wav_dir = Path(args.wav_dir or HERE / 'notes')
    if not (wav_dir / 'notes.csv').exists(): raise SystemExit(f'{wav_dir}/notes.csv not found')
    notes = {n['file']: n for n in load_notes(wav_dir)}
    picks = [f for f in MATCH_NOTES if f in notes] or list(notes)[:6]
    steps = 60 if args.tiny else (args.steps or 300)
    if args.tiny: picks = picks[:1]
    losses = tuple(args.losses.split(',')) if args.losses else (TINY if args.tiny else FULL).get(
        'losses', DEFAULT_LOSSES)
    out = dict(notes=picks, init_ratios=list(MATCH_INIT), steps=steps, n_harmonics=MATCH_K,
               freqs_hz=[float(v) for v in np.geomspace(30, SR / 2, 256)], results=[])
    t0 = time.time()
    for fn in picks:
        n = notes[fn]
        tgt = note_windows(n['y'], 3)[1]                     # the middle excerpt
        for ratio in MATCH_INIT:
            for loss in losses:
                p, traj, y = match_one(loss, tgt, ratio * n['f0'], steps)
                err = float(cents(traj[-1][1], n['f0']))
                out['results'].append(dict(file=fn, f0_true=n['f0'], f0_init=ratio * n['f0'], loss=loss,
                                           f0_final=traj[-1][1], cents_error=err, within_50c=abs(err) <= 50,
                                           trajectory=traj, spectrum_target=spectrum_db(tgt),
                                           spectrum_after=spectrum_db(y)))
                print(f'  match {fn:>22} init x{ratio}: {loss:>12} f0 {traj[-1][1]:8.1f} Hz '
                      f'(true {n["f0"]:.1f}), {err:+7.0f} cents', flush=True)
    for fn in picks:                                          # the initial renderings, once per note/init
        for ratio in MATCH_INIT:
            y0 = _ae.harmonic(jnp.float32(ratio * notes[fn]['f0']), jnp.full(MATCH_K, float(_ae.exp_sigmoid(-1.0))),
                              N, SR)
            out.setdefault('spectrum_before', {})[f'{fn}@{ratio}'] = spectrum_db(np.asarray(y0))
    summ = {}
    for loss in losses:
        rs = [r for r in out['results'] if r['loss'] == loss]
        summ[loss] = dict(within_50c=float(np.mean([r['within_50c'] for r in rs])),
                          median_abs_cents=float(np.median([abs(r['cents_error']) for r in rs])))
    out['summary'], out['seconds'] = summ, time.time() - t0
    dump(out, res / 'match.json')
    print('sound matching: fraction within 50 cents (median |error| in cents): ' +
          ', '.join(f'{k} {v["within_50c"]:.2f} ({v["median_abs_cents"]:.0f})' for k, v in summ.items()))


def cmd_profile(args):
    "Time one jitted training step per loss (median of 10, after compilation) at the run's batch size."
    s = settings(args)
    res, _ = roots(args)
    d = data(s)['train']
    out = {}
    for loss in s['losses']:
        model = Encoder(jax.random.PRNGKey(0), s['channels'])
        lossf = control_loss(loss)
        opt = optax.adam(1e-3)
        st = opt.init(eqx.filter(model, eqx.is_array))

        @eqx.filter_jit
        def step(m, st, feat, x):
            v, g = eqx.filter_value_and_grad(lambda mm: jnp.mean(lossf(*predict(mm, feat), x)))(m)
            u, st = opt.update(g, st, eqx.filter(m, eqx.is_array))
            return eqx.apply_updates(m, u), st, v

        feat, x = jnp.asarray(d['feat'][:s['batch']]), jnp.asarray(d['x'][:s['batch']])
        t0 = time.time()
        jax.block_until_ready(step(model, st, feat, x)[2])
        compile_s = time.time() - t0
        ts = []
        for _ in range(10):
            t0 = time.time()
            jax.block_until_ready(step(model, st, feat, x)[2])
            ts.append(time.time() - t0)
        out[loss] = dict(step_ms=1e3 * float(np.median(ts)), compile_s=compile_s)
        print(f'{loss:>14}: {out[loss]["step_ms"]:7.1f} ms per step (batch {s["batch"]}), '
              f'compile {compile_s:.1f}s', flush=True)
    dump(dict(batch=s['batch'], threads=args.threads, steps=out), res / 'profile.json')


def cmd_landscape(args):
    """Why the losses train or not, measured on validation examples with the true amplitudes:
    (1) from f0 = true x 2^u, u ~ U[-1.5, 1.5] octaves, does -dL/df0 point toward the true f0, and
    does it agree with the slope over +-10 %? (2) with f0 fixed at the truth, does gradient descent
    on the amplitudes silence the harmonics absent from the target?"""
    from spectral_losses.stft_ot import stft_wasserstein
    res, _ = roots(args)
    va = data(dict(FULL, n_data=400))['val']
    B = 8 if args.tiny else 48
    x, f0t, at = jnp.asarray(va['x'][:B]), jnp.asarray(va['f0'][:B]), jnp.asarray(va['amps'][:B])
    g0 = f0t * jnp.asarray(2 ** np.random.default_rng(0).uniform(-1.5, 1.5, B), jnp.float32)

    def framed(center, pad, p=2, positions=None):
        def f(pr, t):
            w = stft_wasserstein(pr, t, 2048, 256, window='flattop', p=p, cutoff=True, center=center,
                                 pad_mode=pad, reduction='none', positions=positions)
            return jnp.mean(_ae._root(w) if p == 2 else w, -1)
        return f
    cands = {'SOT-2048 term, pad_end (paper code)': framed(False, 'end'),
             'same, centred (reflect)': framed(True, 'reflect'),
             'same, full frames only': framed(False, None),
             'full frames, p=1': framed(False, None, 1),
             'full frames, p=1, log positions': framed(False, None, 1, jnp.asarray(_ae.log_positions(2048))),
             'MSS-Lin': _ae.mss_lin, 'MSS-LogLin': _ae.mss_loglin}
    out = dict(n_examples=B, gradient={}, amplitudes={})
    print(f'gradient direction, {B} validation examples, true amplitudes, f0 up to 1.5 octaves off:')
    for name, lf in cands.items():
        L = jax.jit(lambda g: lf(decode(g, at), x))
        G = jax.jit(jax.grad(lambda g: jnp.sum(lf(decode(g, at), x))))(g0)
        slope = L(g0 * 1.1) - L(g0 / 1.1)
        toward = -jnp.sign(g0 - f0t)
        r = dict(grad_toward_truth=float(jnp.mean(jnp.sign(-G) == toward)),
                 grad_agrees_with_10pct_slope=float(jnp.mean(jnp.sign(G) == jnp.sign(slope))),
                 slope_toward_truth=float(jnp.mean(jnp.sign(-slope) == toward)))
        out['gradient'][name] = r
        print(f'  {name:>36}: -grad toward truth {r["grad_toward_truth"]:.2f}, agrees with the +-10 % '
              f'slope {r["grad_agrees_with_10pct_slope"]:.2f}, slope toward truth {r["slope_toward_truth"]:.2f}')
    absent = np.asarray((at == 0) & (np.arange(1, K + 1) * np.asarray(f0t)[:, None] < SR / 2))
    n_steps = 20 if args.tiny else 300
    print(f'amplitudes fitted with f0 at the truth ({n_steps} Adam steps from 0.4 each): harmonics absent '
          'from the target but below Nyquist:')
    for name, lf in {'SOT (cutoff), full frames, p=1, log': cands['full frames, p=1, log positions'],
                     'MSS-Lin': _ae.mss_lin, 'MSS-LogLin': _ae.mss_loglin}.items():
        u = jnp.zeros((B, K), jnp.float32)
        opt = optax.adam(0.05)
        st = opt.init(u)

        @jax.jit
        def stp(u, st):
            g = jax.grad(lambda q: jnp.sum(lf(decode(f0t, _ae.exp_sigmoid(q)), x)))(u)
            up, st = opt.update(g, st)
            return optax.apply_updates(u, up), st
        for _ in range(n_steps): u, st = stp(u, st)
        a = np.asarray(_ae.exp_sigmoid(u))
        r = dict(absent_median=float(np.median(a[absent])), absent_p90=float(np.percentile(a[absent], 90)),
                 present_median_abs_error=float(np.median(np.abs(a - np.asarray(at))[np.asarray(at) > 0])))
        out['amplitudes'][name] = r
        print(f'  {name:>36}: absent partials median {r["absent_median"]:.3f} (90 % {r["absent_p90"]:.3f}), '
              f'present partials median |error| {r["present_median_abs_error"]:.3f}')
    dump(out, res / 'landscape.json')


def main(args):
    t0 = time.time()
    if args.cmd == 'profile': return cmd_profile(args)
    if args.cmd == 'landscape': return cmd_landscape(args)
    if args.cmd in ('train', 'all'): cmd_train(args)
    if args.cmd in ('evaluate', 'all'):
        if args.cmd == 'all' and args.wav_dir is None and (HERE / 'notes' / 'notes.csv').exists():
            args.wav_dir = str(HERE / 'notes')
        cmd_evaluate(args)
    if args.cmd in ('match', 'all') and (args.wav_dir or (HERE / 'notes' / 'notes.csv').exists()):
        cmd_match(args)
    if args.cmd == 'all': cmd_landscape(args)
    print(f'{args.cmd}: done in {time.time() - t0:.0f}s')


if __name__ == '__main__':
    main(ARGS)
