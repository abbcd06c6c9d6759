"""A synthetic Speech Commands data set, spoken by espeak-ng, Flite and Piper.

The real Speech Commands data set cannot be downloaded here, so the demo and
the tests train on this stand-in instead.  It has the same layout
(``DIR/<word>/<speaker>_nohash_<n>.wav`` plus ``DIR/_background_noise_/``), the
same clip format (16 kHz, 16-bit mono, exactly one second) and the same
default vocabulary, so everything that reads Speech Commands reads it too.
Each ``<speaker>`` is one espeak-ng voice setting (accent, voice variant, rate
and pitch bucket), so Speech Commands' hash split keeps a "speaker" in one
partition.

espeak-ng is driven through its C API (``speak_lib.h``) with ctypes, using the
library and data shipped in the ``espeakng-loader`` wheel; by default ``FLITE_SHARE`` of the
speakers are Flite's (``flite``, the system's libflite), whose voices are made from recordings
of people and so have people's consonants, where that library is installed, and
``PIPER_SHARE`` are Piper's (``piper_tts``: neural voices trained on recordings), where
``piper-tts`` and a voice are installed.

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

The calling process plans every clip and noise file (``plan``); a driver subprocess
(``driver``) runs the workers that speak and write them (``render``, ``espeak_ng``, ``flite``,
``piper_tts``, ``dsp``).

Realism knobs (``KNOBS``: name, default, the value that turns it off), each a flag: speaker
variety, a vocal-tract-length warp of the spectrum, Speech-Commands-like placement and level,
breaths, reverberation in simulated rooms (``kws_tf.data.rir``), a device's frequency response
and clipping, background noise, and the shares of Flite and Piper speakers.
docs/synthetic_data.md gives what each costs and gains.

Usage::

    python -m kws_tf.data.synthetic --output_dir DIR [--clips_per_word 300]
        [--seed 0] [--words yes,no,...] [--unknown_words ...] [--noise_files 6]
        [--reverb 0.5 ...] [--json_out FILE]
"""
import numbers
import os
import tempfile
import time

import numpy as np

from kws_tf.data import rir
from kws_tf.data.synthetic import flite, piper_tts
from kws_tf.data.synthetic.driver import _render_all, phonemes
from kws_tf.data.synthetic.dsp import SAMPLE_RATE
from kws_tf.data.synthetic.plan import (
    BACKGROUND_NOISE_DIR,
    _flite_pool,
    _jobs,
    _noise_jobs,
    _piper_pool,
    _plan,
    _speaker_count,
    _speaker_pool,
)
from kws_tf.data.synthetic.vocabulary import (
    ACCENTS,
    COMMON_WORDS,
    DEFAULT_UNKNOWN_WORDS,
    DEFAULT_WORDS,
    HELLO_EDGE_WORDS,
    available_voices,
    spoken,
)
from kws_tf.errors import KwsError

__all__ = ["ACCENTS", "COMMON_WORDS", "DEFAULT_UNKNOWN_WORDS", "DEFAULT_WORDS", "FLITE_SHARE",
           "HELLO_EDGE_WORDS", "KNOBS", "KwsError", "PIPER_SHARE", "available_voices",
           "generate"]

# The realism knobs: default, and the value that turns the knob off (the ablation's).
KNOBS = {
    "variety": (1, 0),      # every variant, wide rate/pitch/pitch range, word emphasis
    "warp": (0.1, 0.0),     # a speaker's spectrum scaled by 1 +- up to this
    "timbre": (0.15, 0.0),  # a speaker's own formants (1 +- this), flutter, roughness
    "placement": (1, 0),    # word centred and levelled like Speech Commands'
    "breath": (0.2, 0.0),   # share of clips with a breath before or after the word
    "reverb": (0.5, 0.0),   # share of clips reverberated in a simulated room
    "channel": (0.5, 0.0),  # share of clips through a device response (some clipped)
    "noise": (0.5, 0.0),    # share of clips with audible noise (10-35 dB SNR)
    "flite": (None, 0.0),   # share of speakers that are Flite's; None: FLITE_SHARE if installed
    "piper": (None, 0.0),   # share of speakers that are Piper's; None: PIPER_SHARE if installed
}
FLITE_SHARE = 0.4
PIPER_SHARE = 0.2
ROOMS = 100  # simulated rooms --reverb draws from


def generate(output_dir, words=None, clips_per_word=300, seed=0,
             noise_files=6, workers=None, progress=True, unknown_words=None,
             unknown_clips_per_word=None, piper_voices=None, **knobs):
    """Writes the data set; returns the summary dict (also ``--json_out``).

    ``words`` (the keywords) default to ``HELLO_EDGE_WORDS``; ``unknown_words`` (default
    ``DEFAULT_UNKNOWN_WORDS``: Speech Commands' other twenty words and common English words),
    less any of ``words`` and any word that sounds like one (``know``, for ``no``), get
    ``unknown_clips_per_word`` clips each (default a fifth of ``clips_per_word``); ``knobs``
    override ``KNOBS``' defaults; Piper's speakers use ``piper_voices`` (voice files, or
    ``installed``: the installed voice packages', the default).  ``workers`` (default: the
    CPUs this process may use) only changes the speed, never the output.  Raises
    ``KwsError`` for bad input.
    """
    begin = time.monotonic()
    words, clips_per_word, seed, noise_files = _checked_args(
        words, clips_per_word, seed, noise_files)
    unknown, unknown_clips = _checked_unknown(words, unknown_words, unknown_clips_per_word,
                                              clips_per_word)
    unknown, homophones = _without_homophones(words, unknown)
    knobs = _checked_knobs(knobs)
    knobs["flite"] = _flite_share(knobs["flite"])
    knobs["piper"], voices = _piper_voices(piper_voices, knobs["piper"], knobs["flite"])
    workers = _worker_count(workers)
    output_dir = os.path.abspath(str(output_dir))
    accents, variants = _english_voices()
    count = _speaker_count(clips_per_word)
    n_flite = int(round(knobs["flite"] * count))
    n_piper = int(round(knobs["piper"] * count))
    pool = _speaker_pool(seed, count - n_flite - n_piper, accents, variants,
                         knobs["variety"], knobs["warp"], knobs["timbre"])
    pool += _flite_pool(seed, n_flite) + _piper_pool(seed, n_piper, voices)
    clips = _plan(output_dir, words, clips_per_word, seed, pool, knobs, unknown, unknown_clips)
    jobs = _jobs(clips, _noise_jobs(output_dir, words, seed, noise_files, accents, variants))
    _check_output_dir(output_dir)
    spec = {"jobs": jobs, "words": words + unknown, "output_dir": output_dir,
            "voices": sorted({s["voice"] for s in pool if "engine" not in s}),
            "dirs": words + unknown + ([BACKGROUND_NOISE_DIR] if noise_files else []),
            "n_proc": min(workers, len(jobs)), "flite": n_flite > 0,
            "rooms": rir.bank(seed, ROOMS).astype(np.float32) if knobs["reverb"] else None}
    written, noise_written = _render_all(spec, len(clips), progress)
    summary = _summary(output_dir, words, seed, clips, written, noise_written,
                       time.monotonic() - begin)
    return {**summary, "unknown_words": unknown, "homophones_left_out": homophones,
            "knobs": knobs, "piper_voices": sorted(voices) if n_piper else []}


def _whole(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _checked_args(words, clips_per_word, seed, noise_files):
    """The arguments of ``generate`` as a word list and ints; ``KwsError`` names a bad flag."""
    words = list(HELLO_EDGE_WORDS if words is None else words)
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
    _check_word_names(words)
    return words, int(clips_per_word), int(seed), int(noise_files)


def _checked_unknown(words, unknown_words, unknown_clips, clips_per_word):
    """(unknown words not among ``words``, clips of each); ``KwsError`` names a bad flag."""
    unknown = list(DEFAULT_UNKNOWN_WORDS if unknown_words is None else unknown_words)
    if not all(isinstance(w, str) for w in unknown):
        raise KwsError("--unknown_words: words must be strings")
    _check_word_names(unknown, "--unknown_words")
    unknown = [w for w in unknown if w not in words]
    if unknown_clips is None:
        unknown_clips = max(1, clips_per_word // 5)
    if not _whole(unknown_clips) or unknown_clips < 0:
        raise KwsError("--unknown_clips_per_word must be a whole number >= 0, got %r"
                       % (unknown_clips,))
    return (unknown if unknown_clips else []), int(unknown_clips)


def _without_homophones(words, unknown):
    """(``unknown`` less the words that sound like a keyword, {each left out: its keyword}):
    a clip of ``know`` labelled ``_unknown_`` would teach that ``no`` is not a keyword."""
    if not unknown:
        return unknown, {}
    sounds = phonemes([spoken(w) for w in words + unknown])
    keyword_of = dict(zip(sounds[:len(words)], words))
    homophones = {w: keyword_of[s] for w, s in zip(unknown, sounds[len(words):])
                  if s in keyword_of}
    return [w for w in unknown if w not in homophones], homophones


def _checked_knobs(knobs):
    """Every knob's value (given, else its default); ``KwsError`` names a bad one."""
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise TypeError("generate() got unexpected keyword argument(s) %s" % unknown)
    values = {}
    for name, (default, _) in KNOBS.items():
        value = knobs.get(name, default)
        if value is None and default is None:  # "auto": resolved by the knob's own rule
            values[name] = None
            continue
        limit = 0.5 if name in ("warp", "timbre") else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0 <= value <= limit:
            raise KwsError("--%s must be between 0 and %g, got %r" % (name, limit, value))
        values[name] = float(value)
    return values


def _flite_share(share):
    """The share of Flite speakers: ``share``, or when None ``FLITE_SHARE`` if Flite is
    installed and else 0; asking for Flite without it is an error."""
    if share is None:
        return FLITE_SHARE if flite.available() else 0.0
    if share and not flite.available():
        raise KwsError("--flite %g: %s; --flite 0 goes without" % (share, flite.MISSING))
    return share


def _piper_voices(paths, share, flite_share):
    """(the share of Piper speakers, {voice file: its number of speakers}): ``share``, or
    when None ``PIPER_SHARE`` if piper-tts and a voice are installed and else 0.  Asking for
    Piper without them, or for more Flite and Piper speakers than there are, is an error.
    The entry ``installed`` stands for the installed voice packages' voices, so that voices
    a user downloaded can join them."""
    paths = ["installed"] if paths is None else list(paths)
    paths = [v for p in paths for v in (piper_tts.default_voices() if p == "installed" else [p])]
    if share is None:
        share = PIPER_SHARE if piper_tts.installed() and paths else 0.0
    if share and not (piper_tts.installed() and paths):
        raise KwsError("--piper %g: %s; --piper 0 goes without" % (share, piper_tts.MISSING))
    if flite_share + share > 1:
        raise KwsError("--flite %g and --piper %g: more than all the speakers"
                       % (flite_share, share))
    if not share:
        return share, {}
    paths = [os.path.abspath(p) for p in paths]
    return share, {p: piper_tts.speaker_count(p) for p in paths}


def _check_word_names(words, flag="--words"):
    seen = set()
    for w in words:
        if not w:
            raise KwsError("%s: empty word in the list" % flag)
        if w in (".", "..", BACKGROUND_NOISE_DIR) or "/" in w or "\\" in w \
                or "\0" in w or (os.altsep and os.altsep in w):
            raise KwsError("%s: %r cannot be a folder name" % (flag, w))
        if w in seen:
            raise KwsError("%s: %r is given twice" % (flag, w))
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



def _worker_count(workers):
    """``workers``, or by default the CPUs this process may use."""
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:
            workers = os.cpu_count() or 1
    return max(1, int(workers))


def _english_voices():
    """Our accents and variants that espeak-ng's data has; none at all is a broken install."""
    accents, variants = available_voices()
    if not accents or not variants:
        raise KwsError("espeak-ng data has none of the English voices needed")
    return accents, variants


def _summary(output_dir, words, seed, clips, written, noise_written, seconds):
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
