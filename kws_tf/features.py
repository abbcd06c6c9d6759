"""Hello-Edge-identical MFCC features, and a CLI to look at them.

Features are ``AudioSpectrogram`` (magnitude squared) then ``Mfcc``: the very
kernels inside Hello Edge's frozen graphs, so a model trained here sees the
same numbers as one trained there. Batches go through the kernels as
"channels" ([samples, batch]), one op call per batch.

    python -m kws_tf.features --wav clip.wav --window_size_ms 40 \
        --window_stride_ms 20 --dct_coefficient_count 10 [--quantize_bits 6]
"""
import dataclasses
import math
import sys

import numpy as np

from kws_tf.errors import KwsError

# Mfcc op attributes; Hello Edge left them at the op defaults.
MFCC_LOWER_FREQUENCY_LIMIT = 20.0
MFCC_UPPER_FREQUENCY_LIMIT = 4000.0
MFCC_FILTERBANK_CHANNELS = 40


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Hello Edge's feature flags, with its defaults (``prepare_model_settings``)."""

    sample_rate: int = 16000
    clip_duration_ms: float = 1000
    window_size_ms: float = 30.0
    window_stride_ms: float = 10.0
    dct_coefficient_count: int = 40
    # 0: Hello Edge's float MFCCs. N: round(mfcc * 2**feature_frac_bits) saturated to signed
    # N bits, times 2**-feature_frac_bits: the integer graph's input, seen by the float model.
    feature_bits: int = 0
    feature_frac_bits: int = 0

    @property
    def desired_samples(self):
        return int(self.sample_rate * self.clip_duration_ms / 1000)

    @property
    def window_size_samples(self):
        return int(self.sample_rate * self.window_size_ms / 1000)

    @property
    def window_stride_samples(self):
        return int(self.sample_rate * self.window_stride_ms / 1000)

    @property
    def spectrogram_length(self):
        """Frames: only complete windows count, as in AudioSpectrogram."""
        if self.desired_samples < self.window_size_samples:
            return 0
        return 1 + (self.desired_samples - self.window_size_samples) // self.window_stride_samples

    @property
    def shape(self):
        """(frames, coefficients): time-major, as Hello Edge flattens it."""
        return (self.spectrogram_length, self.dct_coefficient_count)

    def validate(self):
        """Raises KwsError naming the flag when the settings give no features."""
        for name in ("sample_rate", "clip_duration_ms", "window_size_ms",
                     "window_stride_ms", "dct_coefficient_count"):
            if getattr(self, name) <= 0:
                raise KwsError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.window_stride_samples < 1:
            raise KwsError(f"--window_stride_ms {self.window_stride_ms} is shorter than one sample")
        if self.spectrogram_length < 1:
            raise KwsError(f"--window_size_ms {self.window_size_ms} is longer than "
                           f"--clip_duration_ms {self.clip_duration_ms}: no complete window")
        if self.feature_bits and not 2 <= self.feature_bits <= 16:
            raise KwsError(f"--feature_bits must be 0 (float) or between 2 and 16, got "
                           f"{self.feature_bits}")
        if self.dct_coefficient_count > MFCC_FILTERBANK_CHANNELS:
            raise KwsError(f"--dct_coefficient_count {self.dct_coefficient_count} is more than the "
                           f"{MFCC_FILTERBANK_CHANNELS} mel channels it is computed from")
        return self


# The feature flags, one per FeatureConfig setting and named alike.
FLAGS = tuple(field.name for field in dataclasses.fields(FeatureConfig))


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


def add_feature_flags(parser):
    """Hello Edge's feature flags: same names, defaults and meaning."""
    group = parser.add_argument_group("features (as Hello Edge)")
    group.add_argument("--sample_rate", type=int, default=16000,
                       help="Expected sample rate of the wavs; other rates are resampled to it.")
    group.add_argument("--clip_duration_ms", type=float, default=1000,
                       help="Expected duration in milliseconds of the wavs; shorter clips are "
                            "zero-padded at the end, longer ones truncated.")
    group.add_argument("--window_size_ms", type=float, default=30.0,
                       help="How long each spectrogram timeslice is.")
    group.add_argument("--window_stride_ms", type=float, default=10.0,
                       help="How far to move in time between spectrogram timeslices.")
    group.add_argument("--dct_coefficient_count", type=int, default=40,
                       help="How many MFCC coefficients (bins) to keep per frame.")
    group.add_argument("--feature_bits", type=int, default=0,
                       help="0 (default): Hello Edge's float MFCCs. N: round them to what the "
                            "integer graph takes, round(mfcc * 2**--feature_frac_bits) in "
                            "signed N bits (scaled back), so a float model trains on its input.")
    group.add_argument("--feature_frac_bits", type=int, default=0,
                       help="The power-of-two input scale exponent for --feature_bits.")
    return group


def feature_config_from_flags(args):
    return FeatureConfig(
        sample_rate=args.sample_rate,
        clip_duration_ms=args.clip_duration_ms,
        window_size_ms=args.window_size_ms,
        window_stride_ms=args.window_stride_ms,
        dct_coefficient_count=args.dct_coefficient_count,
        feature_bits=args.feature_bits,
        feature_frac_bits=args.feature_frac_bits).validate()


def clip_features(path, config, resampler="soxr"):
    """Feature map [frames, dct] of one wav file (any format the reader converts)."""
    from kws_tf.data.wav import read_wav

    audio = pad_or_trim(read_wav(path, config.sample_rate, resampler), config.desired_samples)
    return mfcc(audio[np.newaxis, :], config).numpy()[0]


def _parser():
    from kws_tf import cli
    from kws_tf.data import speech_commands

    parser = cli.ArgumentParser(
        prog="python -m kws_tf.features",
        description="Print or save the MFCC feature map of a wav, frames as rows: exactly "
                    "what a model trained with the same feature flags sees.")
    parser.add_argument("--wav", required=True, help="The wav file.")
    add_feature_flags(parser)
    speech_commands.add_resampler_flag(parser)
    parser.add_argument("--output_file", default="",
                        help="Save the map to this .npy file instead of printing it.")
    parser.add_argument("--quantize_bits", type=int, default=0,
                        help="If set (e.g. 6), print the integer map the integer graph "
                             "consumes: scaled by 2**input_frac_bits, rounded, saturated.")
    parser.add_argument("--input_frac_bits", type=int, default=None,
                        help="Power-of-two input scale exponent for --quantize_bits (the value "
                             "quant_test.py prints for a model); default: the largest that fits "
                             "this clip.")
    cli.add_json_out(parser)
    return parser


def main(argv=None):
    from kws_tf import cli

    args = _parser().parse_args(argv)
    with cli.user_errors():
        config = feature_config_from_flags(args)
        features = clip_features(args.wav, config, args.resampler)
        report = {"wav": args.wav, "frames": int(features.shape[0]),
                  "coefficients": int(features.shape[1]),
                  "min": float(features.min()), "max": float(features.max())}
        if args.quantize_bits:
            if not 2 <= args.quantize_bits <= 32:
                raise KwsError(f"--quantize_bits must be between 2 and 32, got "
                               f"{args.quantize_bits}")
            frac_bits = args.input_frac_bits
            if frac_bits is None:
                frac_bits = choose_frac_bits(float(np.abs(features).max()), args.quantize_bits)
            features = quantize(features, args.quantize_bits, frac_bits)
            report.update(quantize_bits=args.quantize_bits, input_frac_bits=frac_bits)
        if args.output_file:
            cli.save_npy(args.output_file, features)
            report["output_file"] = args.output_file
            print(f"wrote {args.output_file}: {features.shape[0]} frames x "
                  f"{features.shape[1]} coefficients ({features.dtype})")
        else:
            header = f"# {args.wav}: {features.shape[0]} frames (rows) x {features.shape[1]} MFCC"
            if args.quantize_bits:
                header += (f", {args.quantize_bits}-bit integers = round(mfcc * 2**"
                           f"{report['input_frac_bits']})")
            print(header)
            fmt = "%d" if args.quantize_bits else "%.4f"
            np.savetxt(sys.stdout, features, fmt=fmt)
        cli.write_json(args.json_out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
