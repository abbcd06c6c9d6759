"""Hello-Edge-identical MFCC features, the log mel energies beneath them, and a CLI.

Features are ``AudioSpectrogram`` (magnitude squared) then ``Mfcc``: the very
kernels inside Hello Edge's frozen graphs, so a model trained here sees the
same numbers as one trained there. Batches go through the kernels as
"channels" ([samples, batch]), one op call per batch. ``--feature_type log_mel``
stops before the Mfcc op's DCT: the same filterbank (``mel_filterbank``, built
as TensorFlow's mfcc_mel_filterbank.cc builds it) applied by a matrix product,
and the same log, for models such as ConvMixer that take a log-mel spectrogram.

    python -m kws_tf.features --wav clip.wav --window_size_ms 40 \
        --window_stride_ms 20 --dct_coefficient_count 10 [--quantize_bits 6]
"""
import math
import sys

import numpy as np

from kws_tf.config import (
    MFCC_FILTERBANK_CHANNELS,
    MFCC_LOWER_FREQUENCY_LIMIT,
    MFCC_UPPER_FREQUENCY_LIMIT,
)


# The Mfcc op's floor under the filterbank energies before their log.
FILTERBANK_FLOOR = 1e-12


def compute(audio, config):
    """The features `config.feature_type` names, of a batch of clips: float [batch, samples]
    in [-1, 1] -> [batch, frames, coefficients or mel bands]."""
    if config.feature_type == "log_mel":
        return log_mel(audio, config)
    return mfcc(audio, config)


def _spectrogram(audio, config):
    import tensorflow as tf

    return tf.raw_ops.AudioSpectrogram(
        input=tf.transpose(audio),
        window_size=config.window_size_samples,
        stride=config.window_stride_samples,
        magnitude_squared=True)


def mfcc(audio, config):
    """MFCCs of a batch of clips: float [batch, samples] in [-1, 1] -> [batch, frames, dct]."""
    import tensorflow as tf

    spectrogram = _spectrogram(audio, config)
    return quantize_tf(tf.raw_ops.Mfcc(
        spectrogram=spectrogram,
        sample_rate=config.sample_rate,
        upper_frequency_limit=MFCC_UPPER_FREQUENCY_LIMIT,
        lower_frequency_limit=MFCC_LOWER_FREQUENCY_LIMIT,
        filterbank_channel_count=MFCC_FILTERBANK_CHANNELS,
        dct_coefficient_count=config.dct_coefficient_count), config)


def log_mel(audio, config):
    """Log mel energies of a batch of clips: [batch, samples] -> [batch, frames, mel_bands]."""
    return quantize_tf(log_mel_energies(_spectrogram(audio, config), config), config)


def log_mel_energies(spectrogram, config):
    """log(max(magnitudes @ filterbank, 1e-12)) of an AudioSpectrogram (magnitude squared)
    output [..., bins]: the Mfcc op's steps before its DCT. The nodes are named
    `mel_weights` and `LogMel` (what a frozen graph's reader looks for)."""
    import tensorflow as tf

    bins = spectrogram.shape[-1]
    weights = tf.constant(mel_filterbank(config.sample_rate, bins, config.mel_bands),
                          tf.float32, name="mel_weights")
    energies = tf.tensordot(tf.sqrt(spectrogram), weights, 1)
    return tf.math.log(tf.maximum(energies, FILTERBANK_FLOOR), name="LogMel")


def _hz_to_mel(hz):
    """The mel scale of TensorFlow's filterbank (HTK's): 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def mel_filterbank(sample_rate, bins, channels):
    """[bins, channels] float64 weights of the Mfcc op's filterbank (20-4000 Hz) over the
    magnitudes of a `bins`-bin spectrogram: every bin in range sits on the falling side of
    one triangle (weight w) and the rising side of the next (1 - w), as in TF's
    mfcc_mel_filterbank.cc and kws_mfcc.c."""
    mel_low = _hz_to_mel(MFCC_LOWER_FREQUENCY_LIMIT)
    mel_high = _hz_to_mel(MFCC_UPPER_FREQUENCY_LIMIT)
    spacing = (mel_high - mel_low) / (channels + 1)
    centers = mel_low + spacing * np.arange(1, channels + 2)  # the last closes the top one
    hz_per_bin = 0.5 * sample_rate / (bins - 1)
    start = int(1.5 + MFCC_LOWER_FREQUENCY_LIMIT / hz_per_bin)  # DC is always skipped
    end = int(MFCC_UPPER_FREQUENCY_LIMIT / hz_per_bin)
    weights = np.zeros((bins, channels))
    for i in range(start, min(end, bins - 1) + 1):
        mel = _hz_to_mel(i * hz_per_bin)
        band = int(np.searchsorted(centers[:channels], mel)) - 1  # last centre below mel
        below = centers[band] if band >= 0 else mel_low
        falling = (centers[band + 1] - mel) / (centers[band + 1] - below)
        if band >= 0:
            weights[i, band] = falling
        if band + 1 < channels:
            weights[i, band + 1] = 1.0 - falling
    return weights


def quantize_tf(mfcc, config):
    """The --feature_bits rounding in TF ops (identity for float features): `quantize`'s
    integers, scaled back by 2**-feature_frac_bits so the map keeps the MFCC's scale."""
    import tensorflow as tf

    if not config.feature_bits:
        return mfcc
    high = 2.0 ** (config.feature_bits - 1) - 1
    scale = 2.0 ** config.feature_frac_bits
    return tf.clip_by_value(tf.round(mfcc * scale), -high - 1, high) / scale


def pad_or_trim(samples, length):
    """Zero-pads at the end or truncates, as DecodeWav's desired_samples does."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def choose_frac_bits(max_abs, bits):
    """Largest power-of-two exponent f such that max_abs * 2**f fits in signed `bits` bits.

    f may be negative (a scale of 1/4 is f = -2). The integer graph scales its
    input by 2**f, so only the exponent needs to be stored.
    """
    limit = 2 ** (bits - 1) - 1
    if max_abs <= 0:
        return 0
    frac_bits = math.floor(math.log2(limit / max_abs))
    # Guard against log2 rounding at exact powers of two.
    while max_abs * 2.0 ** (frac_bits + 1) <= limit:
        frac_bits += 1
    while max_abs * 2.0 ** frac_bits > limit:
        frac_bits -= 1
    return frac_bits


def quantize(features, bits, frac_bits):
    """Scales by 2**frac_bits, rounds half to even, saturates into signed `bits` bits."""
    low, high = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    scaled = np.round(np.asarray(features, dtype=np.float64) * 2.0 ** frac_bits)
    return np.clip(scaled, low, high).astype(np.int32)


if __name__ == "__main__":
    from kws_tf.commands.features import main

    sys.exit(main())
