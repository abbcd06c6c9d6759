"""A synthetic Speech Commands data set, spoken by espeak-ng.

The real Speech Commands data set cannot be downloaded here, so the demo and
the tests train on this stand-in instead.  It has the same layout
(``DIR/<word>/<speaker>_nohash_<n>.wav`` plus ``DIR/_background_noise_/``), the
same clip format (16 kHz, 16-bit mono, exactly one second) and the same
default vocabulary, so everything that reads Speech Commands reads it too.
Each ``<speaker>`` is one espeak-ng voice setting (accent, voice variant, rate
and pitch bucket), so Speech Commands' hash split keeps a "speaker" in one
partition.

espeak-ng is driven through its C API (``speak_lib.h``) with ctypes, using the
library and data shipped in the ``espeakng-loader`` wheel.

Determinism: the same command writes byte-identical files.  espeak-ng keeps
synthesis state between utterances that no API call resets (the pitch
flutter phase, the automatic gain, a cycle counter), so an utterance depends on
everything the process spoke before it.  Clips are therefore rendered in fixed
chunks, each in a fresh worker process that initialises espeak-ng once.  The
workers are forked by a driver subprocess (``python -c``) that never loads
espeak-ng, so the caller's own state (its main script, its threads, any
espeak-ng it used) never leaks in.  What a chunk holds depends only on the
seed, the words and the clip count, never on the number of workers or on
scheduling.

Usage::

    python -m kws_tf.data.synthetic --output_dir DIR [--clips_per_word 300]
        [--seed 0] [--words yes,no,...] [--noise_files 6] [--json_out FILE]
"""
import ctypes
import hashlib
import json
import math
import multiprocessing
import numbers
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

from kws_tf.data.wav import write_wav
from kws_tf import cli, progress
from kws_tf.errors import KwsError

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
BACKGROUND_NOISE_DIR = "_background_noise_"

HELLO_EDGE_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off",
                    "stop", "go")
# The other 20 words of Speech Commands v0.01 (``_unknown_`` material).
EXTRA_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy",
               "house", "marvin", "nine", "one", "seven", "sheila", "six",
               "three", "tree", "two", "wow", "zero")
DEFAULT_WORDS = HELLO_EDGE_WORDS + EXTRA_WORDS

# espeak-ng English voices (file under espeak-ng-data/lang/gmw) and the short
# tag used in speaker names, with how often each is drawn.
ACCENTS = (
    ("en-us", "us", 0.30),
    ("en", "gb", 0.14),
    ("en-gb-x-rp", "rp", 0.10),
    ("en-gb-scotland", "sco", 0.10),
    ("en-gb-x-gbclan", "lan", 0.08),
    ("en-gb-x-gbcwmd", "wmd", 0.08),
    ("en-029", "car", 0.10),
    ("en-us-nyc", "nyc", 0.10),
)
# Voice variants (espeak-ng-data/voices/!v).  Effect voices (robots, echo
# chambers, "Demonic", "announcer", pure breath) are left out.  "" is the
# accent's own default voice.
MALE_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2",
    "klatt3", "Alex", "Andy", "Denis", "Diogo", "Gene", "Gene2", "Henrique",
    "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Reed",
    "adam", "benjamin", "boris", "croak", "david", "ed", "edward", "grandpa",
    "gustave", "iven", "iven2", "iven3", "iven4", "john", "max", "michel",
    "miguel", "mike2", "norbert", "pablo", "paul", "pedro", "quincy", "rob",
    "robert", "sandro", "travis", "victor")
FEMALE_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika",
    "aunty", "belinda", "grandma", "linda", "steph", "steph2", "steph3", "zac")
WHISPER_VARIANTS = ("whisper", "whisperf")
VARIANT_GROUPS = ((MALE_VARIANTS, 0.55), (FEMALE_VARIANTS, 0.42),
                  (WHISPER_VARIANTS, 0.03))

RATE_RANGE = (110, 260)      # words per minute, speaker bucket (step 10)
PITCH_RANGE = (20, 90)       # espeak pitch 0-100, speaker bucket (step 5)
PITCH_SPAN_RANGE = (20, 90)  # espeak pitch range 0-100, per speaker
PEAK_DB_RANGE = (-20.0, -1.0)
NOISY_FRACTION = 0.5         # clips with audible background noise
SNR_DB_RANGE = (10.0, 35.0)
MAX_WORD_SAMPLES = 15000     # an utterance longer than this is sped up
CHUNK = 48                   # clips rendered per fresh process

# Words for the babble noise (the requested keywords are removed from it).
_BABBLE_VOCAB = (
    "the of and a to in is you that it he was for are as with his they at be "
    "this have from or had by hot word but what some we can out other were "
    "all there when your how said an each she which do their time if will way "
    "about many then them write would like so these her long make thing see "
    "him has look more day could come did number sound most people my over "
    "know water than call first who may side been now find people little "
    "morning coffee weather tomorrow meeting because really think maybe "
    "window kitchen garden music station market because probably window "
    "yesterday answer question afternoon evening paper pencil travel"
).split()

_TAG_POOL, _TAG_PLAN, _TAG_CLIP, _TAG_NOISE = 1, 2, 3, 4

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE, _ESPEAK_VOLUME, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 2, 3, 4
_EE_OK = 0


# ---------------------------------------------------------------------------
# espeak-ng through ctypes (one instance per process).

class _EspeakVoice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int),
                ("spare", ctypes.c_void_p)]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_void_p)


class _Espeak:
    """espeak-ng loaded into this process, synchronous mode, audio to a list."""

    def __init__(self):
        import espeakng_loader
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int,
                                          ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.argtypes = []
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_EspeakVoice)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int,
                                            ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        self._lib = lib
        # Breath noise in espeak-ng's wavegen uses the C library's rand().
        self._libc = ctypes.CDLL(None)
        # Without DONT_EXIT espeak-ng calls exit() when its data is missing.
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 1000,
            espeakng_loader.get_data_path().encode(),
            _ESPEAK_INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise KwsError("espeak-ng failed to initialise with data %s"
                           % espeakng_loader.get_data_path())
        self.sample_rate = rate
        self._chunks = []
        self._callback = _SYNTH_CALLBACK(self._on_audio)  # keep a reference
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples, events):
        if wav and num_samples > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * num_samples))
        return 0  # 0 = continue synthesis

    def set_voice(self, name):
        """Selects e.g. "en-us+f3"; an unknown variant is an error, not ignored."""
        if self._lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            return False
        if "+" in name:
            # espeak-ng silently drops a variant it cannot find; check it.
            ident = self._lib.espeak_GetCurrentVoice().contents.identifier
            variant = name.split("+", 1)[1]
            return ident is not None and ident.decode().endswith("+" + variant)
        return True

    def synth(self, text, voice, rate=175, pitch=50, pitch_range=50,
              volume=80, seed=0):
        """Speaks ``text``; returns int16 samples at ``self.sample_rate``."""
        if not self.set_voice(voice):
            raise KwsError("espeak-ng has no voice %r" % voice)
        lib = self._lib
        lib.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_ESPEAK_RANGE, int(pitch_range), 0)
        lib.espeak_SetParameter(_ESPEAK_VOLUME, int(volume), 0)
        lib.espeak_ng_SetRandSeed(int(seed) & 0x7fffffff)
        self._libc.srand(ctypes.c_uint(int(seed) & 0xffffffff))
        self._chunks = []
        data = text.encode("utf-8")
        err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0,
                               _ESPEAK_CHARS_UTF8, None, None)
        if err != _EE_OK:
            raise KwsError("espeak-ng failed (error %d) on %r" % (err, text))
        audio = np.frombuffer(b"".join(self._chunks), dtype="<i2")
        self._chunks = []
        return audio


_ESPEAK = None


def _espeak():
    global _ESPEAK
    if _ESPEAK is None:
        _ESPEAK = _Espeak()
    return _ESPEAK


def _voice_name(accent, variant):
    return accent + ("+" + variant if variant else "")


def available_voices():
    """(accents, variants) of ours that the bundled espeak-ng data has."""
    import espeakng_loader
    data = espeakng_loader.get_data_path()
    lang_dir = os.path.join(data, "lang", "gmw")
    have_langs = {n.lower() for n in os.listdir(lang_dir)} \
        if os.path.isdir(lang_dir) else set()
    var_dir = os.path.join(data, "voices", "!v")
    have_vars = set(os.listdir(var_dir)) if os.path.isdir(var_dir) else set()
    accents = tuple(a for a in ACCENTS if a[0] in have_langs)
    variants = tuple(v for group, _ in VARIANT_GROUPS for v in group
                     if v == "" or v in have_vars)
    return accents, variants


# ---------------------------------------------------------------------------
# Signal processing (numpy only).

def resample(x, n_out, eq=None):
    """FFT resampling of ``x`` to exactly ``n_out`` samples.

    The signal is treated as one period, so pad it with silence first.  The
    top 10% of the output band is tapered to avoid ringing.  ``eq`` is an
    optional gain per output rfft bin.
    """
    x = np.asarray(x, dtype=np.float64)
    n_in = len(x)
    spec = np.fft.rfft(x)
    n_bins = n_out // 2 + 1
    out = np.zeros(n_bins, dtype=np.complex128)
    keep = min(n_bins, len(spec))
    out[:keep] = spec[:keep]
    if n_out < n_in:
        taper_start = int(0.9 * (n_bins - 1))
        ramp = np.arange(n_bins - taper_start) / max(1, n_bins - 1 - taper_start)
        out[taper_start:] *= 0.5 * (1.0 + np.cos(np.pi * ramp))
    if eq is not None:
        out *= eq
    return np.fft.irfft(out, n_out) * (n_out / n_in)


def _to_16k(samples, rate_in, eq_fn=None):
    """int16 espeak output at rate_in -> float at 16 kHz (with padding)."""
    x = samples.astype(np.float64) / 32768.0
    g = math.gcd(int(rate_in), SAMPLE_RATE)
    block_in, block_out = rate_in // g, SAMPLE_RATE // g
    pad = 512
    blocks = -(-(len(x) + 2 * pad) // block_in)
    padded = np.zeros(blocks * block_in)
    padded[pad:pad + len(x)] = x
    n_out = blocks * block_out
    eq = eq_fn(n_out) if eq_fn else None
    y = resample(padded, n_out, eq)
    start = pad * block_out // block_in
    return y[start:start + len(x) * block_out // block_in + 1]


def _active_span(x, rel_db=-40.0):
    """(start, end) of the part of x above rel_db relative to its peak."""
    a = np.abs(x)
    peak = a.max() if len(a) else 0.0
    if peak <= 0:
        return 0, 0
    idx = np.flatnonzero(a > peak * 10 ** (rel_db / 20.0))
    return int(idx[0]), int(idx[-1]) + 1


def _colored_noise(rng, n, beta):
    """Gaussian noise with power spectrum ~ 1/f**beta, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-beta / 2.0)
    spec[0] = 0.0
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _hum(rng, n, base=None):
    """Mains hum: 50 or 60 Hz with decaying harmonics, slowly wobbling."""
    base = base or (50.0 if rng.random() < 0.5 else 60.0)
    t = np.arange(n) / SAMPLE_RATE
    y = np.zeros(n)
    for h in range(1, 12):
        amp = rng.uniform(0.3, 1.0) / h ** rng.uniform(0.7, 1.4)
        y += amp * np.sin(2 * np.pi * base * h * t + rng.uniform(0, 2 * np.pi))
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    y = y * wobble + 0.02 * _colored_noise(rng, n, 1.0)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _clip_noise(rng, n):
    kind = rng.choice(4, p=[0.25, 0.35, 0.25, 0.15])
    if kind == 3:
        return _hum(rng, n)
    return _colored_noise(rng, n, float(kind))


def _mic_eq(rng):
    """A random zero-phase microphone colouring: high-pass, low-pass, tilt."""
    hp = rng.uniform(40.0, 250.0)
    lp = rng.uniform(3500.0, 8000.0)
    order = rng.integers(2, 5)
    tilt = rng.uniform(-0.15, 0.15)

    def eq(n_out):
        f = np.arange(n_out // 2 + 1) * (SAMPLE_RATE / n_out)
        f[0] = 1e-3
        g = 1.0 / np.sqrt(1.0 + (hp / f) ** 4)
        g /= np.sqrt(1.0 + (f / lp) ** (2 * order))
        g *= (np.maximum(f, 50.0) / 1000.0) ** tilt
        return g
    return eq


# ---------------------------------------------------------------------------
# Planning (parent process): speakers, clips, chunks.

def _key(text):
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4],
                          "little")


def _speaker_pool(seed, count, accents, variants):
    """``count`` distinct speakers: dicts with name, voice, rate, pitch, span."""
    rng = np.random.default_rng([seed, _TAG_POOL])
    acc_p = np.array([a[2] for a in accents])
    acc_p /= acc_p.sum()
    groups = [([v for v in g if v in variants], p) for g, p in VARIANT_GROUPS]
    groups = [(g, p) for g, p in groups if g]
    grp_p = np.array([p for _, p in groups])
    grp_p /= grp_p.sum()
    n_rates = (RATE_RANGE[1] - RATE_RANGE[0]) // 10 + 1
    n_pitches = (PITCH_RANGE[1] - PITCH_RANGE[0]) // 5 + 1
    pool, seen = [], set()
    while len(pool) < count:
        accent, tag, _ = accents[rng.choice(len(accents), p=acc_p)]
        group = groups[rng.choice(len(groups), p=grp_p)][0]
        variant = group[rng.integers(len(group))]
        rate = RATE_RANGE[0] + 10 * int(rng.integers(n_rates))
        pitch = PITCH_RANGE[0] + 5 * int(rng.integers(n_pitches))
        span = int(rng.integers(PITCH_SPAN_RANGE[0], PITCH_SPAN_RANGE[1] + 1))
        name = "%s-%s-r%d-p%d" % (tag, (variant or "base").lower(), rate, pitch)
        if name in seen:
            continue
        seen.add(name)
        pool.append({"name": name, "voice": _voice_name(accent, variant),
                     "rate": rate, "pitch": pitch, "span": span})
    return pool


def _plan(output_dir, words, clips_per_word, seed, pool):
    """Every clip to write, in a fixed order."""
    clips = []
    for word in words:
        wkey = _key(word)
        rng = np.random.default_rng([seed, _TAG_PLAN, wkey])
        picks = rng.integers(len(pool), size=clips_per_word)
        repeats = {}
        for i, p in enumerate(picks):
            spk = pool[int(p)]
            n = repeats.get(spk["name"], 0)
            repeats[spk["name"]] = n + 1
            path = os.path.join(output_dir, word,
                                "%s_nohash_%d.wav" % (spk["name"], n))
            clips.append({"path": path, "word": word, "speaker": spk,
                          "seed": [seed, _TAG_CLIP, wkey, i]})
    return clips


# ---------------------------------------------------------------------------
# Rendering (worker processes).

def _write_atomic(path, samples):
    cli.atomic_write(path, lambda stream: write_wav(stream, samples, SAMPLE_RATE))


def _speak_word(espeak, word, speaker, rng):
    """One utterance of ``word`` at 16 kHz, trimmed to its active part."""
    rate = int(np.clip(speaker["rate"] + rng.integers(-5, 6), 80, 450))
    pitch = int(np.clip(speaker["pitch"] + rng.integers(-2, 3), 0, 100))
    suffix = ("", ".", "?", "!", ",")[rng.choice(5, p=[.3, .3, .15, .15, .1])]
    text = word + suffix
    eq = _mic_eq(rng)
    synth_seed = int(rng.integers(1 << 31))
    for _ in range(3):  # speed up an utterance that is too long
        raw = espeak.synth(text, speaker["voice"], rate, pitch, speaker["span"],
                           seed=synth_seed)
        if raw.size == 0 or not np.any(raw):
            return None
        y = _to_16k(raw, espeak.sample_rate, eq)
        start, end = _active_span(y)
        start = max(0, start - 80)
        end = min(len(y), end + 160)
        y = y[start:end]
        if len(y) <= MAX_WORD_SAMPLES or rate >= 450:
            break
        rate = min(450, int(rate * len(y) / (0.9 * MAX_WORD_SAMPLES)) + 1)
    if len(y) > MAX_WORD_SAMPLES:
        y = resample(np.concatenate([y, np.zeros(256)]),
                     MAX_WORD_SAMPLES + 256 * MAX_WORD_SAMPLES // len(y))
        y = y[:MAX_WORD_SAMPLES]
    return y


def _render_clip(espeak, clip):
    rng = np.random.default_rng(clip["seed"])
    y = _speak_word(espeak, clip["word"], clip["speaker"], rng)
    if y is None or np.abs(y).max() <= 0:
        raise KwsError("--words: espeak-ng produces no audio for %r"
                       % clip["word"])
    # Fade the cut edges, set the level, place the word in the second.
    fade = min(64, len(y) // 4)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    peak = 10 ** (rng.uniform(*PEAK_DB_RANGE) / 20.0)
    y *= peak / np.abs(y).max()
    start = int(rng.integers(0, CLIP_SAMPLES - len(y) + 1))
    out = np.zeros(CLIP_SAMPLES)
    out[start:start + len(y)] = y
    speech_rms = np.sqrt(np.mean(y ** 2))
    if rng.random() < NOISY_FRACTION:
        snr = rng.uniform(*SNR_DB_RANGE)
        noise_rms = speech_rms * 10 ** (-snr / 20.0)
    else:  # a faint floor, so no clip is digitally clean
        noise_rms = 10 ** (rng.uniform(-80.0, -62.0) / 20.0)
    out += noise_rms * _clip_noise(rng, CLIP_SAMPLES)
    top = np.abs(out).max()
    if top > 0.98:
        out *= 0.98 / top
    return out


def _render_chunk(clips):
    """Worker task: renders and writes clips; returns how many per word."""
    espeak = _espeak()
    counts = {}
    for clip in clips:
        _write_atomic(clip["path"], _render_clip(espeak, clip))
        counts[clip["word"]] = counts.get(clip["word"], 0) + 1
    return counts


def _check_words(words, voices):
    """Worker task: words espeak-ng says nothing for, voices it lacks."""
    espeak = _espeak()
    missing = [v for v in voices if not espeak.set_voice(v)]
    silent = []
    for word in words:
        raw = espeak.synth(word, "en-us")
        if raw.size == 0 or np.abs(raw.astype(np.int32)).max() < 300:
            silent.append(word)
    return silent, missing


def _babble(rng, n, avoid, accents, variants):
    espeak = _espeak()
    vocab = [w for w in _BABBLE_VOCAB if w not in avoid]
    mix = np.zeros(n)
    for _ in range(int(rng.integers(5, 9))):
        talker = np.zeros(n)
        pos = int(rng.integers(0, SAMPLE_RATE))
        accent = accents[rng.integers(len(accents))][0]
        voice = _voice_name(accent, variants[rng.integers(len(variants))])
        rate = int(rng.integers(140, 220))
        pitch = int(rng.integers(20, 80))
        while pos < n:
            words = [vocab[i] for i in rng.integers(len(vocab),
                                                    size=rng.integers(4, 13))]
            raw = espeak.synth(" ".join(words) + ".", voice, rate, pitch, 60,
                               seed=int(rng.integers(1 << 31)))
            y = _to_16k(raw, espeak.sample_rate)
            y = y[:n - pos]
            talker[pos:pos + len(y)] = y
            pos += len(y) + int(rng.integers(0, SAMPLE_RATE // 2))
        rms = np.sqrt(np.mean(talker ** 2))
        if rms > 0:
            mix += rng.uniform(0.5, 1.0) * talker / rms
    return mix + 0.05 * _colored_noise(rng, n, 1.0)


def _fan(rng, n):
    """Fan-like: low-passed noise, a blade tone and a slow swell."""
    t = np.arange(n) / SAMPLE_RATE
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec)) * (SAMPLE_RATE / n)
    fc = rng.uniform(300.0, 900.0)
    spec *= 1.0 / np.sqrt(1.0 + (f / fc) ** 4)
    spec *= 1.0 / np.sqrt(1.0 + (40.0 / np.maximum(f, 1e-3)) ** 4)
    y = np.fft.irfft(spec, n)
    y /= np.sqrt(np.mean(y ** 2)) + 1e-12
    blade = rng.uniform(20.0, 45.0)
    for h in range(1, 5):
        y += (0.5 / h) * np.sin(2 * np.pi * blade * h * t + rng.uniform(0, 6.3))
    return y * (1.0 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))


NOISE_KINDS = (("white_noise", 60), ("pink_noise", 60), ("brown_noise", 60),
               ("mains_hum", 45), ("babble", 45), ("fan", 50))


def _noise_name(index):
    kind, _ = NOISE_KINDS[index % len(NOISE_KINDS)]
    rep = index // len(NOISE_KINDS)
    return kind + ("_%d" % (rep + 1) if rep else "") + ".wav"


def _render_noise(job):
    """Worker task: writes one long background noise file."""
    index, path, seed, avoid, accents, variants = job
    kind, seconds = NOISE_KINDS[index % len(NOISE_KINDS)]
    rng = np.random.default_rng([seed, _TAG_NOISE, index])
    n = seconds * SAMPLE_RATE
    if kind == "white_noise":
        y = _colored_noise(rng, n, 0.0)
    elif kind == "pink_noise":
        y = _colored_noise(rng, n, 1.0)
    elif kind == "brown_noise":
        y = _colored_noise(rng, n, 2.0)
    elif kind == "mains_hum":
        y = _hum(rng, n)
    elif kind == "babble":
        y = _babble(rng, n, avoid, accents, variants)
    else:
        y = _fan(rng, n)
    y = y / (np.abs(y).max() + 1e-12) * 10 ** (rng.uniform(-8.0, -2.0) / 20.0)
    _write_atomic(path, y)
    return os.path.basename(path)


def _task(job):
    kind, payload = job
    if kind == "clips":
        return kind, _render_chunk(payload)
    return kind, _render_noise(payload)


# ---------------------------------------------------------------------------
# Driver.

class _Progress:
    """``clips 1200/3000  845.1 clips/s`` on stderr."""

    def __init__(self, total, enabled=True, stream=None):
        self.total, self.enabled = total, enabled
        self.line = progress.StatusLine(stream)
        self.done, self.start = 0, time.monotonic()

    def update(self, n):
        self.done += n
        if self.enabled:
            rate = self.done / max(time.monotonic() - self.start, 1e-9)
            self.line.show("clips %d/%d  %.1f clips/s" % (self.done, self.total, rate),
                           final=self.done >= self.total)

    def close(self):
        self.line.close()


def _check_word_names(words):
    seen = set()
    for w in words:
        if not w:
            raise KwsError("--words: empty word in the list")
        if w in (".", "..", BACKGROUND_NOISE_DIR) or "/" in w or "\\" in w \
                or "\0" in w or (os.altsep and os.altsep in w):
            raise KwsError("--words: %r cannot be a folder name" % w)
        if w in seen:
            raise KwsError("--words: %r is given twice" % w)
        seen.add(w)


def _check_output_dir(output_dir):
    try:
        os.makedirs(output_dir, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_test", dir=output_dir)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise KwsError("--output_dir %s: not writable (%s)"
                       % (output_dir, e.strerror or e))


def _make_dirs(output_dir, names):
    for name in names:
        path = os.path.join(output_dir, name)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise KwsError("--output_dir %s: cannot create %s (%s)"
                           % (output_dir, path, e.strerror or e))


def _run_jobs(spec, send):
    """Driver process: checks the words, then renders every job in workers.

    Runs in a clean interpreter that never loads espeak-ng, so every worker
    forked from it starts with espeak-ng's state untouched; each worker does
    one job (``maxtasksperchild=1``) and exits.
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(spec["n_proc"], maxtasksperchild=1) as procs:
        silent, missing = procs.apply(_check_words,
                                      (spec["words"], spec["voices"]))
        if missing:
            raise KwsError("espeak-ng data lacks voice(s): %s"
                           % ", ".join(missing))
        if silent:
            raise KwsError("--words: espeak-ng produces no audio for %s"
                           % ", ".join(repr(w) for w in silent))
        _make_dirs(spec["output_dir"], spec["dirs"])
        for kind, result in procs.imap_unordered(_task, spec["jobs"]):
            send({kind: result})
    send({"done": True})


def _driver():
    """Entry point of the driver subprocess: pickled spec on stdin, one JSON
    message per line on (the original) stdout."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (from C too) go to stderr, not the channel

    def send(msg):
        out.write(json.dumps(msg) + "\n")
        out.flush()

    try:
        _run_jobs(pickle.load(sys.stdin.buffer), send)
    except KwsError as e:
        send({"error": str(e)})
    except BaseException:  # noqa: B902 - reported to the parent, then exit
        send({"internal": traceback.format_exc()})


def _run_driver(spec, on_message):
    """Runs ``_run_jobs`` in a fresh interpreter (``python -c``).

    A pool started from the caller would re-import the caller's main script
    in every worker (forkserver/spawn) or fork a process that may hold
    threads and a used espeak-ng (fork); a ``-c`` driver has neither.
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"]
                                if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "from kws_tf.data.synthetic import _driver; _driver()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    finished = False
    try:
        proc.stdin.write(pickle.dumps(spec))
        proc.stdin.close()
        for line in proc.stdout:
            msg = json.loads(line)
            if "error" in msg:
                raise KwsError(msg["error"])
            if "internal" in msg:
                raise RuntimeError("synthetic data driver failed:\n"
                                   + msg["internal"])
            if msg.get("done"):
                finished = True
            else:
                on_message(msg)
        rc = proc.wait()
        if not finished:
            raise RuntimeError("synthetic data driver exited with status %s "
                               "before finishing" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _whole(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def generate(output_dir, words=None, clips_per_word=300, seed=0,
             noise_files=6, workers=None, progress=True):
    """Writes the data set; returns the summary dict (also ``--json_out``).

    ``words`` defaults to ``DEFAULT_WORDS``; ``workers`` (default: the CPUs
    this process may use) only changes the speed, never the output.  Raises
    ``KwsError`` for bad input.
    """
    begin = time.monotonic()
    words = list(DEFAULT_WORDS if words is None else words)
    if not _whole(clips_per_word) or clips_per_word < 1:
        raise KwsError("--clips_per_word must be a whole number >= 1, got %r"
                       % (clips_per_word,))
    if not _whole(seed) or seed < 0:
        raise KwsError("--seed must be a whole number >= 0, got %r" % (seed,))
    if not _whole(noise_files) or noise_files < 0:
        raise KwsError("--noise_files must be a whole number >= 0, got %r"
                       % (noise_files,))
    if not words:
        raise KwsError("--words: no words given")
    if not all(isinstance(w, str) for w in words):
        raise KwsError("--words: words must be strings")
    clips_per_word, seed, noise_files = (int(clips_per_word), int(seed),
                                         int(noise_files))
    _check_word_names(words)
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:
            workers = os.cpu_count() or 1
    workers = max(1, int(workers))
    output_dir = os.path.abspath(str(output_dir))

    accents, variants = available_voices()
    if not accents or not variants:
        raise KwsError("espeak-ng data has none of the English voices needed")
    n_speakers = max(4, int(math.ceil(0.8 * clips_per_word)))
    pool = _speaker_pool(seed, n_speakers, accents, variants)
    clips = _plan(output_dir, words, clips_per_word, seed, pool)
    chunks = [clips[i:i + CHUNK] for i in range(0, len(clips), CHUNK)]
    noise_jobs = []
    for k in range(noise_files):
        path = os.path.join(output_dir, BACKGROUND_NOISE_DIR, _noise_name(k))
        noise_jobs.append((k, path, seed, sorted(set(words) | set(DEFAULT_WORDS)),
                           accents, variants))
    jobs = [("noise", j) for j in noise_jobs] + [("clips", c) for c in chunks]

    _check_output_dir(output_dir)
    spec = {"jobs": jobs, "words": words, "output_dir": output_dir,
            "voices": sorted({s["voice"] for s in pool}),
            "dirs": words + ([BACKGROUND_NOISE_DIR] if noise_files else []),
            "n_proc": min(workers, len(jobs))}
    bar = _Progress(len(clips), enabled=progress)
    written = {w: 0 for w in words}
    noise_written = []

    def on_message(msg):
        if "clips" in msg:
            for w, c in msg["clips"].items():
                written[w] += c
            bar.update(sum(msg["clips"].values()))
        else:
            noise_written.append(msg["noise"])

    try:
        _run_driver(spec, on_message)
    finally:
        bar.close()
    seconds = time.monotonic() - begin
    total = sum(written.values())
    return {
        "output_dir": output_dir,
        "words": words,
        "seed": seed,
        "sample_rate": SAMPLE_RATE,
        "clips_per_word": written,
        "total_clips": total,
        "num_speakers": len({c["speaker"]["name"] for c in clips}),
        "num_voices": len({c["speaker"]["voice"] for c in clips}),
        "noise_files": sorted(noise_written),
        "seconds": round(seconds, 3),
        "clips_per_second": round(total / seconds, 1) if seconds > 0 else None,
    }


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.data.synthetic",
        description="Writes a synthetic Speech-Commands-layout data set spoken by espeak-ng.")
    parser.add_argument("--output_dir", required=True,
                        help="Folder to write <word>/*.wav and _background_noise_/*.wav into.")
    parser.add_argument("--clips_per_word", type=int, default=300, help="Clips of each word.")
    parser.add_argument("--seed", type=int, default=0,
                        help="The same seed writes byte-identical files.")
    parser.add_argument("--words", default=",".join(DEFAULT_WORDS),
                        help="Comma-separated words (default: the 10 Hello Edge keywords and the "
                             "20 other Speech Commands v0.01 words).")
    parser.add_argument("--noise_files", type=int, default=6,
                        help="Long background noise files to write.")
    cli.add_json_out(parser)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        words = [w.strip() for w in args.words.split(",")]
        summary = generate(args.output_dir, words, args.clips_per_word,
                           args.seed, args.noise_files, progress=True)
        cli.write_json(args.json_out, summary)
    print("wrote %d clips (%d words, %d speakers) and %d noise files to %s "
          "in %.1f s (%.0f clips/s)"
          % (summary["total_clips"], len(summary["words"]),
             summary["num_speakers"], len(summary["noise_files"]),
             summary["output_dir"], summary["seconds"],
             summary["clips_per_second"] or 0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
