"""convmixer: its --model_size_info, the default's parameter count, shapes and residuals."""
import numpy as np
import pytest
import tf_keras as keras

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
from kws_tf import models
from kws_tf.errors import KwsError
from kws_tf.models import convmixer

SMALL = [8, 3, 3, 2, 3, 3, 4, 5, 5, 2, 12, 3, 3]


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_params_read_the_blocks():
    p = convmixer.params(convmixer.DEFAULT_SIZE_INFO)
    assert (p["channels"], p["kernel_in"], p["kernel_pre"]) == (64, 5, 7)
    assert [tuple(b.values()) for b in p["blocks"]] == [(9, 5, 64), (11, 5, 32), (13, 7, 16),
                                                         (15, 7, 8)]
    assert p["post"] == (128, 17, 19)


def test_the_default_is_the_authors_configuration_on_64_mel_bands():
    """About 119k parameters on 98 frames x 64 log mel bands and 12 labels."""
    model = models.build_model("convmixer", convmixer.DEFAULT_SIZE_INFO, (98, 64), 12)
    assert _trainable(model) == 119_492
    assert model.output_shape == (None, 12)


def test_the_global_default_size_info_means_convmixers_own():
    assert models.size_info_for("convmixer", models.DEFAULT_MODEL_SIZE_INFO) == \
        list(convmixer.DEFAULT_SIZE_INFO)
    assert models.size_info_for("convmixer", SMALL) == SMALL


@pytest.mark.parametrize("shape", [(9, 6), (25, 40), (1, 3)])
def test_any_feature_map_gives_logits(shape):
    model = models.build_model("convmixer", SMALL, shape, 3)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    for training in (False, True):
        logits = model(x, training=training).numpy()
        assert logits.shape == (2, 3) and np.isfinite(logits).all()


def test_each_block_adds_its_input_and_its_frequency_map():
    model = models.build_model("convmixer", SMALL, (9, 6), 3)
    for index in (1, 2):
        add = model.get_layer(f"mixer_{index}_add")
        sources = {node.layer.name for tensor in add.input
                   for node in [tensor._keras_history]}
        assert f"mixer_{index}_freq_map" in sources and f"mixer_{index}_swish" in sources
        assert add.output_shape == (None, 9, 8)
    time_mix = model.get_layer("mixer_1_time_mix_fc1")
    assert time_mix.units == 9 // 4 and time_mix.input_shape == (None, 8, 9)  # across frames
    assert model.get_layer("mixer_1_freq_mix_fc1").units == 8 // 2  # across channels
    assert model.get_layer("post_2").dilation_rate == (2,)
    assert isinstance(model.get_layer("avg_pool"), keras.layers.GlobalAveragePooling1D)


@pytest.mark.parametrize("bad, expected", [
    ([64, 5, 7], "expected 7 \\+ 3\\*N numbers"),
    ([64, 5, 7, 2, 9, 5, 64, 128, 17, 19], "expected 7 \\+ 3\\*N numbers"),
    ([64, 5, 7, 1, 9, 5, 0, 128, 17, 19], "every number must be positive"),
    ([64, 5, 7, 1, 9, 5.5, 64, 128, 17, 19], "expected whole numbers"),
])
def test_bad_size_info_is_one_error_naming_the_layout(bad, expected):
    with pytest.raises(KwsError, match=f"--model_size_info for convmixer: {expected}"):
        models.build_model("convmixer", bad, (98, 64), 12)


def test_the_mlps_gelu_is_its_sigmoid_approximation():
    x = np.linspace(-4, 4, 81).astype(np.float32)
    exact = keras.activations.gelu(x).numpy()
    assert np.abs(convmixer.gelu_sigmoid(x).numpy() - exact).max() < 0.03
    model = models.build_model("convmixer", SMALL, (9, 6), 3)
    assert model.get_layer("mixer_1_time_mix_fc1").activation is convmixer.gelu_sigmoid
