"""nas-for-kws's weight quantiser (``num_bits``): a fixed [-1, 1] grid with a straight-through
gradient.

q(w) = clip(round((w + 1) * (2^b - 1) / 2) / (2^b - 1), 0, 1) * 2 - 1: 2^b levels, both ends
included (8 bits: -1 + 2k/255; 1 bit: +-1, threshold 0). The forward uses q(w), the gradient
passes to w unchanged (also outside [-1, 1]), so SGD keeps updating the float weights.
"""
import tensorflow as tf


def fake_quantize_weights(weights, num_bits):
    """q(weights) in the forward, identity in the backward; `weights` itself when num_bits is
    None."""
    if num_bits is None:
        return weights
    levels = 2.0 ** num_bits - 1
    grid = tf.clip_by_value(tf.round((weights + 1.0) * levels / 2.0) / levels, 0.0, 1.0)
    return weights + tf.stop_gradient(grid * 2.0 - 1.0 - weights)
