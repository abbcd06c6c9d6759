"""Every custom layer of kws_tf rebuilds from its config.

clone_model (QAT annotation, kws_tf.quant.qat_nas.annotate) and saved-model loading rebuild
layers with ``type(layer).from_config(layer.get_config())``; a constructor argument missing from
the config would silently give a different layer.
"""
import numpy as np
import pytest

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf

from kws_tf.models import cells
from kws_tf.models.layers import SubsampledDepthwiseConv2D
from kws_tf.models import net_config
from kws_tf.nas import candidates
from kws_tf.models import nas_layers
from kws_tf.nas.supernet import MixedEdge
from kws_tf.quant.qat_nas import LayerQuantizeConfig

RNG = np.random.default_rng(0)


def _random(*shape):
    return tf.constant(RNG.normal(size=shape), tf.float32)


# (layer with non-default arguments, the arguments of its call)
LAYERS = [
    (nas_layers.QConv2D(3, 3, strides=2, padding="same", num_bits=4, name="qconv"),
     (_random(2, 6, 6, 2),)),
    (nas_layers.QDepthwiseConv2D(3, depth_multiplier=2, use_bias=True, num_bits=3, name="qdw"),
     (_random(2, 5, 5, 2),)),
    (nas_layers.QDense(3, activation="relu", num_bits=5, name="qdense"), (_random(2, 6),)),
    (candidates.MBConvCandidate(net_config.MBConv(4, 6, 3, 2, 2, num_bits=4), bn_momentum=0.2,
                                bn_eps=1e-4, name="mbconv"),
     (_random(2, 6, 6, 4),)),
    (candidates.ZeroOp(name="zero"), (_random(2, 3, 3, 2),)),
    (candidates.ChannelFill(5, name="fill"), (_random(2, 3, 3, 2),)),
    (candidates.DsCandidate(3, 4, 6, pool=True, name="ds"), (_random(2, 5, 5, 3),)),
    (MixedEdge([candidates.MBConvCandidate(net_config.MBConv(4, 4, 5, 1, 1), name="edge_mb"),
                candidates.ZeroOp(name="edge_zero")],
               shortcut=True, arch_init_type="uniform", arch_init_ratio=0.5, name="edge"),
     (_random(2, 5, 5, 4), tf.constant(0))),
    (cells.BasicLSTMCell(3, forget_bias=0.5, name="basic_lstm"),
     (_random(2, 4), [_random(2, 3), _random(2, 3)])),
    (cells.PeepholeLSTMCell(3, 2, forget_bias=0.5, name="peephole_lstm"),
     (_random(2, 4), [_random(2, 3), _random(2, 2)])),
    (cells.GRUCell(3, name="gru"), (_random(2, 4), [_random(2, 3)])),
    (SubsampledDepthwiseConv2D(3, strides=(2, 1), padding="same", use_bias=True,
                               activation="relu", name="subsampled_dw"),
     (_random(2, 7, 5, 2),)),
]


@pytest.mark.parametrize("layer, args", LAYERS, ids=[type(layer).__name__ for layer, _ in LAYERS])
def test_layer_rebuilds_from_its_config(layer, args):
    """The rebuilt layer has the same config and, with the source's weights, the same weight
    names and outputs: nothing of the layer lives outside its config."""
    expected = layer(*args)
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config
    rebuilt(*args)  # builds its weights
    rebuilt.set_weights(layer.get_weights())
    assert [w.name for w in rebuilt.weights] == [w.name for w in layer.weights]
    for actual, wanted in zip(tf.nest.flatten(rebuilt(*args)), tf.nest.flatten(expected),
                              strict=True):
        np.testing.assert_allclose(actual, wanted, atol=1e-6)


@pytest.mark.parametrize("config", [LayerQuantizeConfig("depthwise_kernel", 4, True, 8),
                                    LayerQuantizeConfig(output_bits=6)],
                         ids=["kernel_and_output", "output_only"])
def test_quantize_config_rebuilds_from_its_config(config):
    """tfmot rebuilds a QuantizeConfig as cls(**get_config()) when it clones or loads a QAT
    model."""
    assert LayerQuantizeConfig(**config.get_config()).get_config() == config.get_config()
