"""The FLOPs regulariser: expected FLOPs and the direction its gradient pushes the logits."""
import math
from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.errors import KwsError
from kws_tf.nas import flops, regularizer, space


def test_uniform_logits_give_the_reference_expected_flops():
    constant, table = space.proxyless(12).flops_table(flops.reference_input_shape(10))
    uniform = [tf.fill([len(row)], 1.0 / len(row)) for row in table]
    exact = constant + sum(Fraction(sum(row), len(row)) for row in table)
    assert round(exact) == 36_508_700
    # The regulariser computes in float32 (one unit in the last place is 4 FLOPs here).
    assert float(regularizer.LinearFlops(constant, table).expected(uniform)) == \
        pytest.approx(36_508_700, rel=1e-6)


TABLE = [[100.0, 400.0, 900.0], [50.0, 300.0, 0.0]]
CONSTANT = 1000.0


def _gradient(beta, loss_type="mul#log", cross_entropy=1.3):
    alphas = [tf.Variable([0.2, -0.1, 0.4]), tf.Variable([0.0, 0.3, -0.2])]
    with tf.GradientTape() as tape:
        probs = [tf.nn.softmax(a) for a in alphas]
        expected = regularizer.LinearFlops(CONSTANT, TABLE).expected(probs)
        loss = regularizer.regularized_loss(tf.constant(cross_entropy), expected, "flops",
                                            loss_type, 1.0, beta, 0.5, 1500.0)
    return [p.numpy() for p in probs], float(expected), tape.gradient(loss, alphas)


def test_mul_log_pushes_each_logit_by_its_op_s_cost_against_the_edge_s_expected_cost():
    probs, expected, gradients = _gradient(beta=4.0)
    ratio = math.log(expected) / math.log(1500.0)
    scale = 1.0 * 1.3 * 4.0 * ratio ** 3 / (expected * math.log(1500.0))
    for p, row, gradient in zip(probs, TABLE, gradients):
        edge_cost = np.sum(p * np.array(row))
        assert np.allclose(gradient, scale * p * (np.array(row) - edge_cost), rtol=1e-4)
    # Descent lowers the costliest op's logit and raises the cheapest one's.
    assert gradients[0].numpy()[2] > 0 > gradients[0].numpy()[0]
    assert gradients[1].numpy()[1] > 0 > gradients[1].numpy()[2]


def test_beta_zero_leaves_only_the_cross_entropy():
    _, _, gradients = _gradient(beta=0.0)
    assert all(np.abs(g.numpy()).max() == 0 for g in gradients)


def test_add_linear_and_no_target():
    probs, _, gradients = _gradient(beta=0.0, loss_type="add#linear")
    edge_cost = np.sum(probs[0] * np.array(TABLE[0]))
    assert np.allclose(gradients[0], 0.5 / 1500 * probs[0] * (np.array(TABLE[0]) - edge_cost),
                       rtol=1e-4)
    assert float(regularizer.regularized_loss(tf.constant(0.7), tf.constant(5e6), None,
                                              "mul#log", 1.0, 16.0, 0.1, 20e6)) == \
        pytest.approx(0.7)


def test_bad_settings_are_flag_errors():
    with pytest.raises(KwsError, match="--grad_reg_loss_type 'mul#lin'"):
        regularizer.check("mul#lin", 20e6)
    with pytest.raises(KwsError, match="--flops_ref_value must be more than 1"):
        regularizer.check("mul#log", 1.0)
