"""Inspect a data set as training will see it: split sizes, labels, one batch.

    python -m kws_tf.data --data_url= --data_dir DIR [data and feature flags]
"""
import time

from kws_tf import cli
from kws_tf.config import (
    AugmentConfig,
    DataConfig,
    FeatureConfig,
    add_data_flags,
    add_feature_flags,
    from_flags,
)
from kws_tf.data import load


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.data",
        description="Download/extract (if --data_url is set) and index a Speech Commands style "
                    "data set, then print the split sizes, the labels and one training batch.")
    add_data_flags(parser)
    add_feature_flags(parser)
    parser.add_argument("--batch_size", type=int, default=100, help="Batch size of the sample.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of order and augmentation.")
    cli.add_json_out(parser)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        feature_config = from_flags(FeatureConfig, args)
        augment = from_flags(AugmentConfig, args)
        data_config = from_flags(DataConfig, args)
        start = time.time()
        index, splits = load(data_config, feature_config, ("training",))
        loaded = time.time() - start
        batch_features, batch_labels = next(iter(
            splits["training"].train_dataset(args.batch_size, augment, args.seed)))
        counts = {name: {label: sum(item.label == i for item in items)
                         for i, label in enumerate(index.words_list)}
                  for name, items in index.splits.items()}
        print(f"labels: {' '.join(index.words_list)}")
        for name, per_label in counts.items():
            print(f"{name:>10}: {sum(per_label.values()):6d} clips "
                  f"({', '.join(f'{k} {v}' for k, v in per_label.items())})")
        if index.bad_files:
            print(f"skipped {len(index.bad_files)} bad files; first: {index.bad_files[0][1]}")
        print(f"background noise files: {len(index.background_files)}")
        print(f"decoded {len(splits['training'])} training clips in {loaded:.1f} s")
        print(f"training batch: features {tuple(batch_features.shape)} "
              f"(batch, frames, coefficients), labels {tuple(batch_labels.shape)}")
        cli.write_json(args.json_out, {
            "labels": index.words_list, "counts": counts,
            "bad_files": [path for path, _ in index.bad_files],
            "background_files": index.background_files,
            "batch_shape": list(batch_features.shape), "load_seconds": loaded})
    return 0

