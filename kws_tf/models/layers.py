"""A depthwise convolution whose unequal strides run on every CPU kernel.

TensorFlow's default CPU kernel for ``DepthwiseConv2dNative`` accepts only equal row and
column strides ("Current implementation only supports equal length strides"); its oneDNN
kernel, switched on by default only on CPUs with AVX-512 VNNI/BF16 or AMX, accepts any. Hello
Edge's --model_size_info may give a depthwise layer strides such as 2 1, so such a layer pads
as the strided convolution would, convolves with stride 1 and keeps every stride-th row and
column: the same values on every kernel, for stride_t * stride_f times the multiplies of that
one layer. Equal strides keep the plain layer (and tfmot's batch-norm folding for it).
"""
import tensorflow as tf
import tf_keras as keras

from kws_tf.models import common


def depthwise_conv2d(inputs, kernel, strides, padding):
    """tf.nn.depthwise_conv2d (NHWC, `padding` 'same' or 'valid') for any pair of strides."""
    strides, padding = tuple(strides), padding.upper()
    if strides[0] == strides[1]:
        return tf.nn.depthwise_conv2d(inputs, kernel, [1, *strides, 1], padding)
    if padding == "SAME":
        pads = [common.same_pads(size, k, s)[1:]
                for size, k, s in zip(inputs.shape[1:3], kernel.shape[:2], strides)]
        inputs = tf.pad(inputs, [[0, 0], pads[0], pads[1], [0, 0]])
    outputs = tf.nn.depthwise_conv2d(inputs, kernel, [1, 1, 1, 1], "VALID")
    return outputs[:, ::strides[0], ::strides[1], :]


@keras.utils.register_keras_serializable(package="kws_tf")
class SubsampledDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """DepthwiseConv2D computed by `depthwise_conv2d` (stride 1, then subsampling)."""

    def call(self, inputs):
        outputs = depthwise_conv2d(inputs, self.depthwise_kernel, self.strides, self.padding)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)


def DepthwiseConv2D(kernel_size, strides=(1, 1), **kwargs):  # noqa: N802 (a layer factory)
    """keras.layers.DepthwiseConv2D, or SubsampledDepthwiseConv2D where the strides differ."""
    strides = tuple(strides) if not isinstance(strides, int) else (strides, strides)
    layer = SubsampledDepthwiseConv2D if strides[0] != strides[1] else keras.layers.DepthwiseConv2D
    return layer(kernel_size, strides=strides, **kwargs)
