"""ProxylessNAS binary gates: paths drawn from the architecture logits, and the gradient that
reaches the logits through a one-hot gate vector.

Each edge has logits alpha and p = softmax(alpha). A weight step runs one op per edge, drawn
from p. An architecture step draws the op too; its edge output is y = sum_j g_j o_j with the
gates g = one_hot(op), so dL/dg_j = <o_j, dL/dy> (every involved candidate's output against the
edge's output gradient, kws_tf.nas.supernet.MixedEdge.backward), used as if it were dL/dp_j:

    dL/dalpha_i = sum_j dL/dg_j * p_j * (delta_ij - p_i) = p_i * (dL/dg_i - <p, dL/dg>).

Modes (--grad_binary_mode): ``full_v2`` (the reference's default, which its README runs) and
``full`` involve every candidate; they differ only in how PyTorch saves memory and give the
same gradients, so both are the same here. ``two`` involves two candidates drawn without
replacement, p becomes their two-way softmax, and after the update both logits are shifted
so that the pair keeps its total probability (``rescale``).

Draws use a tf.random.Generator inside the compiled steps (Gumbel-max: argmax(alpha + G) is a
draw from softmax(alpha); the two largest are a draw of two without replacement).
"""
import tensorflow as tf

MODES = ("full_v2", "full", "two")


def involved_probabilities(alpha, involved):
    """softmax over the involved candidates, 0 elsewhere."""
    return tf.nn.softmax(tf.where(involved, alpha, tf.float32.min))


def _gumbel(generator, alpha):
    uniform = generator.uniform(tf.shape(alpha), minval=1e-20, maxval=1.0)
    return alpha - tf.math.log(-tf.math.log(uniform))


def sample_paths(generator, alphas):
    """One op per edge drawn from softmax(alpha): int32 [edges]."""
    return tf.stack([tf.argmax(_gumbel(generator, alpha), output_type=tf.int32)
                     for alpha in alphas])


def sample_gates(generator, alphas, mode):
    """(active op per edge, int32 [edges]; involved candidates per edge, [bool [n_ops]])."""
    active, involved = [], []
    for alpha in alphas:
        if mode == "two":
            pair = tf.math.top_k(_gumbel(generator, alpha), k=2).indices
            first = generator.uniform([]) < tf.nn.softmax(tf.gather(alpha, pair))[0]
            active.append(tf.where(first, pair[0], pair[1]))
            involved.append(tf.reduce_any(tf.one_hot(pair, tf.size(alpha)) > 0, axis=0))
        else:
            active.append(tf.argmax(_gumbel(generator, alpha), output_type=tf.int32))
            involved.append(tf.ones_like(alpha, tf.bool))
    return tf.stack(active), involved


def logit_gradient(probabilities, gate_gradient):
    """dL/dalpha from dL/dg: p * (dg - <p, dg>), p the involved candidates' probabilities."""
    return probabilities * (gate_gradient - tf.reduce_sum(probabilities * gate_gradient))


def rescale(new_alpha, old_alpha, involved):
    """Shifts the involved logits so that their total softmax mass is what it was before the
    update (``two`` mode; the other candidates' probabilities stay unchanged)."""
    def mass(alpha):
        return tf.reduce_logsumexp(tf.where(involved, alpha, tf.float32.min))

    return new_alpha - tf.where(involved, mass(new_alpha) - mass(old_alpha), 0.0)
