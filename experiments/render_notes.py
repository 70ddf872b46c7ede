"""Render single notes of real sampled instruments (FluidR3_GM) for pitch-tracker and encoder tests.

Issue 17, part 3 ("Real instrument notes"): sounds that nobody synthesised here, to evaluate pitch
trackers and the trained encoders on. One command re-creates the whole set:

    python experiments/render_notes.py --out experiments/notes          # or: make notes

Source and licence
    Sound font: FluidR3_GM.sf2 from Debian's `fluid-soundfont-gm` package
    (/usr/share/sounds/sf2/FluidR3_GM.sf2), "Fluid (R3) General MIDI SoundFont" by Frank Wen,
    Copyright (c) 2000-2002, 2008 Frank Wen. Licence: the MIT license -- upstream README, quoted in
    /usr/share/doc/fluid-soundfont-gm/copyright: "I hereby release Fluid under the MIT license, as
    described in COPYING." The rendered notes are derived from those samples under that licence.
    Renderer: the `fluidsynth` command-line synthesiser (Debian package `fluidsynth`, LGPL; a tool
    only, nothing of it is in the output). Both: `apt-get install -y fluidsynth fluid-soundfont-gm`.

Instruments (General MIDI program, 0-based, as named in FluidR3_GM) and pitch grid (MIDI notes
`range(lo, hi + 1, step)`, f0 = 440 * 2 ** ((midi - 69) / 12), 12-TET, A4 = 440 Hz), within each
instrument's usual range and within the encoder's training range f0 in [40, 1950] Hz; see
INSTRUMENTS below (printed by --list):
    bowed strings  violin 40, cello 42, contrabass 43
    woodwinds      flute 73, oboe 68, clarinet 71, bassoon 70
    brass          trumpet 56, french horn 60, trombone 57, tuba 58
    voice / organ  choir aahs 52, church organ 19 (F1..A4 only), reed organ 20
    plucked        nylon guitar 24, harp 46, pizzicato strings 45
    overall f0 41.2 Hz (E1) to 1864.7 Hz (A#6).

Rendering, per note
    * A type-0 MIDI file written here with the standard library: program change, one note-on at
      t = 0 with velocity 100, note-off at 1.3 s (sustained) / 1.0 s (plucked).
    * `fluidsynth -n -i -q -R 0 -C 0 -g 0.5 -r 44100 -T raw -O float`: reverb and chorus off,
      so the note is the dry sample; fixed gain; nothing random (byte-identical re-renders).
    * Rendered at 44.1 kHz (the sound font's own rate) and resampled to 16 kHz with
      scipy.signal.resample_poly(160, 441) (a Kaiser-windowed polyphase low-pass): fluidsynth's
      own 16 kHz output reads the 44.1 kHz samples with a 4-point interpolator and no low-pass, so
      harmonics above 8 kHz fold back (2-6x more energy at the alias frequencies in a test of
      violin, flute and organ at G6) and the band above 7 kHz is attenuated.
    * Stereo -> mono by averaging the channels.
    * Excerpt: a fixed window of DURATION = 0.75 s after a fixed onset offset: 0.25 s for
      sustained instruments (attack cut, the steady part), 0.02 s for plucked ones (they have no
      steady part: the excerpt is the pluck's decay, the first 20 ms of the transient cut).
      10 ms raised-cosine fade-in and fade-out against clicks at the cuts.
    * Silence check: a note whose excerpt RMS (at the fixed render gain, before normalisation) is
      below -80 dBFS is skipped and reported: one is, violin A#6 (MIDI 94), a key of FluidR3_GM's
      violin preset with no sample mapped (its neighbours 93 and 95 sound).
    * Level: peak-normalised to -1 dBFS; written as mono 16-bit PCM FLAC at 16 kHz.

Output (--out): one FLAC per note, `<instrument>_<midi>.flac`, and notes.csv with the columns
`file,f0_hz,instrument,program,midi,note,family,harmonicity,detune_cents`: f0_hz is the nominal
f0 of the MIDI note; family is bowed, woodwind, brass, voice, organ or plucked; note is the
scientific pitch name (C4 = MIDI 60); harmonicity and detune_cents are measured on the excerpt
(see `partials`): the fraction of its power within +-max(4 Hz, min(2 % of k f0, f0 / 4)) of the
harmonics k f0 (low for vibrato, ensemble spread, fast decays, noise or a detuned sample) and the
sample's tuning offset from the nominal f0 in cents (power-weighted over the harmonics).
Stale *.flac files in --out are removed first.

--check runs librosa.pyin on every rendered note and prints, per instrument, the fraction of notes
whose median voiced pyin f0 is within 50 cents of the MIDI f0 (and the frame-level fraction, and
the median deviation in cents), listing the notes that miss (--check-only: without rendering).

Needs the two Debian packages above, numpy, scipy (resampling) and soundfile (FLAC); --check also
librosa. The Python ones are in the project's dev requirements (.venv).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RENDER_RATE = 44100  # Hz, the sound font's sample rate
SAMPLE_RATE = 16000  # Hz, the rate of the written notes
DURATION = 0.75  # s, length of each excerpt
VELOCITY = 100  # MIDI velocity of every note
GAIN = 0.5  # fluidsynth master gain (fixed; the output is peak-normalised afterwards)
PEAK_DBFS = -1.0  # peak level of every written note
FADE = 0.010  # s, raised-cosine fade at both ends of the excerpt
SILENCE_DBFS = -80.0  # an excerpt with an RMS below this (before normalisation) is skipped
# family -> (onset offset of the excerpt in s, note-off time in s)
TIMING = {"sustained": (0.25, 1.30), "plucked": (0.02, 1.00)}
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

# name, GM program (0-based), family, timing, lowest MIDI note, highest MIDI note, step (semitones)
INSTRUMENTS = [
    # violin A#6 (94) renders silent: FluidR3_GM's violin has no sample on that one key (93 and
    # 95 sound); it stays in the grid and is reported as skipped
    ("violin", 40, "bowed", "sustained", 55, 94, 3),  # G3 .. A#6   196 .. 1865 Hz
    ("cello", 42, "bowed", "sustained", 36, 75, 3),  # C2 .. D#5    65 .. 622 Hz
    ("contrabass", 43, "bowed", "sustained", 28, 55, 3),  # E1 .. G3   41 .. 196 Hz
    ("flute", 73, "woodwind", "sustained", 60, 93, 3),  # C4 .. A6    262 .. 1760 Hz
    ("oboe", 68, "woodwind", "sustained", 58, 91, 3),  # A#3 .. G6    233 .. 1568 Hz
    ("clarinet", 71, "woodwind", "sustained", 50, 89, 3),  # D3 .. F6  147 .. 1397 Hz
    ("bassoon", 70, "woodwind", "sustained", 34, 73, 3),  # A#1 .. C#5  58 .. 554 Hz
    ("trumpet", 56, "brass", "sustained", 54, 84, 3),  # F#3 .. C6    185 .. 1047 Hz
    ("french_horn", 60, "brass", "sustained", 41, 77, 3),  # F2 .. F5   87 .. 698 Hz
    ("trombone", 57, "brass", "sustained", 40, 73, 3),  # E2 .. C#5    82 .. 554 Hz
    ("tuba", 58, "brass", "sustained", 28, 64, 3),  # E1 .. E4          41 .. 330 Hz
    ("choir_aahs", 52, "voice", "sustained", 43, 82, 3),  # G2 .. A#5   98 .. 932 Hz
    # church organ only up to A4: from A#4 up its FluidR3 preset adds a quint rank (partials at
    # 1.5 f0), which makes the waveform periodic at f0 / 2 (pyin then reports f0 / 2)
    ("church_organ", 19, "organ", "sustained", 29, 69, 4),  # F1 .. A4  44 .. 440 Hz
    ("reed_organ", 20, "organ", "sustained", 29, 94, 5),  # F1 .. A#6  44 .. 1865 Hz
    ("nylon_guitar", 24, "plucked", "plucked", 40, 82, 3),  # E2 .. A#5  82 .. 932 Hz
    ("harp", 46, "plucked", "plucked", 28, 93, 5),  # E1 .. A6           41 .. 1760 Hz
    ("pizzicato_strings", 45, "plucked", "plucked", 28, 88, 5),  # E1 .. E6  41 .. 1319 Hz
]


def midi_to_hz(midi: int) -> float:
    """12-TET frequency of a MIDI note, A4 (69) = 440 Hz."""
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def note_name(midi: int) -> str:
    """Scientific pitch name of a MIDI note (60 -> C4)."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def _vlq(n: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_file(program: int, midi: int, off_s: float, velocity: int = VELOCITY) -> bytes:
    """A type-0 standard MIDI file: program change, one note from t = 0 to `off_s` seconds."""
    ppq = 1000  # ticks per quarter note; tempo 1 s per quarter -> 1 tick = 1 ms
    off = round(off_s * 1000)
    track = b"".join([
        _vlq(0) + b"\xff\x51\x03" + (1_000_000).to_bytes(3, "big"),  # tempo: 1e6 us per quarter
        _vlq(0) + bytes([0xC0, program]),  # program change, channel 0
        _vlq(0) + bytes([0x90, midi, velocity]),  # note-on
        _vlq(off) + bytes([0x80, midi, 0]),  # note-off
        _vlq(200) + b"\xff\x2f\x00",  # end of track
    ])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ppq)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def render(program: int, midi: int, off_s: float, soundfont: str, tmp: Path) -> np.ndarray:
    """Render one note with fluidsynth at RENDER_RATE; mono float64."""
    mid, raw = tmp / "note.mid", tmp / "note.raw"
    mid.write_bytes(midi_file(program, midi, off_s))
    cmd = ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(GAIN),
           "-r", str(RENDER_RATE), "-T", "raw", "-O", "float", "-E", "little",
           "-F", str(raw), soundfont, str(mid)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    x = np.fromfile(raw, dtype="<f4").astype(np.float64)
    return x.reshape(-1, 2).mean(axis=1)  # interleaved stereo -> mono


def excerpt(x: np.ndarray, onset_s: float) -> np.ndarray:
    """Resample to SAMPLE_RATE, cut DURATION seconds from `onset_s`, fade both ends."""
    from scipy.signal import resample_poly

    y = resample_poly(x, SAMPLE_RATE // 100, RENDER_RATE // 100)  # 160 / 441
    start, n = round(onset_s * SAMPLE_RATE), round(DURATION * SAMPLE_RATE)
    y = y[start:start + n]
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    m = round(FADE * SAMPLE_RATE)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
    y[:m] *= ramp
    y[-m:] *= ramp[::-1]
    return y


def _spectrum(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectrum of `y` and its frequencies (Hz)."""
    s = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    return s, np.fft.rfftfreq(len(y), 1.0 / SAMPLE_RATE)


def _near(s: np.ndarray, fr: np.ndarray, qs, f0: float) -> float:
    """Fraction of the power `s` within +-max(4 Hz, min(0.02 q, f0 / 4)) of the frequencies qs."""
    m = np.zeros(fr.shape, bool)
    for q in qs:
        m |= np.abs(fr - q) <= max(4.0, min(0.02 * q, f0 / 4.0))
    return float(s[m].sum() / s.sum())


def partials(y: np.ndarray, f0: float) -> tuple[float, float, float]:
    """Where the power of `y` lies relative to the harmonics k f0 of the nominal f0.

    Hann-windowed power spectrum up to the Nyquist frequency. Returns
    (harmonicity, half, detune_cents): the fractions of the power within +-max(4 Hz,
    min(0.02 q, f0 / 4)) of the partials q = k f0 and of q = (k + 1/2) f0 (vibrato widens high
    partials; the cap keeps the two sets of windows apart; power at (k + 1/2) f0 means the
    waveform repeats every 2 / f0, not every 1 / f0), and the sample's tuning offset: 1200 log2 of
    the power-weighted mean of (frequency / k f0) over |f - k f0| <= max(4 Hz, min(0.05 k f0,
    f0 / 4)) (+-84 cents, wide enough for the flattest sample here, narrow enough to leave out
    the non-harmonic components of the high harp notes). Against librosa.yin (searched within
    f0 / 1.4 .. 1.4 f0) it agrees to a median 1.2 cents, 90 % of the notes within 7 cents, all
    within 20 (the largest differences: pizzicato strings, an ensemble pluck).
    """
    s, fr = _spectrum(y)
    ks = np.arange(1, int(SAMPLE_RATE / 2.0 / f0) + 1)
    k = np.round(fr / f0)  # nearest harmonic number of every bin
    band = (k >= 1) & (np.abs(fr - k * f0) <= np.maximum(4.0, np.minimum(0.05 * k * f0, f0 / 4)))
    ratio = np.sum(s[band] * fr[band] / (k[band] * f0)) / np.sum(s[band])
    return (_near(s, fr, ks * f0, f0), _near(s, fr, (ks - 0.5) * f0, f0),
            float(1200.0 * np.log2(ratio)))


def db(v: float) -> float:
    return 20.0 * np.log10(max(v, 1e-10))  # exact silence: -200 dBFS


def write_flac(path: Path, y: np.ndarray) -> None:
    """Peak-normalise to PEAK_DBFS and write mono 16-bit PCM FLAC."""
    import soundfile as sf

    y = y * (10.0 ** (PEAK_DBFS / 20.0) / np.max(np.abs(y)))
    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
    sf.write(str(path), pcm, SAMPLE_RATE, subtype="PCM_16", format="FLAC")


def grid():
    """Every (instrument row, MIDI note) of the set, in order."""
    for row in INSTRUMENTS:
        name, program, family, timing, lo, hi, step = row
        for midi in range(lo, hi + 1, step):
            yield row, midi


def build(out: Path, soundfont: str) -> list[dict]:
    """Render the whole set into `out`; return the rows of notes.csv."""
    if shutil.which("fluidsynth") is None:
        sys.exit("fluidsynth not found: apt-get install -y fluidsynth fluid-soundfont-gm")
    if not Path(soundfont).is_file():
        sys.exit(f"{soundfont} not found: apt-get install -y fluid-soundfont-gm")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.flac"):
        old.unlink()
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for (name, program, family, timing, *_), midi in grid():
            onset_s, off_s = TIMING[timing]
            y = excerpt(render(program, midi, off_s, soundfont, tmp), onset_s)
            rms = float(np.sqrt(np.mean(y ** 2)))
            if db(rms) < SILENCE_DBFS:
                skipped.append(f"{name} {midi} ({note_name(midi)}): RMS {db(rms):.1f} dBFS")
                continue
            fname = f"{name}_{midi:03d}.flac"
            write_flac(out / fname, y)
            harm, _, detune = partials(y, midi_to_hz(midi))
            rows.append(dict(file=fname, f0_hz=f"{midi_to_hz(midi):.3f}", instrument=name,
                             program=program, midi=midi, note=note_name(midi), family=family,
                             harmonicity=f"{harm:.3f}", detune_cents=f"{detune:+.1f}"))
            print(f"{fname:28s} {note_name(midi):4s} {midi_to_hz(midi):8.2f} Hz  render RMS "
                  f"{db(rms):6.1f} dBFS  harmonicity {harm:.3f}  detune {detune:+6.1f} cents")
    with open(out / "notes.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for s in skipped:
        print("skipped (silent):", s)
    return rows


def summary(out: Path, rows: list[dict]) -> None:
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    f0 = [float(r["f0_hz"]) for r in rows]
    n_inst = len({r["instrument"] for r in rows})
    print(f"rendered {len(rows)} notes of {n_inst} instruments, f0 {min(f0):.1f} .. "
          f"{max(f0):.1f} Hz, {SAMPLE_RATE} Hz, {DURATION} s each; {out}: {size / 1e6:.2f} MB")


def check(out: Path) -> None:
    """pyin on every note of notes.csv: per instrument, notes within 50 cents of the MIDI f0."""
    import librosa
    import soundfile as sf

    with open(out / "notes.csv") as f:
        rows = list(csv.DictReader(f))
    per: dict[str, list] = {}
    misses = []
    for r in rows:
        y, sr = sf.read(str(out / r["file"]), dtype="float32")
        f0_ref = float(r["f0_hz"])
        f0, voiced, _ = librosa.pyin(y, fmin=30.0, fmax=2200.0, sr=sr, frame_length=2048,
                                     hop_length=256, center=True)
        fv = f0[voiced & np.isfinite(f0)]
        n_frames = len(f0)
        if len(fv) == 0:
            cents, frac = np.nan, 0.0
        else:
            c = 1200.0 * np.log2(fv / f0_ref)
            cents = float(np.median(c))
            frac = float(np.sum(np.abs(c) <= 50.0)) / n_frames
        ok = bool(np.isfinite(cents) and abs(cents) <= 50.0)
        per.setdefault(r["instrument"], []).append(
            (ok, frac, cents, len(fv) / n_frames, float(r["detune_cents"])))
        if not ok:
            yd = y.astype(np.float64)
            harm, half, _ = partials(yd, f0_ref)
            s, fr = _spectrum(yd)
            odd = _near(s, fr, np.arange(1, int(sr / 2 / f0_ref) + 1, 2) * f0_ref, f0_ref)
            misses.append(f"  {r['file']:26s} {r['note']:4s} ref {f0_ref:7.2f} Hz  pyin median "
                          f"{'-' if len(fv) == 0 else f'{np.median(fv):7.2f} Hz'}"
                          f" ({cents:+5.0f} cents, voiced {len(fv) / n_frames:4.0%});"
                          f" power near k f0 {harm:.2f}, odd k f0 {odd:.3f},"
                          f" (k+1/2) f0 {half:.3f}")
    print(f"\npyin check (fmin 30, fmax 2200 Hz, frame 2048, hop 256 at {SAMPLE_RATE} Hz)")
    print("note ok: median voiced pyin f0 within 50 cents of the MIDI f0; frames ok: frames voiced"
          " and within 50 cents;\nmedian cents: of pyin (0.1-semitone grid, biased +0.6) and of"
          " the detune_cents column")
    print(f"{'instrument':18s} {'notes':>5s} {'note ok':>8s} {'frames ok':>9s} "
          f"{'voiced':>7s} {'pyin cents':>10s} {'detune_cents':>12s}")
    tot = []
    for name, v in per.items():
        ok, frac, cents, vfrac, det = map(np.array, zip(*v))
        tot += list(ok)
        print(f"{name:18s} {len(v):5d} {ok.mean():8.0%} {frac.mean():9.0%} {vfrac.mean():7.0%} "
              f"{np.nanmedian(cents):+10.1f} {np.median(det):+12.1f}")
    print(f"{'all':18s} {len(tot):5d} {np.mean(tot):8.0%}")
    print("notes whose median pyin f0 is more than 50 cents off (power at odd k f0 and none at"
          " (k+1/2) f0: the waveform repeats\nevery 1 / f0, and pyin made an octave error):"
          if misses else "no misses")
    print("\n".join(misses))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "notes",
                   help="output folder (default: experiments/notes)")
    p.add_argument("--soundfont", default=SOUNDFONT, help=f"sf2 file (default: {SOUNDFONT})")
    p.add_argument("--check", action="store_true",
                   help="after rendering, run librosa.pyin on every note and print the agreement")
    p.add_argument("--check-only", action="store_true", help="only run the pyin check")
    p.add_argument("--list", action="store_true", help="print the instruments and pitch grid")
    a = p.parse_args(argv)
    if a.list:
        for name, program, family, timing, lo, hi, step in INSTRUMENTS:
            notes = list(range(lo, hi + 1, step))
            print(f"{name:18s} program {program:3d} {family:9s} {len(notes):2d} notes "
                  f"{note_name(lo)}..{note_name(notes[-1])} step {step} "
                  f"({midi_to_hz(lo):.1f}..{midi_to_hz(notes[-1]):.1f} Hz)")
        return
    if not a.check_only:
        rows = build(a.out, a.soundfont)
        summary(a.out, rows)
    if a.check or a.check_only:
        check(a.out)


if __name__ == "__main__":
    main()
