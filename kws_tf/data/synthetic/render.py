"""Rendering, in the worker processes: clips and background noise files, written atomically."""
import os
import tempfile
from xml.sax.saxutils import escape as xml_escape

import numpy as np

from kws_tf import cli
from kws_tf.data.rir import reverberate
from kws_tf.data.synthetic.dsp import (
    SAMPLE_RATE,
    _active_span,
    _breath_noise,
    _clip_noise,
    _colored_noise,
    _device_response,
    _fan,
    _hum,
    _mic_eq,
    _to_16k,
    resample,
)
from kws_tf.data.synthetic.espeak_ng import _espeak
from kws_tf.data.synthetic.flite import _flite
from kws_tf.data.synthetic.piper_tts import _Piper
from kws_tf.data.synthetic.plan import FLITE_RATE, _key
from kws_tf.data.synthetic.vocabulary import (
    _BABBLE_VOCAB,
    _voice_name,
    spoken,
    voice_file_text,
)
from kws_tf.data.wav import write_wav
from kws_tf.errors import KwsError

CLIP_SAMPLES = 16000
PEAK_DB_RANGE = (-20.0, -1.0)
SNR_DB_RANGE = (10.0, 35.0)
MAX_WORD_SAMPLES = 15000     # an utterance longer than this is sped up
CENTRE_SD = 2100             # samples: spread of the word's centre with --placement
CLIPPED_FRACTION = 0.15      # of the clips through a device (--channel) that clip
EMPHASIS_LEVELS = ("", "reduced", "moderate", "strong")
EMPHASIS_P = (0.55, 0.15, 0.15, 0.15)

_VOICE_DIR = []  # the folder of speaker voice files of the chunk being rendered
_PIPER = []  # the Piper voices of the chunk being rendered
_ROOMS = []  # the room impulse responses of --reverb, set in each worker by _set_rooms


def _set_rooms(rooms):
    """Pool initializer: the simulated rooms every worker draws from."""
    _ROOMS[:] = [rooms] if rooms is not None and len(rooms) else []


def _write_atomic(path, samples):
    cli.atomic_write(path, lambda stream: write_wav(stream, samples, SAMPLE_RATE))


def _voice_file(speaker):
    """The path of the speaker's own voice file (written once per chunk), or None."""
    if not speaker.get("timbre"):
        return None
    path = os.path.join(_VOICE_DIR[0], speaker["name"].replace("+", "_"))
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(voice_file_text(speaker["voice"], speaker["timbre"]))
    return path


def _text(word, rng, emphasis):
    """(text, is SSML) for one utterance: a random final punctuation, and with ``emphasis``
    sometimes SSML emphasis, as people stress a command or throw it away."""
    suffix = ("", ".", "?", "!", ",")[rng.choice(5, p=[.3, .3, .15, .15, .1])]
    text = spoken(word) + suffix
    if emphasis:
        level = EMPHASIS_LEVELS[rng.choice(len(EMPHASIS_LEVELS), p=EMPHASIS_P)]
        if level:
            return '<speak><emphasis level="%s">%s</emphasis></speak>' % (
                level, xml_escape(text)), True
    return text, False


def _engine_say(espeak, speaker, text, ssml, pitch, rng):
    """(say(rate), sample rate): ``text`` spoken by the speaker's engine at ``rate`` words
    per minute (Flite's and Piper's speakers stretch their own rate by it)."""
    synth_seed = int(rng.integers(1 << 31))
    if speaker.get("engine") == "flite":
        engine, f0 = _flite(), speaker["f0"] * float(np.exp(rng.uniform(-0.05, 0.05)))
        return (lambda rate: engine.synth(text, speaker["voice"],
                                          speaker["stretch"] * FLITE_RATE / rate, f0),
                engine.sample_rate)
    if speaker.get("engine") == "piper":
        engine, noise_w = _PIPER[0], float(rng.uniform(0.4, 1.2))
        return (lambda rate: engine.synth(text, speaker["model"], speaker["speaker_id"],
                                          speaker["stretch"] * FLITE_RATE / rate,
                                          speaker["noise"], noise_w),
                engine.sample_rate(speaker["model"]))
    voice_file = _voice_file(speaker)
    return (lambda rate: espeak.synth(text, speaker["voice"], rate, pitch, speaker["span"],
                                      seed=synth_seed, ssml=ssml, voice_file=voice_file),
            espeak.sample_rate)


def _speak_word(espeak, word, speaker, rng, emphasis=False):
    """One utterance of ``word`` at 16 kHz, trimmed to its active part.

    The speaker's warp scales the spectrum (formants and pitch together) by reading the
    synthesiser's output as if it had that much higher a sample rate.
    """
    rate = int(np.clip(speaker["rate"] + rng.integers(-5, 6), 80, 450))
    pitch = int(np.clip(speaker["pitch"] + rng.integers(-2, 3), 0, 100))
    text, ssml = _text(word, rng, emphasis and not speaker.get("engine"))  # SSML: espeak-ng's
    eq = _mic_eq(rng)
    say, sample_rate = _engine_say(espeak, speaker, text, ssml, pitch, rng)
    rate_in = 50 * int(round(sample_rate * speaker.get("warp", 1.0) / 50))
    for _ in range(3):  # speed up an utterance that is too long
        raw = say(rate)
        if raw.size == 0 or not np.any(raw):
            return None
        y = _to_16k(raw, rate_in, eq)
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


def _place(y, rng, placement):
    """The word in a one-second clip: anywhere (uniform), or with ``placement`` centred
    like Speech Commands' clips (306 real ones: centre 500 ms, quartiles 420-594 ms), now
    and then cut at an edge."""
    out = np.zeros(CLIP_SAMPLES)
    if placement:
        low, high = -len(y) // 10, CLIP_SAMPLES - len(y) + len(y) // 10
        start = int(np.clip(rng.normal(CLIP_SAMPLES / 2, CENTRE_SD) - len(y) / 2, low, high))
    else:
        start = int(rng.integers(0, CLIP_SAMPLES - len(y) + 1))
    a, b = max(0, start), min(CLIP_SAMPLES, start + len(y))
    out[a:b] = y[a - start:b - start]
    return out, a, b


def _peak_db(rng, placement):
    """The word's peak level: uniform, or with ``placement`` spread like real Speech Commands
    clips' (a quarter within 3 dB of full scale, median about -9 dBFS)."""
    if not placement:
        return rng.uniform(*PEAK_DB_RANGE)
    return rng.uniform(-3.0, -0.5) if rng.random() < 0.25 else rng.uniform(-24.0, -3.0)


def _render_clip(espeak, clip):
    rng = np.random.default_rng(clip["seed"])
    knobs = clip["knobs"]
    y = _speak_word(espeak, clip["word"], clip["speaker"], rng, knobs["variety"] > 0)
    if y is None or np.abs(y).max() <= 0:
        engine = {"flite": "Flite", "piper": "Piper"}.get(clip["speaker"].get("engine"))
        raise KwsError("--words: %s produces no audio for %r"
                       % (engine or "espeak-ng", clip["word"]))
    # Fade the cut edges, set the level, place the word in the second.
    fade = min(64, len(y) // 4)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    peak = 10 ** (_peak_db(rng, knobs["placement"]) / 20.0)
    y *= peak / np.abs(y).max()
    out, a, b = _place(y, rng, knobs["placement"])
    if rng.random() < knobs["breath"]:
        _add_breath(out, a, b, peak, rng)
    if rng.random() < knobs["reverb"] and _ROOMS:
        out = reverberate(out, _ROOMS[0][int(rng.integers(len(_ROOMS[0])))])
    speech_rms = np.sqrt(np.mean(y ** 2))
    if rng.random() < knobs["noise"]:
        noise_rms = speech_rms * 10 ** (-rng.uniform(*SNR_DB_RANGE) / 20.0)
    else:  # a faint floor, so no clip is digitally clean
        noise_rms = 10 ** (rng.uniform(-80.0, -62.0) / 20.0)
    out += noise_rms * _clip_noise(rng, CLIP_SAMPLES)
    if rng.random() < knobs["channel"]:
        out = _device(out, rng)
    top = np.abs(out).max()
    if top > 0.98:
        out *= 0.98 / top
    return out


def _add_breath(out, a, b, peak, rng):
    """A breath (shaped, band-passed noise) before or after the word, where it fits."""
    n = int(rng.uniform(0.15, 0.4) * SAMPLE_RATE)
    gap = int(rng.uniform(0.03, 0.25) * SAMPLE_RATE)
    before = rng.random() < 0.6
    start = a - gap - n if before else b + gap
    if start < 0 or start + n > len(out):
        return
    breath = _breath_noise(rng, n) * np.hanning(n) ** 0.7
    level = peak * 10 ** (rng.uniform(-34.0, -18.0) / 20.0)
    out[start:start + n] += level * breath / (np.abs(breath).max() + 1e-12)


def _device(out, rng):
    """The recording device: its frequency response, then, now and then, clipping."""
    out = _device_response(out, rng)
    if rng.random() < CLIPPED_FRACTION:
        drive = 10 ** (rng.uniform(2.0, 12.0) / 20.0) / (np.abs(out).max() + 1e-12)
        out = np.clip(out * drive, -1.0, 1.0)
    return out


def _render_chunk(clips):
    """Worker task: renders and writes clips; returns how many per word.  A chunk of Piper
    clips loads their voices, its own noise generator seeded by the chunk's first clip."""
    models = {c["speaker"]["model"] for c in clips if c["speaker"].get("engine") == "piper"}
    if models:
        _PIPER[:] = [_Piper(models, _key(repr(clips[0]["seed"])))]
    espeak = None if models else _espeak()  # Piper chunks hold no other clips
    counts = {}
    with tempfile.TemporaryDirectory(prefix="kws_tf_voices_") as voices:
        _VOICE_DIR[:] = [voices]
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
        raw = espeak.synth(spoken(word), "en-us")
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
