"""Accuracy and confusion matrix of any checkpoint on the data splits (Hello Edge's test.py).

    python -m kws_tf.evaluate --checkpoint train_dir/best/ds_cnn_bf_9507.ckpt-24200 \
        --data_url= --data_dir speech_dataset

Model, feature flags and wanted words come from the checkpoint's sidecar (given flags must
agree). Every split is evaluated as validation is during training: no augmentation, no
noise, the model in inference mode.
"""
import sys
import time

from kws_tf import cli, data
from kws_tf.config import FeatureConfig, add_data_flags
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint
from kws_tf.quant import restore
from kws_tf.train.loop import evaluate, format_confusion

SPLIT_NAMES = {"training": "Training", "validation": "Validation", "testing": "Test"}


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.evaluate",
        description="Accuracy and confusion matrix of a checkpoint on the training, validation "
                    "and test splits (what Hello Edge's test.py printed).")
    checkpoint.add_flags(parser)
    add_data_flags(parser)
    parser.set_defaults(wanted_words=None)
    parser.add_argument("--splits", default="training,validation,testing",
                        help="Comma-separated splits to evaluate.")
    parser.add_argument("--batch_size", type=int, default=100,
                        help="How many items to evaluate at once.")
    cli.add_json_out(parser)
    return parser


def _splits(text):
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in SPLIT_NAMES]
    if unknown or not names:
        raise KwsError(f"--splits {text!r}: expected a comma-separated subset of "
                       f"{','.join(SPLIT_NAMES)}")
    return names


def run(args):
    """Evaluates the checkpoint; returns the figures written to --json_out."""
    split_names = _splits(args.splits)
    if args.batch_size <= 0:
        raise KwsError(f"--batch_size must be positive, got {args.batch_size}")
    prefix, chosen = checkpoint.find(args.checkpoint)
    info = checkpoint.info_with_words(args, prefix)
    model = restore.build_and_restore(prefix, info)
    print(f"evaluating {chosen}: {info['model_architecture']} "
          f"{' '.join(map(str, info['model_size_info']))}")

    feature_config = FeatureConfig(**info["features"]).validate()
    index, splits = data.load(checkpoint.data_config(args, info), feature_config, split_names)
    results = {}
    for name in split_names:
        started = time.time()
        accuracy, confusion, count = evaluate(model, splits[name].eval_dataset(args.batch_size),
                                              len(info["labels"]))
        print(f"{SPLIT_NAMES[name]} accuracy = {accuracy * 100:.2f}% (N={count})")
        print(f"Confusion matrix ({name}, rows = true labels, columns = predictions):\n"
              f"{format_confusion(confusion, info['labels'])}")
        results[name] = {"accuracy": accuracy, "count": count,
                         "confusion_matrix": confusion.tolist(),
                         "seconds": time.time() - started}
    return {"checkpoint": prefix, "labels": info["labels"], "splits": results,
            "bad_files": len(index.bad_files)}


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
