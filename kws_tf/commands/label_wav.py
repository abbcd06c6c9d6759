"""label_wav.py's command line: Hello Edge's flags, plus several wavs, .tflite and streams."""
import dataclasses
import json
import sys

from kws_tf import cli
from kws_tf.config import FEATURE_FLAGS, add_feature_flags, add_resampler_flag
from kws_tf.errors import KwsError
from kws_tf.label import audio, classify, recognize
from kws_tf.label import model as model_loader

# The window moves 30 ms at a time, as in TensorFlow's streaming accuracy test.
STREAM_DEFAULTS = {"stride_ms": 30.0, **recognize.DEFAULTS}


def build_parser():
    parser = cli.ArgumentParser(
        prog="label_wav.py",
        description="Label wav files with a frozen graph (.pb, fed wav bytes as Hello Edge's) "
                    "or a .tflite model (fed MFCCs computed here). Recordings longer than "
                    "the model's clip are scanned for keywords with a sliding window.")
    parser.add_argument("--wav", nargs="+", required=True,
                        help="Wav files or folders (their *.wav files) to label.")
    parser.add_argument("--graph", default="ds_cnn.pb",
                        help="Model to use: a frozen graph (.pb) or a TFLite model (.tflite).")
    parser.add_argument("--labels", default="",
                        help="Labels file, one label per line in output order. Default: "
                             "<graph without extension>_labels.txt, else labels.txt beside the "
                             "graph, else (.tflite) the labels in the model's metadata.")
    parser.add_argument("--input_name", default="wav_data:0",
                        help="Frozen graph: the string tensor fed with the wav file's bytes.")
    parser.add_argument("--output_name", default="labels_softmax:0",
                        help="Frozen graph: the tensor of label probabilities.")
    parser.add_argument("--runtime", choices=("litert", "tflm"), default="litert",
                        help="Interpreter for a .tflite model: 'litert' (ai-edge-litert's, "
                             "else tf.lite's; TFLite's builtin kernels) or 'tflm' (TensorFlow "
                             "Lite Micro's, from the tflite-micro package: what a "
                             "microcontroller computes, or why it cannot run the model).")
    parser.add_argument("--how_many_labels", type=int, default=3,
                        help="How many of the best labels to print for a clip.")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="Print Hello Edge's text lines, or one JSON object.")
    add_resampler_flag(parser)
    group = parser.add_argument_group(
        "streaming (as TensorFlow's RecognizeCommands)",
        "A recording that holds at least --minimum_count clip-long windows (and more than "
        "one) is scanned with a sliding window; each detection is printed as "
        "'<ms>: <label> (score = <averaged score>)'. _silence_ and _unknown_ are never "
        "reported.")
    group.add_argument("--stride_ms", type=float, default=STREAM_DEFAULTS["stride_ms"],
                       help="How far the clip-long window moves between runs of the model.")
    group.add_argument("--average_window_ms", type=float,
                       default=STREAM_DEFAULTS["average_window_ms"],
                       help="Average the scores of the windows that start this long before "
                            "the current one.")
    group.add_argument("--detection_threshold", type=float,
                       default=STREAM_DEFAULTS["detection_threshold"],
                       help="Averaged score a label needs to be detected.")
    group.add_argument("--suppression_ms", type=float, default=STREAM_DEFAULTS["suppression_ms"],
                       help="After a detection, ignore other labels for this long.")
    group.add_argument("--minimum_count", type=int, default=STREAM_DEFAULTS["minimum_count"],
                       help="Windows the average needs before anything is detected.")
    group = add_feature_flags(parser)
    group.description = ("Default: what the model records (a frozen graph's clip length and "
                         "feature nodes, a .tflite model's metadata), else Hello Edge's "
                         "defaults (16000, 1000, 30, 10, 40). Flags that disagree with the "
                         "model are errors.")
    parser.set_defaults(**{name: None for name in FEATURE_FLAGS})
    cli.add_json_out(parser)
    return parser


def _check_flags(args):
    checks = [
        (args.how_many_labels >= 1, f"--how_many_labels must be at least 1, got "
                                    f"{args.how_many_labels}"),
        (args.stride_ms > 0, f"--stride_ms must be positive, got {args.stride_ms:g}"),
        (args.average_window_ms >= 0, f"--average_window_ms must be at least 0, got "
                                      f"{args.average_window_ms:g}"),
        (0 <= args.detection_threshold <= 1, f"--detection_threshold must be between 0 and 1, "
                                             f"got {args.detection_threshold:g}"),
        (args.suppression_ms >= 0, f"--suppression_ms must be at least 0, got "
                                   f"{args.suppression_ms:g}"),
        (args.minimum_count >= 1, f"--minimum_count must be at least 1, got "
                                  f"{args.minimum_count}"),
    ]
    for ok, message in checks:
        if not ok:
            raise KwsError(message)


def label_wavs(args):
    """Labels every recording of --wav; prints as it goes and returns the JSON figures."""
    _check_flags(args)
    paths = audio.wav_paths(args.wav)
    if args.runtime == "tflm" and not args.graph.lower().endswith(".tflite"):
        raise KwsError(f"--runtime tflm runs .tflite models, not --graph {args.graph}")
    model, labels, labels_file = model_loader.open_model(args)
    if args.runtime == "tflm":
        model.run_in_micro()
    rate = model.features.sample_rate
    if int(rate * args.stride_ms / 1000) < 1:
        raise KwsError(f"--stride_ms {args.stride_ms:g} is shorter than one sample at {rate} Hz")
    stream_settings = {name: getattr(args, name) for name in STREAM_DEFAULTS}
    results = []
    for path in paths:
        recording = audio.read_recording(path, rate, args.resampler)
        if recording.conversion:
            print(f"note: {path}: {recording.conversion}", file=sys.stderr)
        result = classify.label_recording(model, labels, recording,
                                          min(args.how_many_labels, len(labels)), stream_settings)
        if args.output == "text":
            if results:
                print()  # a blank line between blocks
            print(text_block(result, show_name=len(paths) > 1), flush=True)
        results.append(result)
    figures = {"graph": args.graph, "model": model.kind, "labels": labels,
               "labels_file": labels_file, "features": dataclasses.asdict(model.features),
               "stream_settings": stream_settings, "results": results}
    if args.output == "json":
        print(json.dumps(figures, indent=2))
    return figures


def text_block(result, show_name):
    """Hello Edge's `label (score = 0.12345)` lines for one result, one block per recording.

    A clip's block is exactly Hello Edge's unless `show_name`.
    """
    if result["mode"] == "clip":
        lines = [f"# {result['wav']}"] if show_name else []
        lines += [_scored(top["label"], top["score"]) for top in result["top"]]
        return "\n".join(lines)
    lines = [f"# {result['wav']}: {result['duration_ms']:.0f} ms, {result['windows']} windows "
             f"of {result['window_ms']:g} ms every {result['stride_ms']:g} ms"]
    lines += [f"{found['time_ms']:.0f} ms: {_scored(found['label'], found['score'])}"
              for found in result["detections"]]
    if not result["detections"]:
        lines.append("# no detections")
    return "\n".join(lines)


def _scored(label, score):
    return f"{label} (score = {score:.5f})"


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, label_wavs(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
