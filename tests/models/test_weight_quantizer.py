"""The reference's fixed-range weight quantiser with a straight-through gradient."""
import numpy as np
import tensorflow as tf

from kws_tf.models.weight_quantizer import fake_quantize_weights


def test_eight_bits_land_on_the_grid_of_255_steps_and_clip_to_one():
    w = tf.constant(np.linspace(-1.5, 1.5, 1001), tf.float32)
    q = fake_quantize_weights(w, 8).numpy()
    k = (q + 1) * 255 / 2
    assert np.allclose(k, np.round(k), atol=1e-4) and q.min() == -1 and q.max() == 1
    assert np.abs(q - np.clip(w.numpy(), -1, 1)).max() <= 1 / 255 + 1e-6


def test_one_bit_is_the_sign_with_zero_going_down():
    q = fake_quantize_weights(tf.constant([-0.3, 0.0, 1e-3, 2.0]), 1).numpy()
    assert q.tolist() == [-1, -1, 1, 1]


def test_the_gradient_passes_straight_through_and_none_means_float():
    w = tf.Variable([-2.0, 0.1, 0.7])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fake_quantize_weights(w, 2) * tf.constant([1.0, 2.0, 3.0]))
    assert tape.gradient(loss, w).numpy().tolist() == [1, 2, 3]
    assert fake_quantize_weights(w, None) is w
