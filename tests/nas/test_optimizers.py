"""PathSGD and ArchAdam against PyTorch's update rules written out in numpy."""
import numpy as np
import tensorflow as tf

from kws_tf.nas.optimizers import ArchAdam, PathSGD


def test_path_sgd_is_torch_sgd_with_nesterov_and_coupled_decay_on_given_variables_only():
    a, b, c = tf.Variable([1.0, -2.0]), tf.Variable([0.5]), tf.Variable([3.0])
    sgd = PathSGD([a, b, c], momentum=0.9, nesterov=True, weight_decay=0.1, no_decay=[b])
    w, buf = np.array([1.0, -2.0]), np.zeros(2)
    for step, grad in enumerate(([0.2, 0.4], [-0.1, 0.3], [0.5, 0.0])):
        sgd.apply([(a, tf.constant(grad)), (b, tf.constant([1.0]))], 0.05)
        d = np.array(grad) + 0.1 * w
        buf = 0.9 * buf + d
        w = w - 0.05 * (d + 0.9 * buf)
        assert np.allclose(a.numpy(), w, atol=1e-6), step
    # b has no decay: plain Nesterov momentum on a constant gradient of 1.
    assert np.isclose(b.numpy()[0], 0.5 - 0.05 * ((1 + 0.9 * 1) + (1 + 0.9 * 1.9)
                                                  + (1 + 0.9 * 2.71)), atol=1e-6)
    assert c.numpy().tolist() == [3.0] and sgd.buffer(c).numpy().tolist() == [0.0]


def _torch_adam(w, grads, lr, beta_1, beta_2, eps):
    m = v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        denominator = np.sqrt(v) / np.sqrt(1 - beta_2 ** t) + eps
        w = w - lr / (1 - beta_1 ** t) * m / denominator
    return w


def test_arch_adam_is_torch_adam_with_a_step_count_per_edge_and_skips():
    first, second = tf.Variable([0.1, -0.2, 0.3]), tf.Variable([0.0, 0.4])
    adam = ArchAdam([first, second], beta_1=0.5, beta_2=0.999, epsilon=1e-8)
    g1 = [np.array([0.2, -0.1, 0.05]), np.array([0.3, 0.1, -0.2]), np.array([-0.4, 0.2, 0.1])]
    g2 = [np.array([1.0, -1.0]), np.array([5.0, 5.0]), np.array([0.5, 0.25])]
    skips = [(False, False), (False, True), (False, False)]
    for grads, skip in zip(zip(g1, g2), skips):
        adam.apply([tf.constant(g, tf.float32) for g in grads], [tf.constant(s) for s in skip],
                   0.01)
    assert np.allclose(first.numpy(), _torch_adam(np.array([0.1, -0.2, 0.3]), g1, 0.01, 0.5,
                                                  0.999, 1e-8), atol=1e-6)
    assert np.allclose(second.numpy(), _torch_adam(np.array([0.0, 0.4]), [g2[0], g2[2]], 0.01,
                                                   0.5, 0.999, 1e-8), atol=1e-6)
    assert [float(s) for s in adam.steps] == [3.0, 2.0]
