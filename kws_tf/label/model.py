"""Opening the model named by --graph (.pb or .tflite): its feature settings and its labels.

What a model fixes, the flags must agree with: a frozen graph fixes its clip length
(DecodeWav's desired_samples) and computes its own features; a .tflite model with kws_tf
metadata records all five settings. A flag that contradicts the model is an error rather
than being silently overridden; settings that neither the model nor the flags give keep
Hello Edge's defaults. Labels files hold one label per line, in output order (Hello Edge's
format).
"""
import os

from kws_tf import cli
from kws_tf.config import given_flags
from kws_tf.errors import KwsError


def open_model(args):
    """(model, labels, labels file or "" for the metadata's labels) for the parsed flags.

    Labels are --labels, else the labels file beside the graph, else (for a .tflite)
    the labels in its metadata; their number must match the model's outputs.
    """
    flags = given_flags(args)
    if args.graph.lower().endswith(".tflite"):
        from kws_tf.label.tflite_model import TfliteModel
        model = TfliteModel(args.graph, flags)
    else:
        from kws_tf.label.frozen_graph import FrozenGraphModel
        model = FrozenGraphModel(args.graph, args.input_name, args.output_name, flags)
    labels, labels_path = _labels(args, model)
    if len(labels) != model.output_count:
        source = (f"--labels {labels_path}" if labels_path
                  else f"the metadata of --graph {args.graph}")
        raise KwsError(f"{source}: {len(labels)} labels, but --graph {args.graph} gives "
                       f"{model.output_count} scores")
    return model, labels, labels_path


def default_labels_paths(graph):
    """Where a model's labels are looked for: `<graph stem>_labels.txt`, then `labels.txt`.

    train.py writes `<arch>_labels.txt` and an exported `<arch>.pb` sits beside it;
    Hello Edge's Pretrained_models folders hold one `labels.txt` for all graphs.
    """
    return [os.path.splitext(graph)[0] + "_labels.txt",
            os.path.join(os.path.dirname(graph), "labels.txt")]


def read_labels(path):
    """The labels in `path`, right-stripped; trailing blank lines are ignored."""
    try:
        text = cli.read_bytes(path, "--labels").decode("utf-8")
    except UnicodeDecodeError:
        raise KwsError(f"--labels {path}: not a text file (not UTF-8)") from None
    labels = [line.rstrip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise KwsError(f"--labels {path}: empty (expected one label per line)")
    return labels


def _labels(args, model):
    if args.labels:
        return read_labels(args.labels), args.labels
    candidates = default_labels_paths(args.graph)
    for path in candidates:
        if os.path.isfile(path):
            return read_labels(path), path
    in_metadata = getattr(model, "metadata", {}).get("labels")
    if in_metadata:
        return [str(label) for label in in_metadata], ""
    raise KwsError(f"--graph {args.graph}: no labels file beside it (looked for "
                   f"{' and '.join(candidates)}); give --labels")
