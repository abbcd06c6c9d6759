"""Depthwise convolutions with unequal strides: the same values as the strided convolution,
on TensorFlow's default CPU kernels (which refuse unequal strides) and with oneDNN's."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from kws_tf import models
from kws_tf.models import layers
from tests.conftest import REPO, TINY_FEATURES, exit_code, make_dataset, train_tiny

CASES = [  # (height, width, kernel, strides, padding)
    (49, 10, (3, 3), (2, 1), "same"),
    (50, 10, (3, 3), (2, 1), "same"),  # SAME pads asymmetrically here
    (25, 7, (3, 4), (1, 2), "same"),
    (24, 10, (10, 4), (3, 2), "same"),
    (13, 9, (1, 1), (3, 1), "same"),  # a kernel smaller than its stride
    (20, 9, (3, 3), (2, 1), "valid"),
    (21, 8, (4, 2), (1, 3), "valid"),
]


def _inputs(height, width, kernel, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, height, width, 3)).astype(np.float32)
    w = rng.normal(size=(*kernel, 3, 1)).astype(np.float32)
    return x, w


def _reference(x, w, strides, padding):
    """Direct numpy depthwise convolution with TF's SAME/VALID padding."""
    (kh, kw), (sh, sw) = w.shape[:2], strides
    pads = [(0, 0), (0, 0)]
    if padding == "same":
        pads = [models.common.same_pads(size, k, s)[1:]
                for size, k, s in zip(x.shape[1:3], (kh, kw), strides)]
    x = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)]).astype(np.float64)
    out_h, out_w = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j, :] = np.einsum("bhwc,hwc->bc", window, w[..., 0])
    return out


@pytest.mark.parametrize("height, width, kernel, strides, padding", CASES)
def test_subsampled_depthwise_matches_the_direct_computation(height, width, kernel, strides,
                                                             padding):
    x, w = _inputs(height, width, kernel)
    ours = layers.depthwise_conv2d(tf.constant(x), tf.constant(w), strides, padding).numpy()
    expected = _reference(x, w, strides, padding)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


_NATIVE = """
import json, sys
import numpy as np
import kws_tf
import tensorflow as tf
import tf_keras as keras
cases, results = json.loads(sys.argv[1]), []
for height, width, kernel, strides, padding in cases:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, height, width, 3)).astype(np.float32)
    w = rng.normal(size=(*kernel, 3, 1)).astype(np.float32)
    try:
        y = tf.nn.depthwise_conv2d(x, w, [1, *strides, 1], padding.upper()).numpy()
    except tf.errors.InvalidArgumentError:
        print("unsupported")
        sys.exit(0)
    results.append(y.tolist())
print(json.dumps(results))
"""


def test_equal_to_the_native_strided_kernel_where_onednn_has_one():
    """oneDNN's kernel takes unequal strides; where this CPU runs it, the values must agree."""
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    run = subprocess.run([sys.executable, "-c", _NATIVE, json.dumps(CASES)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=True)
    if run.stdout.strip() == "unsupported":
        pytest.skip("this CPU's TensorFlow kernels have no depthwise convolution with unequal "
                    "strides (oneDNN is not used here)")
    for case, native in zip(CASES, json.loads(run.stdout), strict=True):
        height, width, kernel, strides, padding = case
        x, w = _inputs(height, width, kernel)
        ours = layers.depthwise_conv2d(tf.constant(x), tf.constant(w), strides, padding).numpy()
        np.testing.assert_allclose(ours, np.array(native), rtol=1e-5, atol=1e-5, err_msg=case)


def test_layer_factory_keeps_the_plain_layer_for_equal_strides():
    assert type(layers.DepthwiseConv2D(3, strides=(2, 2))) is keras.layers.DepthwiseConv2D
    layer = layers.DepthwiseConv2D(3, strides=(2, 1), padding="same")
    assert isinstance(layer, layers.SubsampledDepthwiseConv2D)
    again = type(layer).from_config(layer.get_config())
    assert tuple(again.strides) == (2, 1) and again.padding == "same"


# Hello Edge's DS_CNN layout with a depthwise layer strided (2, 1) in time only.
UNEQUAL = {"ds_cnn": [3, 16, 4, 4, 1, 1, 16, 3, 3, 2, 1, 16, 3, 3, 1, 2],
           "ds_cnn_bf": [2, 16, 4, 4, 1, 1, 16, 3, 3, 2, 1]}


@pytest.mark.slow
@pytest.mark.parametrize("architecture", sorted(UNEQUAL))
def test_unequal_strides_train_quantize_freeze_and_label(architecture, tmp_path):
    """train.py (float, then tfmot QAT), freeze.py (.pb, int8 TFLite) and label_wav.py."""
    from kws_tf.commands import freeze
    from kws_tf.commands import label_wav as label_main

    data = make_dataset(tmp_path / "data", speakers=16)
    size = ["--model_architecture", architecture, "--model_size_info", *UNEQUAL[architecture]]
    out = train_tiny(data, tmp_path / "float", steps=20, extra=size)
    assert out["test_accuracy"] is not None
    qat = train_tiny(data, tmp_path / "qat", steps=20, extra=size + [
        "--quantize", "--start_checkpoint", tmp_path / "float" / "train"])
    assert qat["test_accuracy"] is not None
    wav = sorted((data / "yes").glob("*.wav"))[0]
    for checkpoint, output, extra in [
            (tmp_path / "float" / "train", tmp_path / "m.pb", []),
            (tmp_path / "float" / "train", tmp_path / "m.tflite",
             ["--quantize", "int8", "--data_url=", "--data_dir", data, *TINY_FEATURES,
              "--wanted_words", "yes,no"]),
            (tmp_path / "qat" / "train", tmp_path / "qat.tflite", ["--quantize", "int8"])]:
        assert exit_code(freeze.main, ["--checkpoint", checkpoint, "--output_file", output,
                                       *extra]) == 0
        assert exit_code(label_main.main, ["--graph", output, "--wav", wav]) == 0
