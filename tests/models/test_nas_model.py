"""The nas model family: a net.config built as a tf_keras model on kws_tf's feature map."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kws_tf  # noqa: F401
from kws_tf.errors import KwsError
from kws_tf.models import nas
from kws_tf.models import nas_layers as layers, net_config
from kws_tf.nas import flops, space
from tests.nas import fixtures


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.slow
def test_all_36_published_networks_build_with_the_reference_parameter_count(fixtures_dir):
    for run in fixtures.RUNS:
        n_mfcc = fixtures.n_mfcc(fixtures_dir, run)
        model = nas.model([], flops.reference_input_shape(n_mfcc), 12,
                          net_config=fixtures.run_dir(fixtures_dir, run) / "net.config")
        assert model.output_shape == (None, 12), run
        # The reference also counts the classifier bias that its forward never uses.
        assert _count(model.trainable_weights) + 12 == fixtures.REFERENCE[run][1], run
        keras.backend.clear_session()


def test_a_published_network_runs_on_our_feature_map(fixtures_dir):
    path = fixtures.run_dir(fixtures_dir, "pless_sweep_5") / "net.config"
    model = nas.model([], (49, 10), 12, net_config=path)
    logits = model(np.random.default_rng(0).normal(size=(2, 49, 10)).astype(np.float32))
    assert logits.shape == (2, 12) and np.isfinite(logits).all()
    assert model.get_layer("first_conv").output.shape[1:] == (25, 10, 72)
    assert model.get_layer("block0_project_bn").output.shape[1:] == (13, 5, 72)
    # Zero blocks are the identity: no layers for blocks 2, 3 and 5..11.
    blocks = {layer.name.split("_")[0] for layer in model.layers if layer.name.startswith("block")}
    assert blocks == {"block0", "block1", "block4"}
    assert _count(model.trainable_weights) + 12 == fixtures.REFERENCE["pless_sweep_5"][1]


def test_shapes_follow_the_reference_for_each_n_mfcc():
    """Stem output N x 26, after block 0 ceil(N/2) x 13 (reference orientation)."""
    for n_mfcc in (10, 20, 30, 40):
        config = space.proxyless(12).derive([17] + [18] * 11)
        model = nas.model([], flops.reference_input_shape(n_mfcc), 12, net_config=config)
        assert model.get_layer("first_conv").output.shape[1:3] == (26, n_mfcc)
        assert model.get_layer("block0_project_bn").output.shape[1:3] == (13, -(-n_mfcc // 2))


def test_num_bits_stay_on_every_layer_and_quantise_its_kernel():
    config = space.proxyless(3, width_mult=0.25, n_cell_stages=(2,), weight_bits=2).derive([1, 7])
    model = nas.model([], (9, 6), 3, net_config=config)
    quantised = [layer for layer in model.layers if hasattr(layer, "num_bits")]
    assert {layer.name for layer in quantised} == {
        "first_conv", "block0_expand", "block0_dw", "block0_project", "block1_expand",
        "block1_dw", "block1_project", "feature_mix", "classifier"}
    assert all(layer.num_bits == 2 for layer in quantised)
    assert layers.QConv2D.from_config(model.get_layer("block0_expand").get_config()).num_bits == 2
    dense = model.get_layer("classifier")
    features = tf.ones((1, dense.kernel.shape[0]))
    grid = np.round((np.clip(dense.kernel.numpy(), -1, 1) + 1) * 3 / 2) / 3 * 2 - 1
    assert np.allclose(dense(features).numpy(), features.numpy() @ grid, atol=1e-5)


def test_strided_convolutions_pad_symmetrically_as_the_reference():
    """A 7x7 stride-2 depthwise conv with a centre-tap kernel picks x[2i, 2j] (pad 3 on both
    sides); TF's 'same' would pad 2 before and 3 after."""
    op = net_config.MBConv(1, 1, 7, 2, 1)
    steps = layers.mbconv(op, "b", space.proxyless(2))
    x = tf.reshape(tf.range(26 * 10, dtype=tf.float32), (1, 26, 10, 1))
    y = x
    for step in steps:
        y = step(y)
    dw = next(step for step in steps if step.name == "b_dw")
    kernel = np.zeros(dw.depthwise_kernel.shape, np.float32)
    kernel[3, 3] = 1
    dw.depthwise_kernel.assign(kernel)
    picked = dw(steps[0](x)).numpy()[0, :, :, 0]
    assert picked.shape == (13, 5)
    assert np.array_equal(picked, x.numpy()[0, ::2, ::2, 0])


def test_flag_errors():
    with pytest.raises(KwsError, match="--model_architecture nas needs --net_config"):
        nas.model([], (49, 10), 12)
    with pytest.raises(KwsError, match="--model_size_info for nas: expected no numbers"):
        nas.model([2, 3], (49, 10), 12, net_config=space.proxyless(12).derive([0] * 12))
