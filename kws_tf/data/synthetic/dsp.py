"""Signal processing (numpy only): resampling to 16 kHz, trimming, noise, microphone colouring."""
import math

import numpy as np

SAMPLE_RATE = 16000


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


def _rolloff(ratio, order):
    """How many times an ``order``-th order Butterworth filter attenuates, at ``ratio`` of
    the frequency to the cut-off (low-pass) or of the cut-off to the frequency (high-pass)."""
    return np.sqrt(1.0 + ratio ** (2 * order))


def _mic_eq(rng):
    """A random zero-phase microphone colouring: high-pass, low-pass, tilt."""
    hp = rng.uniform(40.0, 250.0)
    lp = rng.uniform(3500.0, 8000.0)
    order = rng.integers(2, 5)
    tilt = rng.uniform(-0.15, 0.15)

    def eq(n_out):
        f = np.arange(n_out // 2 + 1) * (SAMPLE_RATE / n_out)
        f[0] = 1e-3
        g = 1.0 / _rolloff(hp / f, 2)
        g /= _rolloff(f / lp, order)
        g *= (np.maximum(f, 50.0) / 1000.0) ** tilt
        return g
    return eq


def _fan(rng, n):
    """Fan-like: low-passed noise, a blade tone and a slow swell."""
    t = np.arange(n) / SAMPLE_RATE
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec)) * (SAMPLE_RATE / n)
    fc = rng.uniform(300.0, 900.0)
    spec *= 1.0 / _rolloff(f / fc, 2)
    spec *= 1.0 / _rolloff(40.0 / np.maximum(f, 1e-3), 2)
    y = np.fft.irfft(spec, n)
    y /= np.sqrt(np.mean(y ** 2)) + 1e-12
    blade = rng.uniform(20.0, 45.0)
    for h in range(1, 5):
        y += (0.5 / h) * np.sin(2 * np.pi * blade * h * t + rng.uniform(0, 6.3))
    return y * (1.0 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))


def _breath_noise(rng, n):
    """Breath-like noise: white noise band-passed around 0.5-3 kHz, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec)) * (SAMPLE_RATE / n)
    low, high = rng.uniform(300.0, 800.0), rng.uniform(2000.0, 4500.0)
    spec /= _rolloff(low / np.maximum(f, 1e-3), 2) * _rolloff(f / high, 2)
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _device_response(x, rng):
    """``x`` through a random device: band limits (a third of the time a phone's
    300-3400 Hz), two to four resonances of +-3-10 dB, like a small microphone's."""
    spec = np.fft.rfft(x)
    f = np.maximum(np.arange(len(spec)) * (SAMPLE_RATE / len(x)), 1e-3)
    if rng.random() < 1 / 3:
        hp, lp, order = rng.uniform(250.0, 350.0), rng.uniform(3200.0, 3600.0), 4
    else:
        hp, lp, order = rng.uniform(60.0, 400.0), rng.uniform(4000.0, 8000.0), 2
    gain = 1.0 / _rolloff(hp / f, order)
    gain /= _rolloff(f / lp, order)
    for _ in range(int(rng.integers(2, 5))):
        centre = math.exp(rng.uniform(math.log(300.0), math.log(6000.0)))
        width = centre / rng.uniform(1.0, 4.0)  # Q of 1 to 4
        db = rng.uniform(3.0, 10.0) * (1 if rng.random() < 0.5 else -1)
        gain *= 10 ** (db / 20.0 / (1.0 + ((f - centre) / (width / 2)) ** 2))
    return np.fft.irfft(spec * gain, len(x))
