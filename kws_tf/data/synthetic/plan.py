"""Planning, in the calling process: speakers, every clip and noise file, worker jobs.

A plan depends only on the seed, the words, the counts and the voices available, so the same
arguments give the same jobs whatever the number of workers.
"""
import hashlib
import math
import os

import numpy as np

from kws_tf.data.synthetic.vocabulary import DEFAULT_WORDS, VARIANT_GROUPS, _voice_name

BACKGROUND_NOISE_DIR = "_background_noise_"
RATE_RANGE = (110, 260)      # words per minute, speaker bucket (step 10)
PITCH_RANGE = (20, 90)       # espeak pitch 0-100, speaker bucket (step 5)
PITCH_SPAN_RANGE = (20, 90)  # espeak pitch range 0-100, per speaker
CHUNK = 48                   # clips rendered per fresh process
NOISE_KINDS = (("white_noise", 60), ("pink_noise", 60), ("brown_noise", 60),
               ("mains_hum", 45), ("babble", 45), ("fan", 50))

# One independent random stream per purpose, drawn from the seed.
_TAG_POOL, _TAG_PLAN, _TAG_CLIP, _TAG_NOISE = 1, 2, 3, 4


def _key(text):
    """A 32-bit key of ``text`` that, unlike ``hash``, is the same in every process."""
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



def _speaker_count(clips_per_word):
    """Size of the speaker pool for ``clips_per_word`` clips of each word."""
    return max(4, int(math.ceil(0.8 * clips_per_word)))


def _noise_name(index):
    kind, _ = NOISE_KINDS[index % len(NOISE_KINDS)]
    rep = index // len(NOISE_KINDS)
    return kind + ("_%d" % (rep + 1) if rep else "") + ".wav"


def _noise_jobs(output_dir, words, seed, count, accents, variants):
    """Every background noise file to write; babble avoids all keywords."""
    avoid = sorted(set(words) | set(DEFAULT_WORDS))
    jobs = []
    for index in range(count):
        kind, seconds = NOISE_KINDS[index % len(NOISE_KINDS)]
        path = os.path.join(output_dir, BACKGROUND_NOISE_DIR, _noise_name(index))
        jobs.append({"path": path, "kind": kind, "seconds": seconds,
                     "seed": [seed, _TAG_NOISE, index], "avoid": avoid,
                     "accents": accents, "variants": variants})
    return jobs


def _jobs(clips, noise_jobs):
    """Worker jobs: each noise file, then the clips in fixed chunks of ``CHUNK``."""
    chunks = [clips[i:i + CHUNK] for i in range(0, len(clips), CHUNK)]
    return [("noise", j) for j in noise_jobs] + [("clips", c) for c in chunks]
