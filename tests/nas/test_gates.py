"""Path sampling and the binary-gate gradient of the architecture logits."""
import numpy as np
import tensorflow as tf

from kws_tf.nas import gates

ALPHA = tf.constant([0.0, 1.0, 2.0, -1.0, 0.5])


def test_sampled_paths_follow_the_softmax_and_change_between_calls():
    generator = tf.random.Generator.from_seed(1)
    draws = tf.function(lambda: gates.sample_paths(generator, [ALPHA] * 40), autograph=False)
    samples = np.concatenate([draws().numpy() for _ in range(100)])
    frequencies = np.bincount(samples, minlength=5) / len(samples)
    assert np.abs(frequencies - tf.nn.softmax(ALPHA).numpy()).max() < 0.025
    assert not np.array_equal(samples[:40], samples[40:80])


def test_two_mode_involves_two_distinct_ops_and_activates_one_of_them():
    generator = tf.random.Generator.from_seed(2)
    active, involved = gates.sample_gates(generator, [ALPHA] * 200, "two")
    involved = np.stack([i.numpy() for i in involved])
    assert (involved.sum(axis=1) == 2).all()
    assert involved[np.arange(200), active.numpy()].all()
    full_active, full_involved = gates.sample_gates(generator, [ALPHA], "full_v2")
    assert full_involved[0].numpy().all() and 0 <= int(full_active[0]) < 5


def test_the_logit_gradient_is_p_times_dg_minus_its_mean():
    """Checked against autodiff of sum(one_hot gates * dg) with d(gates)/d(alpha) := dp/dalpha."""
    upstream = tf.constant([0.3, -1.0, 2.0, 0.7, -0.2])
    with tf.GradientTape() as tape:
        tape.watch(ALPHA)
        p = tf.nn.softmax(ALPHA)
        loss = tf.reduce_sum(p * upstream)
    p = p.numpy()
    gradient = gates.logit_gradient(tf.constant(p), upstream)
    assert np.allclose(gradient, tape.gradient(loss, ALPHA), atol=1e-6)
    assert np.allclose(gradient, p * (upstream - np.sum(p * upstream)), atol=1e-6)


def test_in_two_mode_only_the_pair_gets_gradient_from_its_two_way_softmax():
    upstream = tf.constant([0.3, -1.0, 2.0, 0.7, -0.2])
    involved = tf.constant([False, True, False, True, False])
    probabilities = gates.involved_probabilities(ALPHA, involved)
    p = np.zeros(5)
    p[[1, 3]] = tf.nn.softmax(tf.gather(ALPHA, [1, 3])).numpy()
    assert np.allclose(probabilities, p, atol=1e-7)
    gradient = gates.logit_gradient(probabilities, upstream).numpy()
    assert np.allclose(gradient, p * (upstream - np.sum(p * upstream)), atol=1e-6)
    assert gradient[[0, 2, 4]].tolist() == [0, 0, 0]


def test_rescale_keeps_the_pair_s_probability_mass_and_the_others_probabilities():
    involved = tf.constant([False, True, False, True, False])
    new = ALPHA + tf.constant([0.0, 0.4, 0.0, -0.1, 0.0])
    rescaled = gates.rescale(new, ALPHA, involved)
    before, after = tf.nn.softmax(ALPHA).numpy(), tf.nn.softmax(rescaled).numpy()
    assert np.allclose(after[[0, 2, 4]], before[[0, 2, 4]], atol=1e-6)
    assert np.isclose(after[[1, 3]].sum(), before[[1, 3]].sum(), atol=1e-6)
    assert after[1] > before[1]
