"""How much glibc's malloc costs XLA:CPU here: the same losses timed with the default allocator settings and with a raised mmap threshold.

    python bench/malloc_effect.py [--repeats 5]

XLA:CPU allocates one temporary buffer per call of a compiled program. glibc serves requests above its mmap threshold
(at most 32 MB by default) with a fresh `mmap`, so every call of a program whose temporaries exceed it page-faults
(and the kernel zero-fills) all of that memory again. Each case runs in two child processes, single-threaded (one
pinned core for XLA and torch: `_timing.set_threads('single')`, before jax, torch and numpy are imported), one with
the default environment and one with `GLIBC_TUNABLES` raising the mmap and trim thresholds so that the buffer is
reused from the heap. Forward+grad medians (ms) of ours and of the torch peer, XLA's temporary bytes, and the ratios.
"""
import argparse, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
TUNABLES = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=2147483648'
CASES = [('single-resolution STFT loss (1024/256)', 8, 65536), ('single-resolution STFT loss (1024/256)', 16, 16000),
         ('spectral_wasserstein p=2', 8, 65536)]


def child(repeats):
    sys.path.insert(0, HERE)
    from _timing import set_threads, time_group
    set_threads('single')
    import numpy as np, jax, jax.numpy as jnp, torch, auraloss
    from spectral_losses.multires import multi_resolution_stft_loss
    from spectral_losses.losses import spectral_wasserstein
    rng, out = np.random.default_rng(0), []
    aura = auraloss.freq.STFTLoss()
    for name, batch, T in CASES:
        x, y = (rng.standard_normal((batch, T)).astype(np.float32) for _ in range(2))
        if name.startswith('single'):
            f = lambda x, y: multi_resolution_stft_loss(x, y, 'pwg', fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,))
            tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y)
            def peer():
                loss = aura(tx[:, None], ty[:, None])
                return loss, torch.autograd.grad(loss, [tx])
        else:
            f, peer = (lambda x, y: spectral_wasserstein(x, y, p=2)), None
        c = jax.jit(jax.value_and_grad(lambda x, y: jnp.mean(f(x, y)))).lower(x, y).compile()
        fns = {'ours': lambda: c(x, y)}
        if peer: fns['peer'] = peer
        res = time_group(fns, repeats, 0.2)
        out.append({'case': f"{name}, batch {batch} x {T}", 'temp_mb': c.memory_analysis().temp_size_in_bytes / 2 ** 20,
                    **{k: v['median'] * 1e3 for k, v in res.items()}})
    print(json.dumps(out))


def main(repeats):
    runs = {}
    for label, extra in (('default', {}), ('raised threshold', {'GLIBC_TUNABLES': TUNABLES})):
        env = {**os.environ, **extra}
        p = subprocess.run([sys.executable, __file__, '--child', '--repeats', str(repeats)], env=env, capture_output=True, text=True)
        if p.returncode: sys.exit(p.stderr)
        runs[label] = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"{'case':58s} {'temp MB':>8s} {'ours ms':>17s} {'peer ms':>17s} {'ours speed-up':>14s} {'peer/ours':>13s}")
    print(f"{'':58s} {'':8s} {'default / raised':>17s} {'default / raised':>17s} {'':14s} {'default/raised':>13s}")
    for d, r in zip(runs['default'], runs['raised threshold']):
        peer = f"{d['peer']:7.2f} / {r['peer']:7.2f}" if 'peer' in d else f"{'-':>17s}"
        ratio = f"{d['peer'] / d['ours']:5.2f} / {r['peer'] / r['ours']:5.2f}" if 'peer' in d else f"{'-':>13s}"
        print(f"{d['case']:58s} {d['temp_mb']:8.1f} {d['ours']:7.2f} / {r['ours']:7.2f} {peer} {d['ours'] / r['ours']:13.2f}x {ratio}")
    print(f"\nraised threshold: GLIBC_TUNABLES={TUNABLES}; single-threaded; medians of {repeats} interleaved loops")


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = ap.parse_args()
    child(a.repeats) if a.child else main(a.repeats)
