"""The supernet: single-path weight steps, the gate gradient, Zero edges, inherited weights."""
import numpy as np
import pytest
import tensorflow as tf

from kws_tf.models import net_config
from kws_tf.nas import candidates, flops, space, supernet
from tests.nas import helpers


def _edge(shortcut=True):
    space = helpers.tiny_space(cells=2)
    edge = supernet.MixedEdge.from_edge(space.edges[1], space, "edge")
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5, 3, 8)), tf.float32)
    edge(x, tf.constant(0))
    return edge, x


def test_backward_gives_the_sampled_op_s_input_gradient_and_every_gate_s_gradient():
    edge, x = _edge()
    dy = tf.constant(np.random.default_rng(1).normal(size=x.shape), tf.float32)
    involved = tf.ones(len(edge.candidates), tf.bool)
    dx, d_gates = edge.backward(x, tf.constant(1), dy, training=True, involved=involved)
    outputs = [c(x, training=True) for c in edge.candidates]
    assert np.allclose(d_gates, [float(tf.reduce_sum(o * dy)) for o in outputs], rtol=1e-4,
                       atol=1e-4)
    assert np.allclose(edge(x, tf.constant(1), training=True), outputs[1] + x, atol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = edge.candidates[1](x, training=True) + x
    assert np.allclose(dx, tape.gradient(y, x, output_gradients=dy), atol=1e-5)
    # Only the involved candidates are run; the others' gate gradients stay 0.
    _, pair = edge.backward(x, tf.constant(2), dy, training=True,
                            involved=tf.constant([True, False, True, False, False]))
    assert pair.numpy()[[1, 3, 4]].tolist() == [0, 0, 0] and pair.numpy()[0] != 0


def test_forward_and_recomputed_backward_move_batch_norm_statistics_as_one_update():
    edge, x = _edge()
    candidate = edge.candidates[1]  # 3x3_MBConv2: expand conv, then its batch norm
    expand, norm = candidate.steps[0], candidate.steps[1]
    reference = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    reference.build((None, 5, 3, 16))
    reference.set_weights(norm.get_weights())
    update_seen = []
    y = edge(x, tf.constant(1), training=True)
    edge.backward(x, tf.constant(1), tf.ones_like(y), training=True, update=update_seen.extend)
    reference(expand(x), training=True)
    assert np.allclose(norm.moving_mean, reference.moving_mean, atol=1e-6)
    assert np.allclose(norm.moving_variance, reference.moving_variance, atol=1e-5)
    assert {v.ref() for v, _ in update_seen} == {v.ref() for v in candidate.trainable_variables}


def test_a_zero_path_makes_the_block_the_identity():
    edge, x = _edge()
    zero = [i for i, c in enumerate(edge.candidates) if isinstance(c, candidates.ZeroOp)]
    assert zero == [len(edge.candidates) - 1]
    assert np.array_equal(edge(x, tf.constant(zero[0]), training=True), x)


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def test_a_weight_step_changes_only_the_sampled_path():
    searcher = helpers.tiny_searcher(cells=3)
    net = searcher.net
    features, labels = helpers.batch()
    searcher.weight_step(features, labels, tf.constant(0.1))  # momentum buffers become non-zero
    before = {id(c): (_snapshot(c.weights), _snapshot(
        [searcher.weight_optimizer.buffer(v) for v in c.trainable_variables]))
        for edge in net.edges for c in edge.candidates}
    fixed = _snapshot(searcher.fixed)
    _, _, paths = searcher.weight_step(features, labels, tf.constant(0.1))
    for edge, path in zip(net.edges, paths.numpy()):
        for j, candidate in enumerate(edge.candidates):
            weights, buffers = before[id(candidate)]
            now = _snapshot(candidate.weights)
            now_buffers = _snapshot([searcher.weight_optimizer.buffer(v)
                                     for v in candidate.trainable_variables])
            same = all(np.array_equal(a, b) for a, b in zip(weights + buffers, now + now_buffers))
            if j == path:
                assert not same or isinstance(candidate, candidates.ZeroOp)
            else:
                assert same, (edge.name, candidate.name)
    assert not any(np.array_equal(a, b) for a, b in zip(fixed, _snapshot(searcher.fixed)))


def test_an_edge_whose_sampled_op_is_zero_keeps_its_logits():
    searcher = helpers.tiny_searcher(cells=2, target_hardware="flops", flops_ref_value=1e4,
                                     grad_reg_loss_beta=2.0)
    net = searcher.net
    net.edges[1].alpha.assign([0.0, 0.0, 0.0, 0.0, 50.0])  # Zero is always drawn
    before = [a.numpy().copy() for a in net.arch_parameters]
    features, labels = helpers.batch()
    _, _, _, active = searcher.arch_step(features, labels, tf.constant(0.01))
    assert active.numpy()[1] == 4
    assert np.array_equal(net.arch_parameters[1].numpy(), before[1])
    assert not np.array_equal(net.arch_parameters[0].numpy(), before[0])
    assert [float(s) for s in searcher.arch_optimizer.steps] == [1.0, 0.0]


def test_expected_flops_of_a_near_one_hot_distribution_are_the_derived_network_s():
    searcher = helpers.tiny_searcher(cells=3)
    choices = [2, 1, 4]
    for alpha, choice in zip(searcher.net.arch_parameters, choices):
        alpha.assign(tf.one_hot(choice, alpha.shape[0]) * 50.0)
    derived = flops.net_flops(searcher.net.space.derive(choices), helpers.INPUT_SHAPE)
    assert searcher.expected_flops() == pytest.approx(derived, rel=1e-6)
    assert searcher.flops.of(choices) == derived


@pytest.mark.parametrize("weight_bits", [None, 8])
def test_the_derived_model_inherits_the_chosen_candidates_weights(weight_bits):
    searcher = helpers.tiny_searcher(cells=3, weight_bits=weight_bits)
    features, labels = helpers.batch()
    for _ in range(3):
        searcher.weight_step(features, labels, tf.constant(0.1))
    paths = [1, 3, 4]
    export = searcher.net.export(paths, helpers.INPUT_SHAPE)
    model, config = export.model, net_config.from_dict(export.sidecar["net_config"])
    assert [b.op.name for b in config.blocks] == ["3x3_MBConv2", "7x7_MBConv2", "Zero"]
    assert export.sidecar["model_architecture"] == "nas" and "net.config" in export.files
    expected = searcher.net(features, tf.constant(paths), training=False)
    assert np.allclose(model(features, training=False), expected, atol=1e-5)


def test_two_mode_moves_probability_only_within_the_drawn_pair():
    searcher = helpers.tiny_searcher(cells=3, grad_binary_mode="two", target_hardware="flops",
                                     flops_ref_value=1e4, grad_reg_loss_beta=2.0)
    before = searcher.net.probabilities()
    searcher.arch_step(*helpers.batch(), tf.constant(0.05))
    for old, new in zip(before, searcher.net.probabilities()):
        changed = np.abs(new - old) > 1e-6
        assert changed.sum() in (0, 2)
        assert np.isclose(new[changed].sum(), old[changed].sum(), atol=1e-5)
    assert sum(float(s) for s in searcher.arch_optimizer.steps) >= 1


def test_a_mixed_edge_round_trips_through_its_config():
    edge, x = _edge()
    clone = supernet.MixedEdge.from_config(edge.get_config())
    assert [c.name for c in clone.candidates] == [c.name for c in edge.candidates]
    assert clone.shortcut and isinstance(clone.candidates[-1], candidates.ZeroOp)
    clone(x, tf.constant(0))
    clone.set_weights(edge.get_weights())
    assert np.allclose(clone(x, tf.constant(2), training=False),
                       edge(x, tf.constant(2), training=False))


@pytest.mark.slow
def test_the_full_supernet_has_the_reference_parameter_count():
    """9,417,684 with the classifier's unused bias (reference, section 3.4)."""
    net = supernet.SuperNet(space.proxyless(12)).build_for((49, 10))
    weights = sum(int(np.prod(v.shape)) for v in net.trainable_variables
                  if all(v is not a for a in net.arch_parameters))
    assert weights + 12 == 9_417_684
    assert sum(int(a.shape[0]) for a in net.arch_parameters) == 227
