"""The integer graph again, in TensorFlow int32 ops: a second, independent implementation.

Convolutions are image patches (``tf.image.extract_patches``) times the weights in int32
``matmul``; shifts are ``tf.bitwise.right_shift`` (arithmetic on signed integers), as in the
C reference, whose accumulators are int32 too. Agreement bit for bit with the numpy graph
(kws_tf.quant.integer_graph) and the C code is what shows that all three compute in integers.
"""
import numpy as np
import tensorflow as tf

from kws_tf.quant import stages as st


def build(graph):
    """A tf.function: int32 inputs [batch, frames, coefficients] -> a tuple with, per stage,
    (accumulators, output) int32 maps [batch, h, w, c] (accumulators of a max pool: its
    output)."""
    constants = [(tf.constant(s.weights, tf.int32) if s.weights is not None else None,
                  tf.constant(s.bias, tf.int32) if s.bias is not None else None)
                 for s in graph.stages]

    @tf.function(input_signature=[tf.TensorSpec([None, *graph.input_shape], tf.int32)])
    def run(inputs):
        x = inputs[..., tf.newaxis]
        values = []
        for stage, (weights, bias) in zip(graph.stages, constants):
            acc, x = _stage(stage, weights, bias, x)
            values.append((acc, x))
        return tuple(values)

    return run


def _stage(stage, weights, bias, x):
    if stage.kind == st.MAX_POOL:
        x = tf.reduce_max(x, axis=[1, 2], keepdims=True)
        return x, x
    if stage.kind == st.SUM_POOL:
        acc = tf.reduce_sum(x, axis=[1, 2], keepdims=True)
        return acc, tf.bitwise.right_shift(acc, stage.shift)
    if stage.kind == st.FC:
        acc = tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), weights)
        acc = tf.reshape(acc, [-1, 1, 1, stage.out_shape[-1]])
    else:
        acc = _convolve(stage, weights, x)
    if bias is not None:
        acc = acc + bias
    if not stage.relu:
        return acc, acc
    return acc, tf.bitwise.right_shift(tf.maximum(acc, 0), stage.shift)


def _convolve(stage, weights, x):
    top, bottom, left, right = stage.pads
    x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    kernel_t, kernel_f = stage.kernel
    # [batch, out_h, out_w, kernel_t * kernel_f * in_c], ordered (kernel_t, kernel_f, in_c).
    windows = tf.image.extract_patches(x, [1, kernel_t, kernel_f, 1],
                                       [1, *stage.strides, 1], [1, 1, 1, 1], "VALID")
    out_h, out_w, out_c = stage.out_shape
    if stage.kind == st.DEPTHWISE:
        windows = tf.reshape(windows, [-1, out_h, out_w, kernel_t * kernel_f, out_c])
        return tf.reduce_sum(windows * tf.reshape(weights, [kernel_t * kernel_f, out_c]),
                             axis=3)
    flat = tf.reshape(windows, [-1, windows.shape[-1]])
    acc = tf.matmul(flat, tf.reshape(weights, [-1, out_c]))
    return tf.reshape(acc, [-1, out_h, out_w, out_c])


def trace(graph, inputs):
    """As integer_graph.trace, computed by TF: [(stage, accumulators, output)] as numpy."""
    values = build(graph)(tf.constant(np.asarray(inputs), tf.int32))
    return [(stage, acc.numpy(), out.numpy()) for stage, (acc, out) in zip(graph.stages, values)]
