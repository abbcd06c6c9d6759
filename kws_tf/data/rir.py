"""Room impulse responses: simulated shoebox rooms (pyroomacoustics) and measured ones (wavs).

Every response is aligned so its direct path sits at sample ``DIRECT_DELAY`` (reverberated
speech stays where it was in the clip), cut or zero-padded to ``RIR_SAMPLES`` and scaled to
unit energy (reverberated speech keeps about its level). A simulated room has a random size,
a reverberation time drawn from ``RT60_RANGE`` (which sets the walls' absorption by Sabine's
formula) and random source and microphone positions at least ``WALL_GAP`` from the walls.
A bank of them depends only on (seed, count, sample rate), so it is generated once and
cached under ``$KWS_TF_CACHE`` (default ``~/.cache/kws_tf``).

numpy only (no TensorFlow): the synthetic data generator's workers use it too.
"""
import glob
import os

import numpy as np

from kws_tf import cli
from kws_tf.errors import KwsError

RIR_SAMPLES = 8000          # 0.5 s at 16 kHz: the audible tail of rooms up to RT60 ~0.9 s
DIRECT_DELAY = 16           # samples kept before the direct path (its interpolation filter)
RT60_RANGE = (0.15, 0.9)    # seconds: from a furnished office to a bare hall
ROOM_RANGE = ((3.0, 10.0), (2.5, 8.0), (2.4, 4.0))  # metres: length, width, height
WALL_GAP = 0.5
MAX_ORDER = 40              # image-source order cap: later reflections are below -60 dB here
BANK_VERSION = 1            # bump when the simulation changes, so old caches are not read


def simulate(rng, sample_rate=16000):
    """One simulated room's response, float32 [RIR_SAMPLES], drawn from numpy Generator `rng`."""
    import pyroomacoustics as pra  # imported here: most commands never reverberate

    size = [rng.uniform(low, high) for low, high in ROOM_RANGE]
    absorption, order = pra.inverse_sabine(rng.uniform(*RT60_RANGE), size)
    room = pra.ShoeBox(size, fs=sample_rate, materials=pra.Material(min(absorption, 1.0)),
                       max_order=min(order, MAX_ORDER))
    room.add_source(_position(rng, size))
    room.add_microphone(_position(rng, size))
    room.compute_rir()
    return normalize(np.asarray(room.rir[0][0], np.float64))


def _position(rng, size):
    """A point inside the room, WALL_GAP from every wall, at a talker's or device's height."""
    return [rng.uniform(WALL_GAP, size[0] - WALL_GAP), rng.uniform(WALL_GAP, size[1] - WALL_GAP),
            rng.uniform(0.8, min(1.9, size[2] - WALL_GAP))]


def normalize(response):
    """`response` with its direct path (the largest peak) at DIRECT_DELAY, RIR_SAMPLES long,
    unit energy."""
    response = np.asarray(response, np.float64)
    lead = int(np.argmax(np.abs(response))) - DIRECT_DELAY
    response = response[lead:] if lead >= 0 else np.pad(response, (-lead, 0))
    response = response[:RIR_SAMPLES]
    response = np.pad(response, (0, RIR_SAMPLES - len(response)))
    energy = np.sqrt(np.sum(response ** 2))
    return (response / energy).astype(np.float32) if energy > 0 else response.astype(np.float32)


def simulate_bank(seed, count, sample_rate=16000):
    """`count` simulated rooms [count, RIR_SAMPLES]: room i depends only on (seed, i)."""
    return np.stack([simulate(np.random.default_rng([seed, 7919, i]), sample_rate)
                     for i in range(count)])


def cache_dir():
    return os.environ.get("KWS_TF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                          "kws_tf")


def bank(seed, count, sample_rate=16000):
    """simulate_bank, read from the cache when this (seed, count, rate) was made before."""
    path = os.path.join(cache_dir(), "rir",
                        f"bank_v{BANK_VERSION}_seed{seed}_n{count}_sr{sample_rate}.npy")
    if os.path.isfile(path):
        try:
            rooms = np.load(path)
            if rooms.shape == (count, RIR_SAMPLES):
                return rooms
        except (OSError, ValueError):
            pass  # a damaged cache file is simply made again
    rooms = simulate_bank(seed, count, sample_rate)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cli.atomic_write(path, lambda stream: np.save(stream, rooms))
    except (OSError, KwsError):
        pass  # an unwritable cache only costs the simulation next time
    return rooms


def load_dir(folder, sample_rate=16000, resampler="soxr"):
    """The measured responses in `folder`'s .wav files (any rate; channels averaged),
    normalized like simulated ones: [files, RIR_SAMPLES]."""
    from kws_tf.data.wav import read_wav

    if not os.path.isdir(folder):
        raise KwsError(f"--rir_dir {folder} does not exist")
    paths = sorted(glob.glob(os.path.join(folder, "*.wav")))
    if not paths:
        raise KwsError(f"--rir_dir {folder} holds no .wav files")
    rooms = []
    for path in paths:
        response = read_wav(path, sample_rate, resampler)
        if not np.any(response):
            raise KwsError(f"{path}: the impulse response is silent")
        rooms.append(normalize(response))
    return np.stack(rooms)


def reverberate(audio, response):
    """`audio` convolved with one normalized `response`, same length (the tail is cut)."""
    audio = np.asarray(audio, np.float64)
    size = len(audio) + len(response) - 1
    n = 1 << (size - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(audio, n) * np.fft.rfft(response, n), n)
    return out[DIRECT_DELAY:DIRECT_DELAY + len(audio)]
