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

The calling process plans every clip and noise file (``plan``); a driver subprocess
(``driver``) runs the workers that speak and write them (``render``, ``espeak_ng``, ``dsp``).

Usage::

    python -m kws_tf.data.synthetic --output_dir DIR [--clips_per_word 300]
        [--seed 0] [--words yes,no,...] [--noise_files 6] [--json_out FILE]
"""
import numbers
import os
import tempfile
import time

from kws_tf.data.synthetic.driver import _render_all
from kws_tf.data.synthetic.dsp import SAMPLE_RATE
from kws_tf.data.synthetic.plan import (
    BACKGROUND_NOISE_DIR,
    _jobs,
    _noise_jobs,
    _plan,
    _speaker_count,
    _speaker_pool,
)
from kws_tf.data.synthetic.vocabulary import ACCENTS, DEFAULT_WORDS, available_voices
from kws_tf.errors import KwsError

__all__ = ["ACCENTS", "DEFAULT_WORDS", "KwsError", "available_voices", "generate"]


def generate(output_dir, words=None, clips_per_word=300, seed=0,
             noise_files=6, workers=None, progress=True):
    """Writes the data set; returns the summary dict (also ``--json_out``).

    ``words`` defaults to ``DEFAULT_WORDS``; ``workers`` (default: the CPUs
    this process may use) only changes the speed, never the output.  Raises
    ``KwsError`` for bad input.
    """
    begin = time.monotonic()
    words, clips_per_word, seed, noise_files = _checked_args(
        words, clips_per_word, seed, noise_files)
    workers = _worker_count(workers)
    output_dir = os.path.abspath(str(output_dir))
    accents, variants = _english_voices()
    pool = _speaker_pool(seed, _speaker_count(clips_per_word), accents, variants)
    clips = _plan(output_dir, words, clips_per_word, seed, pool)
    jobs = _jobs(clips, _noise_jobs(output_dir, words, seed, noise_files, accents, variants))
    _check_output_dir(output_dir)
    spec = {"jobs": jobs, "words": words, "output_dir": output_dir,
            "voices": sorted({s["voice"] for s in pool}),
            "dirs": words + ([BACKGROUND_NOISE_DIR] if noise_files else []),
            "n_proc": min(workers, len(jobs))}
    written, noise_written = _render_all(spec, len(clips), progress)
    return _summary(output_dir, words, seed, clips, written, noise_written,
                    time.monotonic() - begin)


def _whole(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _checked_args(words, clips_per_word, seed, noise_files):
    """The arguments of ``generate`` as a word list and ints; ``KwsError`` names a bad flag."""
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
    _check_word_names(words)
    return words, int(clips_per_word), int(seed), int(noise_files)


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
