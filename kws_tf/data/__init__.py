"""Speech Commands (or any tree laid out like it) as tf.data pipelines of features.

``load`` is the one way every command gets its data: download (when --data_url is set) ->
index -> Hello Edge's split -> the clips of each split decoded and ready to batch.
"""
import dataclasses
import sys

SPLITS = ("training", "validation", "testing")


def load(data_config, feature_config, splits=SPLITS, select=None):
    """(the DataIndex, {split name: pipeline.SplitData}) for `splits`.

    `select(name, items)`, if given, picks which of a split's items are decoded (freeze.py's
    representative clips); the returned index still lists every item.
    """
    # TensorFlow loads only here, so reading wavs or generating data never imports it.
    from kws_tf.data import download, pipeline, speech_commands

    download.maybe_download_and_extract(data_config.data_url, data_config.data_dir)
    index = speech_commands.build_index(data_config, feature_config.sample_rate)
    if index.bad_files:
        print(f"skipped {len(index.bad_files)} bad files; first: {index.bad_files[0][1]}",
              file=sys.stderr)
    chosen = index
    if select is not None:
        chosen = dataclasses.replace(index, splits={
            name: select(name, items) for name, items in index.splits.items()})
    return index, pipeline.load_splits(chosen, feature_config, tuple(splits))
