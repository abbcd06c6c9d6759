"""Hello-Edge-identical MFCC features, and a CLI to look at them.

Features are ``AudioSpectrogram`` (magnitude squared) then ``Mfcc``: the very
kernels inside Hello Edge's frozen graphs, so a model trained here sees the
same numbers as one trained there. Batches go through the kernels as
"channels" ([samples, batch]), one op call per batch.

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


def mfcc(audio, config):
    """MFCCs of a batch of clips: float [batch, samples] in [-1, 1] -> [batch, frames, dct]."""
    import tensorflow as tf

    spectrogram = tf.raw_ops.AudioSpectrogram(
        input=tf.transpose(audio),
        window_size=config.window_size_samples,
        stride=config.window_stride_samples,
        magnitude_squared=True)
    return quantize_tf(tf.raw_ops.Mfcc(
        spectrogram=spectrogram,
        sample_rate=config.sample_rate,
        upper_frequency_limit=MFCC_UPPER_FREQUENCY_LIMIT,
        lower_frequency_limit=MFCC_LOWER_FREQUENCY_LIMIT,
        filterbank_channel_count=MFCC_FILTERBANK_CHANNELS,
        dct_coefficient_count=config.dct_coefficient_count), config)


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
