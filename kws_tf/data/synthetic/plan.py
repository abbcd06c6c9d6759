"""Planning, in the calling process: speakers, every clip and noise file, worker jobs.

A plan depends only on the seed, the words, the counts and the voices available, so the same
arguments give the same jobs whatever the number of workers.
"""
import hashlib
import math
import os

import numpy as np

from kws_tf.data.synthetic.vocabulary import DEFAULT_WORDS, _voice_name, variant_groups

BACKGROUND_NOISE_DIR = "_background_noise_"
RATE_RANGE = (110, 260)      # words per minute, speaker bucket (step 10)
PITCH_RANGE = (20, 90)       # espeak pitch 0-100, speaker bucket (step 5)
PITCH_SPAN_RANGE = (20, 90)  # espeak pitch range 0-100, per speaker
# With --variety: the whole range espeak-ng speaks intelligibly.
WIDE_RATE_RANGE, WIDE_PITCH_RANGE, WIDE_SPAN_RANGE = (90, 300), (0, 100), (0, 100)
CHUNK = 48                   # clips rendered per fresh process
PIPER_CHUNK = 192            # Piper clips per fresh process (loading its voices takes ~1 s)
NOISE_KINDS = (("white_noise", 60), ("pink_noise", 60), ("brown_noise", 60),
               ("mains_hum", 45), ("babble", 45), ("fan", 50))

# One independent random stream per purpose, drawn from the seed.
_TAG_POOL, _TAG_PLAN, _TAG_CLIP, _TAG_NOISE, _TAG_FLITE, _TAG_PIPER = 1, 2, 3, 4, 5, 6
# Flite's voices (three men, one woman): how often each is drawn, the range of its speakers'
# mean pitch in Hz (rms keeps its own) and of their warps.
FLITE_VOICES = (("kal16", 0.2, (75, 160), (0.88, 1.12)), ("awb", 0.2, (75, 160), (0.88, 1.12)),
                ("rms", 0.25, (75, 160), (0.88, 1.12)), ("slt", 0.35, (150, 280), (0.9, 1.18)))
FLITE_STRETCHES = 15  # duration stretch 0.75, 0.80, ... 1.45
FLITE_RATE = 175  # a Flite speaker's rate: espeak-ng's neutral words/min, jittered per clip
# A Piper speaker: its voice's length scale (as Flite's stretches), the noise scale of its
# voice model (0.3-1.0: how much each utterance varies) and a warp (0.86-1.16).
PIPER_NOISES, PIPER_WARPS = 8, 16


def _key(text):
    """A 32-bit key of ``text`` that, unlike ``hash``, is the same in every process."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4],
                          "little")


def _timbre(rng, amount):
    """A speaker's own formants (frequency, height and width factors for formants 1-5,
    frequencies within 1 +- ``amount``), pitch flutter, roughness and, for some, breath."""
    formants = [[float(np.exp(rng.uniform(-amount, amount))),
                 float(np.exp(rng.uniform(-2 * amount, 2 * amount))),
                 float(np.exp(rng.uniform(-2 * amount, 3 * amount)))] for _ in range(5)]
    breath = ([int(b) for b in rng.integers(0, 6, size=8)] if rng.random() < 0.3 else [])
    return {"formants": formants, "flutter": int(rng.integers(0, 80)),
            "roughness": int(rng.integers(0, 6)), "breath": breath}


def _speaker_pool(seed, count, accents, variants, variety=0, warp=0.0, timbre=0.0):
    """``count`` distinct speakers: dicts with name, voice, rate, pitch, span, warp (the
    factor that scales the spectrum, as a longer or shorter vocal tract would) and, with
    ``timbre``, a timbre of their own (see ``_timbre``)."""
    rng = np.random.default_rng([seed, _TAG_POOL])
    acc_p = np.array([a[2] for a in accents])
    acc_p /= acc_p.sum()
    groups = [([v for v in g if v in variants], p) for g, p in variant_groups(variety)]
    groups = [(g, p) for g, p in groups if g]
    grp_p = np.array([p for _, p in groups])
    grp_p /= grp_p.sum()
    rates, pitches, spans = ((WIDE_RATE_RANGE, WIDE_PITCH_RANGE, WIDE_SPAN_RANGE) if variety
                             else (RATE_RANGE, PITCH_RANGE, PITCH_SPAN_RANGE))
    pool, seen = [], set()
    while len(pool) < count:
        accent, tag, _ = accents[rng.choice(len(accents), p=acc_p)]
        group = groups[rng.choice(len(groups), p=grp_p)][0]
        variant = group[rng.integers(len(group))]
        rate = rates[0] + 10 * int(rng.integers((rates[1] - rates[0]) // 10 + 1))
        pitch = pitches[0] + 5 * int(rng.integers((pitches[1] - pitches[0]) // 5 + 1))
        span = int(rng.integers(spans[0], spans[1] + 1))
        name = "%s-%s-r%d-p%d" % (tag, (variant or "base").lower(), rate, pitch)
        if name in seen:
            continue
        seen.add(name)
        pool.append({"name": name, "voice": _voice_name(accent, variant),
                     "rate": rate, "pitch": pitch, "span": span,
                     "warp": float(rng.uniform(1.0 - warp, 1.0 + warp)) if warp else 1.0,
                     "timbre": _timbre(rng, timbre) if timbre else None})
    return pool


def _flite_pool(seed, count):
    """``count`` distinct Flite speakers: a voice, a duration stretch, a mean pitch, a warp
    (wider than espeak-ng speakers', as four voices make them all)."""
    rng = np.random.default_rng([seed, _TAG_FLITE])
    p = np.array([v[1] for v in FLITE_VOICES])
    pool, seen = [], set()
    while len(pool) < count:
        voice, _, (f_lo, f_hi), (w_lo, w_hi) = FLITE_VOICES[rng.choice(len(FLITE_VOICES),
                                                                        p=p / p.sum())]
        stretch = 0.75 + 0.05 * int(rng.integers(FLITE_STRETCHES))
        f0 = 5 * int(rng.integers(f_lo // 5, f_hi // 5 + 1))
        name = "fl-%s-s%d-f%d" % (voice, round(100 * stretch), f0)
        if name in seen:
            continue
        seen.add(name)
        # rate and pitch are espeak-ng's neutral values, jittered per clip like theirs.
        pool.append({"name": name, "voice": voice, "engine": "flite", "stretch": stretch,
                     "f0": f0, "rate": FLITE_RATE, "pitch": 50,
                     "warp": float(rng.uniform(w_lo, w_hi))})
    return pool


def _piper_pool(seed, count, voices):
    """``count`` distinct Piper speakers, from ``voices``: {voice file: its number of
    speakers}; each a voice (and a speaker of it), a length scale, a noise scale, a warp."""
    rng = np.random.default_rng([seed, _TAG_PIPER])
    paths = sorted(voices)
    combos = sum(voices.values()) * FLITE_STRETCHES * PIPER_NOISES * PIPER_WARPS
    pool, seen = [], set()
    while len(pool) < min(count, combos):
        path = paths[int(rng.integers(len(paths)))]
        n_speakers = voices[path]
        speaker_id = int(rng.integers(n_speakers)) if n_speakers > 1 else None
        stretch = 0.75 + 0.05 * int(rng.integers(FLITE_STRETCHES))
        noise = 0.3 + 0.1 * int(rng.integers(PIPER_NOISES))
        warp = 0.86 + 0.02 * int(rng.integers(PIPER_WARPS))
        stem = os.path.splitext(os.path.basename(path))[0].replace("_", "-")
        name = "pp-%s%s-s%d-n%d-w%d" % (stem, "" if speaker_id is None else "-%d" % speaker_id,
                                         round(100 * stretch), round(10 * noise),
                                         round(100 * warp))
        if name in seen:
            continue
        seen.add(name)
        pool.append({"name": name, "voice": stem, "engine": "piper", "model": path,
                     "speaker_id": speaker_id, "stretch": stretch, "noise": noise,
                     "rate": FLITE_RATE, "pitch": 50, "warp": warp})
    return pool


def _plan(output_dir, words, clips_per_word, seed, pool, knobs, unknown=(), unknown_clips=0):
    """Every clip to write, in a fixed order: ``clips_per_word`` of each of ``words``, then
    ``unknown_clips`` of each ``unknown`` word."""
    clips = []
    todo = [(w, clips_per_word) for w in words] + [(w, unknown_clips) for w in unknown]
    for word, count in todo:
        wkey = _key(word)
        rng = np.random.default_rng([seed, _TAG_PLAN, wkey])
        picks = rng.integers(len(pool), size=count)
        repeats = {}
        for i, p in enumerate(picks):
            spk = pool[int(p)]
            n = repeats.get(spk["name"], 0)
            repeats[spk["name"]] = n + 1
            path = os.path.join(output_dir, word,
                                "%s_nohash_%d.wav" % (spk["name"], n))
            clips.append({"path": path, "word": word, "speaker": spk, "knobs": knobs,
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
    """Worker jobs: each noise file, then the clips in fixed chunks: Piper's (the longest
    jobs) apart in chunks of ``PIPER_CHUNK``, the others' of ``CHUNK``."""
    piper = [c for c in clips if c["speaker"].get("engine") == "piper"]
    others = [c for c in clips if c["speaker"].get("engine") != "piper"]
    chunks = [piper[i:i + PIPER_CHUNK] for i in range(0, len(piper), PIPER_CHUNK)]
    chunks += [others[i:i + CHUNK] for i in range(0, len(others), CHUNK)]
    return [("noise", j) for j in noise_jobs] + [("clips", c) for c in chunks]
