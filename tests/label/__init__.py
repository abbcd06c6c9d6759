"""Tiny tone classifiers for the label_wav tests, as a frozen graph and as TFLite models.

Labels `_silence_`, `low` (a 500 Hz tone) and `high` (1500 Hz). The model is the mean MFCC
of the clip through one dense layer whose weights are a least-squares fit on a few tones,
so the models are exact, need no training and build in about a second.
"""
import dataclasses
import functools
import warnings

import numpy as np
import tensorflow as tf
import tf_keras as keras

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
from kws_tf import features
from kws_tf.config import (
    MFCC_FILTERBANK_CHANNELS,
    MFCC_LOWER_FREQUENCY_LIMIT,
    MFCC_UPPER_FREQUENCY_LIMIT,
    FeatureConfig,
)
from kws_tf.export import tflite_metadata
from tests.conftest import tone

LABELS = ["_silence_", "low", "high"]
FREQUENCIES = {"low": 500, "high": 1500}
FEATURES = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)


def clip(label, seconds=1.0, amplitude=0.3):
    if label == "_silence_":
        return np.zeros(int(seconds * 16000), np.float32)
    return tone(FREQUENCIES[label], seconds, amplitude=amplitude)


def _mean_mfcc(clips):
    return features.mfcc(np.stack(clips), FEATURES).numpy().mean(axis=1)


def dense_weights():
    """(kernel [10, 3], bias [3]) separating the three labels, from least squares."""
    clips, targets = [], []
    for index, label in enumerate(LABELS):
        for amplitude in (0.02, 0.1, 0.3, 0.9):
            clips.append(clip(label, amplitude=amplitude))
            targets.append(np.where(np.arange(len(LABELS)) == index, 6.0, -6.0))
    inputs = _mean_mfcc(clips)
    inputs = np.concatenate([inputs, np.ones((len(inputs), 1))], axis=1)
    weights = np.linalg.lstsq(inputs, np.array(targets), rcond=None)[0].astype(np.float32)
    return weights[:-1], weights[-1]


@functools.lru_cache(maxsize=None)
def frozen_graph_bytes(desired_samples=16000):
    """Hello Edge's layout: wav_data, DecodeWav, AudioSpectrogram, Mfcc, ..., labels_softmax."""
    kernel, bias = dense_weights()
    graph = tf.Graph()
    with graph.as_default():
        wav_data = tf.compat.v1.placeholder(tf.string, [], name="wav_data")
        decoded = tf.raw_ops.DecodeWav(contents=wav_data, desired_channels=1,
                                       desired_samples=desired_samples,
                                       name="decoded_sample_data")
        spectrogram = tf.raw_ops.AudioSpectrogram(
            input=decoded.audio, window_size=FEATURES.window_size_samples,
            stride=FEATURES.window_stride_samples, magnitude_squared=True)
        mfcc = tf.raw_ops.Mfcc(
            spectrogram=spectrogram, sample_rate=decoded.sample_rate,
            upper_frequency_limit=MFCC_UPPER_FREQUENCY_LIMIT,
            lower_frequency_limit=MFCC_LOWER_FREQUENCY_LIMIT,
            filterbank_channel_count=MFCC_FILTERBANK_CHANNELS,
            dct_coefficient_count=FEATURES.dct_coefficient_count)
        logits = tf.matmul(tf.reduce_mean(mfcc, axis=1), kernel) + bias
        tf.nn.softmax(logits, name="labels_softmax")
    return graph.as_graph_def().SerializeToString()


def keras_model(softmax):
    kernel, bias = dense_weights()
    inputs = keras.Input(FEATURES.shape)
    dense = keras.layers.Dense(len(LABELS))
    outputs = dense(keras.layers.GlobalAveragePooling1D()(inputs))
    if softmax:
        outputs = keras.layers.Softmax()(outputs)
    model = keras.Model(inputs, outputs)
    dense.set_weights([kernel, bias])
    return model


@functools.lru_cache(maxsize=None)
def tflite_bytes(softmax=False, int8=False, metadata=True):
    """keras_model(softmax) as a .tflite (full int8 with `int8`), with kws_tf metadata."""
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model(softmax))
    if int8:
        calibration = features.mfcc(np.stack([clip(label, amplitude=a) for label in LABELS
                                              for a in (0.05, 0.3, 0.9)]), FEATURES).numpy()
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([row[np.newaxis]] for row in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # Int8 inputs without calibration statistics for the input itself: expected here.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs", UserWarning)
        content = converter.convert()
    if not metadata:
        return content
    info = {"model_architecture": "tone_test", "model_size_info": [],
            "input_shape": list(FEATURES.shape), "labels": LABELS,
            "features": dataclasses.asdict(FEATURES)}
    return tflite_metadata.add_metadata(content, info)


def write_model(folder, name, content, labels=True):
    """Writes the model file, and `<stem>_labels.txt` beside it if `labels`; returns its path."""
    path = folder / name
    path.write_bytes(content)
    if labels:
        (folder / f"{path.stem}_labels.txt").write_text("\n".join(LABELS))
    return str(path)


def label_wav(argv, capsys):
    """Runs label_wav.py's main in-process: (exit status, stdout, stderr)."""
    from kws_tf.commands.label_wav import main

    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
