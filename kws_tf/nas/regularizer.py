"""The resource regulariser of the architecture loss (--target_hardware flops).

Expected FLOPs: a search space's ``flops_model(input_shape)`` computes E[F] under the edges'
(involved) probabilities, differentiably; for nas-for-kws's space that is ``LinearFlops``,
E[F] = F_fixed + sum over edges of <p_e, F_e>, with F_e the reference's count of every
candidate (kws_tf.nas.space.flops_table): all candidates of an edge give the same output size,
so this is exact.

Losses (--grad_reg_loss_type), T = --flops_ref_value:
  ``mul#log``    a * CE * (ln E[F] / ln T) ** beta  (the reference's runs; beta = 0: plain a * CE)
  ``add#linear`` CE + lambda * (E[F] - T) / T
Without --target_hardware the loss is the cross entropy.
"""
import math

import tensorflow as tf

from kws_tf.errors import KwsError

LOSS_TYPES = ("mul#log", "add#linear")


class LinearFlops:
    """FLOPs that add up edge by edge: a fixed part plus each edge's chosen candidate's."""

    def __init__(self, constant, table):
        self.constant, self.table = constant, table

    def expected(self, probabilities):
        """E[F] as a float32 scalar, differentiable in the probabilities."""
        total = tf.constant(float(self.constant))
        for probs, counts in zip(probabilities, self.table, strict=True):
            total += tf.reduce_sum(probs * tf.constant(counts, tf.float32))
        return total

    def of(self, paths):
        """The exact FLOPs of one network (a candidate index per edge)."""
        return self.constant + sum(row[int(p)] for row, p in zip(self.table, paths,
                                                                  strict=True))


def check(loss_type, ref_value):
    if loss_type not in LOSS_TYPES:
        raise KwsError(f"--grad_reg_loss_type {loss_type!r} is not one of {', '.join(LOSS_TYPES)}")
    if loss_type == "mul#log" and ref_value <= 1:
        raise KwsError(f"--flops_ref_value must be more than 1 for mul#log (its log divides), "
                       f"got {ref_value:g}")
    if ref_value <= 0:
        raise KwsError(f"--flops_ref_value must be positive, got {ref_value:g}")


def regularized_loss(cross_entropy, expected, target_hardware, loss_type, alpha, beta, lam,
                     ref_value):
    if target_hardware is None:
        return cross_entropy
    if loss_type == "mul#log":
        ratio = tf.math.log(expected) / math.log(ref_value)
        return alpha * cross_entropy * ratio ** beta
    return cross_entropy + lam * (expected - ref_value) / ref_value
