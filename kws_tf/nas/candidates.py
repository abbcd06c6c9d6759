"""The candidate ops of the supernets' mixed edges, as Keras layers.

Each candidate builds all its variables in ``build`` (so that they exist before a compiled
step runs) and is made of the same layers, under the same names up to a prefix, as the layers
of the derived model, so its weights copy into that model.
"""
import math
import types

import tensorflow as tf
import tf_keras as keras

from kws_tf.models import nas_layers as layers
from kws_tf.models import net_config as nc


class Sequence(keras.layers.Layer):
    """Layers run in order, all built in build()."""

    def build(self, input_shape):
        for step in self.steps:
            if not step.built:
                step.build(input_shape)
            input_shape = step.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        for step in self.steps:
            input_shape = step.compute_output_shape(input_shape)
        return input_shape

    def call(self, inputs, training=None):
        for step in self.steps:
            inputs = step(inputs, training=training)
        return inputs


@keras.utils.register_keras_serializable(package="kws_tf")
class MBConvCandidate(Sequence):
    """An MBConv op (kws_tf.models.nas_layers.mbconv).

    The search runs a candidate's forward twice per weight step (once more in the hand-written
    backward, kws_tf.nas.supernet), which moves its batch-norm statistics twice with the same
    batch statistics; its layers therefore use the momentum m' with (1 - m')^2 = 1 - m, so
    that the two updates equal the reference's one.
    """

    def __init__(self, op, bn_momentum=0.1, bn_eps=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.op = nc.MBConv(**op) if isinstance(op, dict) else op
        self.bn_momentum, self.bn_eps = bn_momentum, bn_eps
        twice = types.SimpleNamespace(bn_momentum=1 - math.sqrt(1 - bn_momentum), bn_eps=bn_eps)
        self.steps = layers.mbconv(self.op, self.name, twice)

    def get_config(self):
        return {**super().get_config(), "op": dict(vars(self.op)),
                "bn_momentum": self.bn_momentum, "bn_eps": self.bn_eps}


@keras.utils.register_keras_serializable(package="kws_tf")
class ZeroOp(keras.layers.Layer):
    """The Zero candidate (stride 1): with the edge's shortcut the block becomes the identity."""

    def call(self, inputs):
        return tf.zeros_like(inputs)


@keras.utils.register_keras_serializable(package="kws_tf")
class ChannelFill(keras.layers.Layer):
    """Zero channels appended up to `channels` (alone: the Skip op of the ds_cnn_bf space,
    the identity padded to the edge's width)."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def call(self, inputs):
        missing = self.channels - inputs.shape[-1]
        return tf.pad(inputs, [[0, 0], [0, 0], [0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.channels])

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.utils.register_keras_serializable(package="kws_tf")
class DsCandidate(Sequence):
    """A bias-free depthwise-separable op of the ds_cnn_bf space: k x k depthwise conv (SAME),
    ReLU, [global max pool,] 1x1 conv to `width` channels, ReLU, zero channels up to
    `channels` (so that every candidate of an edge has the same output shape; a next layer
    sees zeros there, and the derived ds_cnn_bf model simply drops those channels)."""

    def __init__(self, kernel_size, width, channels, pool=False, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size, self.width, self.channels = kernel_size, width, channels
        self.pool = pool
        name = self.name
        self.steps = [
            keras.layers.DepthwiseConv2D(kernel_size, padding="same",
                                         use_bias=False, depthwise_initializer="glorot_uniform",
                                         name=f"{name}_dw"),
            keras.layers.ReLU(name=f"{name}_dw_relu"),
            *([keras.layers.GlobalMaxPooling2D(keepdims=True, name=f"{name}_max_pool")]
              if pool else []),
            keras.layers.Conv2D(width, 1, use_bias=False, kernel_initializer="glorot_uniform",
                                name=f"{name}_pw"),
            keras.layers.ReLU(name=f"{name}_pw_relu"),
            ChannelFill(channels, name=f"{name}_fill")]

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "width": self.width,
                "channels": self.channels, "pool": self.pool}
