"""freeze.py: a checkpoint -> Hello Edge's frozen wav graph (.pb) or a TFLite model.

    python freeze.py --checkpoint TRAIN_DIR_OR_PREFIX --output_file ds_cnn.pb
    python freeze.py --checkpoint ... --output_file ds_cnn.tflite [--quantize int8 --data_dir D]

The model, its feature flags and labels come from the checkpoint's sidecar (or, without one,
from training_flags.json in its train_dir); flags given must agree with them. An int8 model is
calibrated on training clips (data flags default to training's); a quantization-aware
checkpoint needs none. Next to the output go ``<stem>_labels.txt`` (what label_wav.py reads)
and, for TFLite, ``<stem>.cc`` / ``<stem>.h`` (a C array for TensorFlow Lite Micro) with
``kws_mfcc.c`` / ``kws_mfcc.h`` (the MFCC front end in C the model needs; a log-mel model
gets none: kws_mfcc.c computes MFCCs only). Every file
is written atomically, and only after everything was computed, so a failed run leaves earlier
files as they were.
"""
import argparse
import json
import os
import random
import time

import numpy as np

from kws_tf import cli
from kws_tf.config import (FEATURE_FLAGS, AugmentConfig, DataConfig, FeatureConfig,
                           add_data_flags, flag_defaults, from_flags)
from kws_tf.data import load as load_data
from kws_tf.data import speech_commands
from kws_tf.errors import KwsError
from kws_tf.export import frozen_graph, hardware, interpreter, tflite, tflite_metadata
from kws_tf.models import checkpoint
from kws_tf.quant import restore

TRAINING_FLAGS = "training_flags.json"
FORMATS = {".pb": "pb", ".tflite": "tflite"}
# Which training clips calibrate an int8 model, and their augmentation, are drawn from this.
REPRESENTATIVE_SEED = 0


# Hello Edge's data flags and their defaults (here they default to training_flags.json).
DATA_FLAG_DEFAULTS = {**flag_defaults(DataConfig), **flag_defaults(AugmentConfig)}


def build_parser():
    parser = cli.ArgumentParser(
        prog="freeze.py",
        description="Freeze a checkpoint into Hello Edge's wav -> softmax graph (.pb: input "
                    "wav_data:0, output labels_softmax:0) or a TFLite model of the network on "
                    "MFCC input (float or int8, with a C array for TensorFlow Lite Micro).")
    checkpoint.add_flags(parser)
    parser.add_argument("--output_file", required=True,
                        help="The .pb or .tflite file to write; <stem>_labels.txt goes next to "
                             "it (and <stem>.cc, <stem>.h for TFLite).")
    parser.add_argument("--output_format", choices=sorted(set(FORMATS.values())), default=None,
                        help="Default: from the --output_file extension (.tflite: tflite, "
                             "otherwise pb).")
    parser.add_argument("--quantize", choices=("float", "int8"), default="float",
                        help="TFLite only: 'int8' is full-integer (int8 input and output), "
                             "calibrated on training clips of --data_dir unless the checkpoint "
                             "is quantization-aware.")
    parser.add_argument("--representative_samples", type=int, default=200,
                        help="How many training clips calibrate an int8 model (augmented as "
                             "in training).")
    parser.add_argument("--calibration_percentile", type=float, default=0.5,
                        help="The int8 input range spans the P-th to (100-P)-th percentile of "
                             "the representative MFCC values; values beyond it saturate. 0 takes "
                             "their minimum and maximum, as TFLite does by default: the log "
                             "floor of silent frames (c0 about -247) then makes the input scale "
                             "about four times coarser.")
    group = add_data_flags(parser)
    group.description = (f"For --quantize int8 only. Default: the {TRAINING_FLAGS} of the "
                         "checkpoint's train_dir, else Hello Edge's defaults; --wanted_words "
                         "must agree with the checkpoint's labels.")
    parser.set_defaults(**{name: None for name in DATA_FLAG_DEFAULTS})
    cli.add_json_out(parser)
    return parser


def _output_format(args):
    by_name = FORMATS.get(os.path.splitext(args.output_file)[1].lower())
    if args.output_format and by_name and args.output_format != by_name:
        raise KwsError(f"--output_format {args.output_format} does not fit --output_file "
                       f"{args.output_file}")
    output_format = args.output_format or by_name or "pb"
    if output_format == "pb" and args.quantize != "float":
        raise KwsError(f"--quantize {args.quantize} is for TFLite output (--output_format "
                       "tflite or a .tflite --output_file); the frozen .pb holds the float graph")
    if output_format == "tflite" and os.path.splitext(args.output_file)[1] in (".cc", ".h"):
        raise KwsError(f"--output_file {args.output_file}: the C array files are written next to "
                       "the .tflite; name the flatbuffer itself")
    if args.representative_samples <= 0:
        raise KwsError("--representative_samples must be positive, got "
                       f"{args.representative_samples}")
    if not 0 <= args.calibration_percentile < 50:
        raise KwsError("--calibration_percentile must be at least 0 and below 50, got "
                       f"{args.calibration_percentile:g}")
    return output_format


def _training_flags(prefix):
    """(flags, path) of train.py's training_flags.json for checkpoint `prefix`, or ({}, None).

    It sits in the train_dir: beside a latest checkpoint, one folder up from a best/ one.
    """
    folder = os.path.dirname(os.path.abspath(prefix))
    candidates = [folder] + ([os.path.dirname(folder)] if os.path.basename(folder) == "best"
                             else [])
    for candidate in candidates:
        path = os.path.join(candidate, TRAINING_FLAGS)
        if os.path.exists(path):
            try:
                with open(path) as stream:
                    return json.load(stream), path
            except (OSError, ValueError) as error:
                raise KwsError(f"{path}: not readable JSON ({error})") from None
    return {}, None


def _with_training_flags(args, flags, path):
    """A copy of `args` whose model and feature flags not given come from training_flags.json
    (for a checkpoint without a sidecar)."""
    filled = {}
    for name in ("model_architecture", "model_size_info") + FEATURE_FLAGS:
        value, recorded = getattr(args, name), flags.get(name)
        if recorded is None:
            continue
        if value is None:
            filled[name] = recorded
        elif (value != recorded if isinstance(value, (list, str)) else
              float(value) != float(recorded)):
            raise KwsError(f"--{name} {_text(value)} does not match {path}, which has "
                           f"{_text(recorded)}")
    return argparse.Namespace(**{**vars(args), **filled})


def _text(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def model_info(args, prefix):
    """(info, training flags): the model description of `prefix`, checked against the flags."""
    flags, flags_path = _training_flags(prefix)
    if flags and not os.path.exists(checkpoint.sidecar_path(prefix)):
        args = _with_training_flags(args, flags, flags_path)
    info = checkpoint.info_with_words(args, prefix, flags.get("wanted_words"))
    return info, flags


def representative_features(args, flags, info, feature_config):
    """[n, frames, dct] features of --representative_samples training clips, augmented.

    Data flags not given are those of training (training_flags.json), so the clips come from
    the split the model was trained on.
    """
    data = argparse.Namespace(**{name: flags.get(name, default) if getattr(args, name) is None
                                 else getattr(args, name)
                                 for name, default in DATA_FLAG_DEFAULTS.items()})
    data.wanted_words = speech_commands.wanted_words_of(info["labels"], "--checkpoint")
    data_config = from_flags(DataConfig, data)
    augment = from_flags(AugmentConfig, data)
    def representative(name, items):
        count = min(args.representative_samples, len(items))
        return random.Random(REPRESENTATIVE_SEED).sample(items, count)

    index, splits = load_data(data_config, feature_config, ("training",), representative)
    split = splits["training"]
    batch, _ = next(iter(split.train_dataset(len(split), augment, REPRESENTATIVE_SEED)))
    return batch.numpy(), len(index.splits["training"]), data.data_dir


def clip_to_percentiles(samples, percentile):
    """`samples` clipped to their [P, 100-P] percentiles: the input range the converter sets.

    TFLite calibrates the input over the representative set's minimum and maximum, and
    (near-)silent frames reach the log floor (c0 about -247, four times the lowest c0 of
    speech), which would make every clip's input four times coarser. Clipping the set
    moves the range; the converter then calibrates the layers on what the int8 model sees.
    """
    low, high = np.percentile(samples, [percentile, 100 - percentile])
    return np.clip(samples, low, high), float(low), float(high)


def labels_path(output_file):
    """`x/ds_cnn.pb` -> `x/ds_cnn_labels.txt`: the name label_wav.py looks for."""
    return os.path.splitext(output_file)[0] + "_labels.txt"


def _feature_name(feature_config):
    return "log-mel" if feature_config.feature_type == "log_mel" else "MFCC"


def _frozen_files(model, info, feature_config, output_file):
    started = time.time()
    graph_def = frozen_graph.wav_graph_def(model, feature_config)
    seconds = time.time() - started
    ops = frozen_graph.op_counts(graph_def)
    features = "LogMel" if feature_config.feature_type == "log_mel" else "Mfcc"
    print(f"frozen graph: {frozen_graph.WAV_INPUT} (wav file bytes) -> DecodeWav -> "
          f"AudioSpectrogram -> {features} -> {info['model_architecture']} -> "
          f"{frozen_graph.SOFTMAX_OUTPUT} [1, {len(info['labels'])}], {len(graph_def.node)} nodes "
          f"({seconds:.1f} s)\n  ops: {_op_list(ops)}")
    figures = {"ops": ops, "nodes": len(graph_def.node), "input": frozen_graph.WAV_INPUT,
               "output": frozen_graph.SOFTMAX_OUTPUT, "seconds_freeze": seconds}
    return {output_file: graph_def.SerializeToString()}, figures


def _calibration(args, flags, info, feature_config):
    """(representative features or None, figures) for the int8 conversion asked for."""
    if args.quantize != "int8":
        return None, {}
    if info.get("quantize"):
        print("quantization-aware checkpoint: its training set the int8 ranges")
        return None, {}
    started = time.time()
    raw, split_size, data_dir = representative_features(args, flags, info, feature_config)
    samples, low, high = clip_to_percentiles(raw, args.calibration_percentile)
    seconds = time.time() - started
    print(f"representative data: {len(samples)} of the {split_size} training clips of "
          f"{data_dir}, augmented as in training ({seconds:.1f} s)\n"
          f"  {_feature_name(feature_config)} values {raw.min():.1f} to {raw.max():.1f}; int8 "
          f"input range {low:.1f} to "
          f"{high:.1f} (--calibration_percentile {args.calibration_percentile:g})")
    return samples, {"representative_samples": len(samples), "input_range": [low, high],
                     "representative_range": [float(raw.min()), float(raw.max())],
                     "seconds_representative": seconds}


def _tflite_files(args, flags, model, info, feature_config, output_file):
    samples, figures = _calibration(args, flags, info, feature_config)
    started = time.time()
    flatbuffer = tflite.convert(model, args.quantize == "int8", samples)
    figures["seconds_convert"] = time.time() - started
    description = tflite.describe(flatbuffer)
    metadata = {key: info[key] for key in checkpoint.REQUIRED_KEYS}
    metadata.update(quantize=args.quantize, output="softmax",
                    **tflite.quantization_info(description))
    if info.get("quantize"):  # the sidecar's QAT settings (its "quantize" is not --quantize's)
        metadata["quantization_aware_training"] = info["quantize"]
    flatbuffer = tflite_metadata.add_metadata(flatbuffer, metadata)
    description["size"] = len(flatbuffer)
    _print_tflite(args.quantize, description, figures["seconds_convert"])
    stem = os.path.splitext(output_file)[0]
    figures.update(ops=description["ops"], input=description["input"],
                   output=description["output"], c_array=tflite.c_name(stem),
                   tflm=_tflm_arena(flatbuffer))
    return {output_file: flatbuffer,
            **tflite.c_files(flatbuffer, stem, description, info["labels"], feature_config),
            **_front_end_files(os.path.dirname(output_file), feature_config)}, figures


def _front_end_files(folder, feature_config):
    """kws_mfcc.c and kws_mfcc.h, the MFCC front end in C the model's features need (none for
    log-mel features, which kws_mfcc.c does not compute)."""
    if feature_config.feature_type == "log_mel":
        print("  no C front end written: kws_mfcc.c computes MFCCs, and this model takes "
              "log-mel features (compute them on the device as kws_tf.features.log_mel does)")
        return {}
    return {os.path.join(folder, name): hardware.c_source(name)
            for name in ("kws_mfcc.c", "kws_mfcc.h")}


def _print_tflite(quantize, description, seconds):
    print(f"TFLite model: {quantize}, {description['size']:,} bytes ({seconds:.1f} s)")
    for side in ("input", "output"):
        tensor = description[side]
        line = f"  {side:<6} {tensor['name']} {tensor['dtype']} {tensor['shape']}"
        if tensor["scale"] is not None:
            line += f", scale {tensor['scale']:.8g}, zero point {tensor['zero_point']}"
        print(line)
    print(f"  ops: {_op_list(description['ops'])}")
    if description["input"]["scale"] is not None:
        inp, out = description["input"], description["output"]
        print(f"  on the MCU, each feature value x: q = clamp(round(x / {inp['scale']:.8g})"
              f"{_plus(inp['zero_point'])}, -128, 127); probability = (q"
              f"{_plus(-out['zero_point'])}) * {out['scale']:.8g}")


def _tflm_arena(flatbuffer):
    """The tensor arena TensorFlow Lite Micro needs for the model, printed; why not, where it
    cannot run it or is not installed (the freeze goes on: TFLM is one target of several)."""
    try:
        arena, used = interpreter.micro_arena(flatbuffer)
    except interpreter.MicroCannotRun as error:
        print(f"  TensorFlow Lite Micro cannot run this model ({error})")
        return {"cannot_run": str(error)}
    except interpreter.MicroUnavailable as error:
        print(f"  TensorFlow Lite Micro arena: not measured ({error})")
        return {"not_measured": str(error)}
    print(f"  TensorFlow Lite Micro arena: {arena:,} bytes ({used:,} in use after allocation; "
          "reference kernels on this 64-bit host)")
    return {"arena_bytes": arena, "arena_used_bytes": used,
            "tflite_micro": interpreter.micro_version()}


def _plus(value):
    """` + 8` or ` - 3`: a signed term of a formula."""
    return f" {'-' if value < 0 else '+'} {abs(value)}"


def _op_list(ops):
    return ", ".join(f"{op} {count}" for op, count in ops.items())


def freeze(args):
    """Writes the output files; returns the figures for --json_out."""
    started = time.time()
    output_format = _output_format(args)
    cli.check_writable(args.output_file)
    prefix, chosen = checkpoint.find(args.checkpoint)
    info, flags = model_info(args, prefix)
    if output_format == "tflite" and info.get("quantize") and args.quantize != "int8":
        raise KwsError(f"--checkpoint {prefix} is quantization-aware: convert it with "
                       "--quantize int8")
    feature_config = FeatureConfig(**info["features"]).validate()
    model = restore.build_and_restore(prefix, info)
    parameters = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    frames, dct = feature_config.shape
    print(f"checkpoint: {chosen}" + (f" ({prefix})" if chosen != prefix else ""))
    print(f"model: {info['model_architecture']} --model_size_info "
          f"{' '.join(map(str, info['model_size_info']))} ({parameters:,} trainable parameters), "
          f"input {frames} frames x {dct} {_feature_name(feature_config)}, "
          f"{len(info['labels'])} labels")
    if output_format == "pb":
        files, figures = _frozen_files(model, info, feature_config, args.output_file)
    else:
        files, figures = _tflite_files(args, flags, model, info, feature_config,
                                       args.output_file)
    files[labels_path(args.output_file)] = "\n".join(info["labels"]).encode()
    for path, data in files.items():
        cli.atomic_write(path, lambda stream, data=data: stream.write(data))
        print(f"wrote {path} ({len(data):,} bytes)")
    return {"checkpoint": prefix, "checkpoint_chosen": chosen, "output_format": output_format,
            "quantize": args.quantize, "files": {path: len(data) for path, data in files.items()},
            "model_architecture": info["model_architecture"],
            "model_size_info": info["model_size_info"], "input_shape": info["input_shape"],
            "labels": info["labels"], "features": info["features"],
            "trainable_parameters": parameters, **figures,
            "seconds_total": time.time() - started}


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, freeze(args))
    return 0
