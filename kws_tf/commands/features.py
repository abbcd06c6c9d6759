"""``python -m kws_tf.features``: the feature map (MFCC or log-mel) of a wav, as a model sees it.

    python -m kws_tf.features --wav clip.wav --window_size_ms 40 \
        --window_stride_ms 20 --dct_coefficient_count 10 [--quantize_bits 6]
"""
import sys

import numpy as np

from kws_tf import cli
from kws_tf.config import FeatureConfig, add_feature_flags, add_resampler_flag, from_flags
from kws_tf.data.pipeline import clip_features
from kws_tf.errors import KwsError
from kws_tf.features import choose_frac_bits, quantize


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.features",
        description="Print or save the feature map (MFCCs, or log-mel energies with "
                    "--feature_type log_mel) of a wav, frames as rows: exactly "
                    "what a model trained with the same feature flags sees.")
    parser.add_argument("--wav", required=True, help="The wav file.")
    add_feature_flags(parser)
    add_resampler_flag(parser)
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
    args = _parser().parse_args(argv)
    with cli.user_errors():
        config = from_flags(FeatureConfig, args)
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
            kind = "log-mel bands" if config.feature_type == "log_mel" else "MFCC"
            header = f"# {args.wav}: {features.shape[0]} frames (rows) x {features.shape[1]} {kind}"
            if args.quantize_bits:
                header += (f", {args.quantize_bits}-bit integers = round(mfcc * 2**"
                           f"{report['input_frac_bits']})")
            print(header)
            fmt = "%d" if args.quantize_bits else "%.4f"
            np.savetxt(sys.stdout, features, fmt=fmt)
        cli.write_json(args.json_out, report)
    return 0


