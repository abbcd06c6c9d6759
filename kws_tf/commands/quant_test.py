"""quant_test.py: the float model next to its integer graph, and the hardware exports.

    python quant_test.py --checkpoint train_dir --data_url= --data_dir speech_dataset \
        [--shifts 3 4 8] [--input_frac_bits -1] [--export_dir hw]

Model, feature flags and wanted words come from the checkpoint's sidecar (given flags must
agree). The integer graph (kws_tf.quant.integer_graph) is built from the checkpoint; the
input scale and the shifts are chosen on training clips unless given. Validation and test
accuracy of the float model and of the integer graph are printed side by side, on the same
features (unaugmented, as in training's validation).
"""
import argparse
import sys

import numpy as np

from kws_tf import cli, models
from kws_tf.config import FeatureConfig, add_data_flags
from kws_tf.data import load as load_data
from kws_tf.data import pipeline
from kws_tf.errors import KwsError
from kws_tf.export import hardware
from kws_tf.models import checkpoint
from kws_tf.quant import analysis, equalize, extract, integer_sim, qat, restore, rounding
from kws_tf.quant import integer_graph as ig

EVALUATED = {"validation": "validation", "testing": "test"}


def build_parser():
    parser = cli.ArgumentParser(
        prog="quant_test.py",
        description="Accuracy of a checkpoint's float model and of its bias-free floor-shift "
                    "integer graph on the validation and test splits; optionally the "
                    "hardware exports (weight.h, C reference, examples, analysis).")
    checkpoint.add_flags(parser)
    add_data_flags(parser)
    parser.set_defaults(wanted_words=None)
    parser.add_argument("--batch_size", type=int, default=100,
                        help="How many items to evaluate at once.")
    group = integer_sim.add_flags(parser, "integer graph", defaults=False)
    group.description = (
        "For a checkpoint trained with --quantize integer, the widths, input scale and shifts "
        "default to the ones it was trained with (given, they must agree) and --weight_scales "
        "to fit, as in that training.")
    group.add_argument("--weight_scales", choices=("fit", "search"), default=None,
                       help="fit: each layer's weights x the largest power of two that keeps "
                            "them all in --weight_bits. search (default): per layer, also try "
                            "twice that (the largest weights saturate) and keep it where the "
                            "integer graph agrees more with the float model on the calibration "
                            "clips.")
    group.add_argument("--weight_equalization", choices=("search", "cross_layer", "none"),
                       default=None,
                       help="cross_layer: before rounding, rescale channels between "
                            "consecutive layers so that each channel's weights fill the same "
                            "range on both sides (the float logits stay the same). none: the "
                            "checkpoint's weights as they are (default for --quantize integer "
                            "checkpoints, whose training made that choice). search (default "
                            "otherwise): both, keeping the one whose integer graph agrees more "
                            "with the float model on the calibration clips.")
    group.add_argument("--fold_biases", action="store_true",
                       help="Accept a ds_cnn (biases, batch norm): fold batch norm into the "
                            "weights and carry every bias in accumulator units.")
    group.add_argument("--post_training_rounding", action="store_true",
                       help="Also evaluate nas-for-kws's post-training rounding: every conv "
                            "kernel rounded to 2**--weight_bits levels between its min and max. "
                            "For models without an integer graph (e.g. nas), only this row and "
                            "float are shown.")
    group = parser.add_argument_group("hardware exports")
    group.add_argument("--export_dir", default="",
                       help="Write weight.h, the C reference, examples/ and analysis.txt "
                            "here.")
    group.add_argument("--num_examples", type=int, default=10,
                       help="Validation inputs written to examples/N.txt with every stage's "
                            "values.")
    group.add_argument("--analysis_samples", type=int, default=0,
                       help="Validation inputs analysis.txt covers (0: all).")
    cli.add_json_out(parser)
    return parser


def _check_counts(args):
    for name in ("batch_size", "calibration_samples"):
        if getattr(args, name) <= 0:
            raise KwsError(f"--{name} must be positive, got {getattr(args, name)}")
    for name in ("num_examples", "analysis_samples"):
        if getattr(args, name) < 0:
            raise KwsError(f"--{name} must not be negative, got {getattr(args, name)}")


TRAINED = ("input_bits", "weight_bits", "activation_bits", "input_frac_bits", "shifts")


def _integer_flags(args, info, prefix):
    """The flags with the integer-graph ones left out filled: from the sidecar of a checkpoint
    trained with --quantize integer (given ones must agree), else from features already
    rounded (--feature_bits: their width and scale), else the defaults. Returns (the resolved
    flags, a copy; that sidecar entry, or None)."""
    filled = {}
    trained = info.get("quantize") or {}
    trained = trained if trained.get("mode") == "integer" else None
    defaults = dict(integer_sim.DEFAULT_BITS)
    if info["features"]["feature_bits"]:
        defaults.update(input_bits=info["features"]["feature_bits"],
                        input_frac_bits=info["features"]["feature_frac_bits"])
    for key in TRAINED:
        value = (trained or {}).get(key)
        if value is None:
            if getattr(args, key) is None:
                filled[key] = defaults.get(key)
        elif getattr(args, key) is None:
            filled[key] = value
        elif getattr(args, key) != value:
            shown = [" ".join(map(str, v)) if isinstance(v, list) else v
                     for v in (getattr(args, key), value)]
            raise KwsError(f"--{key} {shown[0]} does not match --checkpoint {prefix}, which was "
                           f"trained through the integer graph with {shown[1]}")
    if args.weight_scales is None:
        filled["weight_scales"] = "fit" if trained else "search"
    if args.weight_equalization is None:
        filled["weight_equalization"] = "none" if trained else "search"
    return argparse.Namespace(**{**vars(args), **filled}), trained


def _feature_maps(split, batch_size):
    """(float MFCC maps [n, frames, coefficients], labels) of a split, unaugmented."""
    batches = list(split.eval_dataset(batch_size))
    if not batches:
        return np.zeros((0, *split.feature_config.shape), np.float32), split.labels
    return np.concatenate([maps.numpy() for maps, _ in batches]), split.labels


def _predictors(model, graph, batch_size, qat_model=None, rounded_model=None):
    """One row of the accuracy table each: name -> (float maps -> predicted labels); a tfmot
    QAT checkpoint adds its fake-quant model's row, --post_training_rounding its own, and
    the integer graph is the last (when the model has one)."""
    def keras_predict(keras_model):
        return lambda maps: np.argmax(keras_model.predict(maps, batch_size=batch_size,
                                                          verbose=0), axis=-1)

    rows = {"float": keras_predict(model)}
    if qat_model is not None:
        rows["QAT fake-quant"] = keras_predict(qat_model)
    if rounded_model is not None:
        rows["post-training rounding"] = keras_predict(rounded_model)
    if graph is not None:
        rows["integer"] = lambda maps: ig.predict(graph, maps)
    return rows


def run(args):
    """Evaluates and exports; returns the figures written to --json_out."""
    _check_counts(args)
    prefix, chosen = checkpoint.find(args.checkpoint)
    info = checkpoint.info_with_words(args, prefix)
    args, trained = _integer_flags(args, info, prefix)  # the parsed flags stay as they are
    ig.check_bits(input_bits=args.input_bits, weight_bits=args.weight_bits,
                  activation_bits=args.activation_bits)
    if args.export_dir and max(args.input_bits, args.weight_bits) > 8:
        raise KwsError(f"--export_dir: weight.h and kws_int.c hold inputs and weights as int8, "
                       f"so --input_bits ({args.input_bits}) and --weight_bits "
                       f"({args.weight_bits}) must be at most 8")
    model, qat_model = restore.build_and_restore(prefix, info), None
    if (info.get("quantize") or {}).get("mode") == qat.MODE:
        qat_model, model = model, _float_model(prefix, info, model)
    rounded_model = None
    if args.post_training_rounding:
        rounded_model = _float_model(prefix, info, qat_model)
        names = rounding.round_convolutions(rounded_model, args.weight_bits)
        print(f"post-training rounding: {len(names)} conv kernels to 2**{args.weight_bits} "
              "levels between their min and max")
    integer = not args.post_training_rounding or \
        info["model_architecture"] in extract.SUPPORTED
    stages = extract.float_stages(model, info["model_architecture"], args.fold_biases,
                                  where=f"--checkpoint {prefix}") if integer else None
    if integer and args.shifts is not None:
        ig.check_shifts(stages, args.shifts)
    if args.export_dir and not integer:
        raise KwsError(f"--export_dir: a {info['model_architecture']} model has no integer "
                       "graph to export")
    print(f"checkpoint: {chosen}{f' ({prefix})' if chosen != prefix else ''}: "
          f"{info['model_architecture']} {' '.join(map(str, info['model_size_info']))}, "
          f"{len(info['labels'])} labels")
    if trained:
        print("trained through the integer graph (--quantize integer): its widths, input "
              "scale and shifts, weights that fit")

    feature_config = FeatureConfig(**info["features"]).validate()
    index, splits = load_data(checkpoint.data_config(args, info), feature_config,
                              tuple(EVALUATED))
    data = {name: _feature_maps(split, args.batch_size) for name, split in splits.items()}
    if args.export_dir and not len(data["validation"][0]):
        raise KwsError(f"--export_dir {args.export_dir}: the validation split is empty, and "
                       "the examples and analysis.txt are made from it")
    graph = None
    if integer:
        graph, stages, choice, equalized = _integer_graph(args, stages, index, feature_config)
        print("\n".join(choice + ig.describe(graph)))

    results = {}
    for row, predict in _predictors(model, graph, args.batch_size, qat_model,
                                    rounded_model).items():
        results[row] = {name: predict(maps) if len(maps) else np.zeros(0, np.int64)
                        for name, (maps, _) in data.items()}
    figures = _accuracy_table(results, data)
    figures.update(checkpoint=prefix, model_architecture=info["model_architecture"],
                   model_size_info=info["model_size_info"], labels=info["labels"],
                   bad_files=len(index.bad_files))
    if graph is None:
        return figures
    figures.update(
        input_bits=graph.input_bits, input_frac_bits=graph.input_frac_bits,
        weight_bits=graph.weight_bits, activation_bits=args.activation_bits,
        weight_scales=args.weight_scales, weight_equalization=equalized,
        shifts=graph.shifts, shift_stages=[s.name for s in graph.shifted],
        weight_frac_bits=graph.weight_frac_bits,
        biases={s.name: [int(b) for b in s.bias] for s in graph.stages if s.bias is not None})
    if args.export_dir:
        figures["exported"] = _export(args, stages, graph, info, index, data["validation"],
                                      prefix)
    return figures


def integer_graph_of(prefix, info, index, feature_config):
    """The integer graph quant_test.py builds for a checkpoint with its default flags."""
    args, _ = _integer_flags(build_parser().parse_args(["--checkpoint", prefix]), info, prefix)
    model = restore.build_and_restore(prefix, info)
    if (info.get("quantize") or {}).get("mode") == qat.MODE:
        model = _float_model(prefix, info, model)
    stages = extract.float_stages(model, info["model_architecture"], args.fold_biases,
                                  where=f"--checkpoint {prefix}")
    return _integer_graph(args, stages, index, feature_config)[0]


def _float_model(prefix, info, qat_model):
    """A new float model with the checkpoint's weights; a QAT checkpoint's come from its
    `qat_model` (without the quantizers), so rounding and the integer graph see plain layers."""
    if qat_model is None:
        return restore.build_and_restore(prefix, info)
    return qat.float_weights(qat_model, models.build_model(
        info["model_architecture"], info["model_size_info"], info["input_shape"],
        len(info["labels"]), info.get("net_config")))


def _integer_graph(args, stages, index, feature_config):
    """(integer graph, the float stages it rounds, lines saying how): the input scale and
    shifts given or chosen, the weights equalized or not as --weight_equalization says."""
    lines, calibration = [], None
    if (args.input_frac_bits is None or args.shifts is None or "search" in (
            args.weight_scales, args.weight_equalization)):
        items = index.splits["training"][:args.calibration_samples]
        calibration, _ = _feature_maps(pipeline.SplitData(items, feature_config,
                                                         resampler=index.resampler),
                                       args.batch_size)
        lines.append(f"calibration: {len(items)} training clips (unaugmented); agreement "
                     "with the float model's predictions on them:")
    if args.weight_equalization != "search":
        if args.weight_equalization == "cross_layer":
            stages = equalize.equalize(stages)
        graph, how = _rounded(args, stages, calibration)
        return graph, stages, lines + how, args.weight_equalization
    best, trials = equalize.choose(stages, calibration,
                                   lambda candidate: _rounded(args, candidate, calibration))
    for trial in trials:
        lines += [f"  weight equalization {trial.mode}: {_percent(trial.agreement)}"] + [
            "  " + line for line in trial.extra]
    lines.append(f"  -> weight equalization {best.mode}")
    return best.graph, best.stages, lines, best.mode


def _rounded(args, stages, calibration):
    """The integer graph of `stages`: scale, weight exponents and shifts given or chosen."""
    lines, frac_bits, weight_frac_bits = [], args.input_frac_bits, None
    widths = (args.input_bits, args.weight_bits, args.activation_bits)
    if frac_bits is None:
        frac_bits, tried = ig.choose_input_frac_bits(stages, calibration, *widths, args.shifts)
        lines.append("  input scale 2**f: " + ", ".join(
            f"f={f} {_percent(a)}" for f, a in tried) + f" -> f={frac_bits}")
    if args.weight_scales == "search":
        weight_frac_bits, tried = ig.choose_weight_frac_bits(stages, calibration, frac_bits,
                                                             *widths, args.shifts)
        lines.append("  weights x 2**(fit+1): " + ", ".join(
            f"{name} {_percent(a)}" for name, _, a in tried) + " -> kept for "
            + (", ".join(weight_frac_bits) or "none"))
    graph = ig.quantize(stages, frac_bits, *widths[:2], args.shifts, calibration=calibration,
                        activation_bits=args.activation_bits, weight_frac_bits=weight_frac_bits)
    if args.shifts is None:
        lines.append(f"shifts chosen for {args.activation_bits}-bit unsigned outputs: "
                     f"{' '.join(map(str, graph.shifts))}")
    return graph, lines


def _percent(fraction):
    return "overflow" if fraction is None else f"{fraction * 100:.2f}%"


def _accuracy_table(results, data):
    """Prints accuracy per row and split, and how often the integer graph agrees with float."""
    splits = list(EVALUATED)
    print(f"\n{'':<32}" + "".join(f"{EVALUATED[name]:>20}" for name in splits))
    figures = {"accuracy": {}, "counts": {name: int(len(data[name][1])) for name in splits}}
    for row, predictions in results.items():
        accuracy = {name: float(np.mean(predictions[name] == data[name][1]))
                    if len(data[name][1]) else 0.0 for name in splits}
        figures["accuracy"][row] = accuracy
        print(f"{row + ' accuracy':<32}" + "".join(
            f"{accuracy[name] * 100:>11.2f}% (N={len(data[name][1])})".rjust(20)
            for name in splits))
    if "integer" not in results:
        return figures
    agreement = {name: float(np.mean(results["integer"][name] == results["float"][name]))
                 if len(data[name][1]) else 0.0 for name in splits}
    print(f"{'integer = float prediction':<32}" + "".join(
        f"{agreement[name] * 100:>19.2f}%" for name in splits))
    figures["agreement"] = agreement
    return figures


def _export(args, stages, graph, info, index, validation, prefix):
    maps, labels = validation
    items = index.splits["validation"]
    inputs = ig.quantize_input(maps, graph)
    count = args.analysis_samples or len(inputs)
    ranges = analysis.collect(graph, inputs[:count])
    sweep = analysis.shift_sweep(stages, graph, inputs[:count], labels[:count])
    text = analysis.report(graph, ranges, sweep, args.activation_bits,
                           f"{min(count, len(inputs))} inputs of the validation split of "
                           f"{args.data_dir}")
    titles = [f"validation clip {n}: {items[n].path or 'silence'} (label {info['labels'][label]})"
              for n, label in enumerate(labels[:args.num_examples])]
    paths = hardware.export(args.export_dir, graph, info["labels"], prefix,
                            inputs[:args.num_examples], titles, text,
                            FeatureConfig(**info["features"]))
    examples = f", examples/0..{len(titles) - 1}.txt" if titles else ""
    print(f"wrote {args.export_dir}: weight.h, kws_int.c/.h, kws_int_main.c, the MFCC front end "
          f"and the whole chain in C with its Makefile, analysis.txt "
          f"({min(count, len(inputs))} inputs){examples}")
    return paths


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
