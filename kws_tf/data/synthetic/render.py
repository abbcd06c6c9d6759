"""Rendering, in the worker processes: clips and background noise files, written atomically."""
import os

import numpy as np

from kws_tf import cli
from kws_tf.data.synthetic.dsp import (
    SAMPLE_RATE,
    _active_span,
    _clip_noise,
    _colored_noise,
    _fan,
    _hum,
    _mic_eq,
    _to_16k,
    resample,
)
from kws_tf.data.synthetic.espeak_ng import _espeak
from kws_tf.data.synthetic.vocabulary import _BABBLE_VOCAB, _voice_name
from kws_tf.data.wav import write_wav
from kws_tf.errors import KwsError

CLIP_SAMPLES = 16000
PEAK_DB_RANGE = (-20.0, -1.0)
NOISY_FRACTION = 0.5         # clips with audible background noise
SNR_DB_RANGE = (10.0, 35.0)
MAX_WORD_SAMPLES = 15000     # an utterance longer than this is sped up


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
    """Several espeak-ng talkers saying random everyday words at once, over a faint hiss."""
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


def _render_noise(job):
    """Worker task: writes one long background noise file."""
    rng = np.random.default_rng(job["seed"])
    n = job["seconds"] * SAMPLE_RATE
    kind = job["kind"]
    if kind == "white_noise":
        y = _colored_noise(rng, n, 0.0)
    elif kind == "pink_noise":
        y = _colored_noise(rng, n, 1.0)
    elif kind == "brown_noise":
        y = _colored_noise(rng, n, 2.0)
    elif kind == "mains_hum":
        y = _hum(rng, n)
    elif kind == "babble":
        y = _babble(rng, n, job["avoid"], job["accents"], job["variants"])
    else:
        y = _fan(rng, n)
    y = y / (np.abs(y).max() + 1e-12) * 10 ** (rng.uniform(-8.0, -2.0) / 20.0)
    _write_atomic(job["path"], y)
    return os.path.basename(job["path"])


def _task(job):
    """Pool entry point: runs one ``(kind, payload)`` job of the plan."""
    kind, payload = job
    if kind == "clips":
        return kind, _render_chunk(payload)
    return kind, _render_noise(payload)
