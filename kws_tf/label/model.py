"""Opening the model named by --graph (.pb or .tflite) and finding its labels."""
import os

from kws_tf.errors import KwsError
from kws_tf.label import labels as labels_files
from kws_tf.label.features import given_flags


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


def _labels(args, model):
    if args.labels:
        return labels_files.read_labels(args.labels), args.labels
    candidates = labels_files.default_labels_paths(args.graph)
    for path in candidates:
        if os.path.isfile(path):
            return labels_files.read_labels(path), path
    in_metadata = getattr(model, "metadata", {}).get("labels")
    if in_metadata:
        return [str(label) for label in in_metadata], ""
    raise KwsError(f"--graph {args.graph}: no labels file beside it (looked for "
                   f"{' and '.join(candidates)}); give --labels")
