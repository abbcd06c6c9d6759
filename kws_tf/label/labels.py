"""The labels file of a model: one label per line, in output order (Hello Edge's format)."""
import os

from kws_tf import cli
from kws_tf.errors import KwsError


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
