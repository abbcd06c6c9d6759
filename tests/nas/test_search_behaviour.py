"""The search on a task where only a large kernel can tell the classes apart.

Each example holds two spikes of opposite sign five frames apart in one MFCC row; the class
is their order (+ then -, or - then +). Stem, feature mix and classifier are 1x1, so the edge
is the only place where positions meet: a 3x3 depthwise conv never sees both spikes at once,
and the pooled features of both classes are the same multiset (chance accuracy); a 7x7 one
sees both and solves the task.
"""
import numpy as np
import tensorflow as tf

from kws_tf.models import net_config as nc
from kws_tf.nas import searcher, space, supernet

FRAMES, N_MFCC, CHANNELS = 16, 8, 8
SPACE = space.SearchSpace(
    first_conv=nc.ConvLayer(1, CHANNELS, 1, 1),
    edges=(space.Edge((nc.MBConv(CHANNELS, CHANNELS, 3, 1, 1),
                       nc.MBConv(CHANNELS, CHANNELS, 7, 1, 1)), shortcut=True,
                      channels=CHANNELS),),
    feature_mix=nc.ConvLayer(CHANNELS, 16, 1, 1), classifier=nc.Linear(16, 2))


def _batch(rng, size=32):
    x = np.zeros((size, FRAMES, N_MFCC), np.float32)
    labels = rng.integers(0, 2, size)
    first = rng.integers(3, FRAMES - 8, size)
    row = rng.integers(1, N_MFCC - 1, size)
    sign = np.where(labels == 0, 1.0, -1.0) * rng.uniform(0.5, 1.5, size)
    x[np.arange(size), first, row] = sign
    x[np.arange(size), first + 5, row] = -sign
    x += rng.normal(0, 0.05, x.shape).astype(np.float32)
    return tf.constant(x), tf.constant(labels, tf.int32)


def _search(beta, arch_steps):
    """Warm-up weight steps, then alternating weight and architecture steps:
    (path accuracies after warm-up, expected FLOPs after warm-up, searcher)."""
    tf.keras.utils.set_random_seed(0)
    net = supernet.SuperNet(SPACE).build_for((FRAMES, N_MFCC))
    search = searcher.Searcher(net, (FRAMES, N_MFCC), searcher.SearchSettings(
        label_smoothing=0.0, target_hardware="flops", flops_ref_value=1000.0,
        grad_reg_loss_alpha=1.0, grad_reg_loss_beta=beta))
    rng = np.random.default_rng(0)
    for _ in range(150):
        search.weight_step(*_batch(rng), tf.constant(0.05))
    x, labels = _batch(rng, 256)
    accuracies = [float(np.mean(np.argmax(net(x, tf.constant([path]), training=True), -1)
                                == labels.numpy())) for path in (0, 1)]
    warm_flops = search.expected_flops()
    for _ in range(arch_steps):
        search.weight_step(*_batch(rng), tf.constant(0.05))
        search.arch_step(*_batch(rng), tf.constant(0.02))
    return accuracies, warm_flops, search


def test_without_flops_pressure_the_search_picks_the_large_kernel_the_task_needs():
    (small, large), _, search = _search(beta=0.0, arch_steps=200)
    assert small < 0.65 and large > 0.9  # the task: only the 7x7 path solves it
    probabilities = search.net.probabilities()[0]
    assert probabilities[1] > 0.75, probabilities
    assert search.net.argmax_paths() == [1]


def test_a_large_beta_moves_probability_to_the_cheaper_op_against_the_task():
    _, warm_flops, search = _search(beta=16.0, arch_steps=100)
    probabilities = search.net.probabilities()[0]
    assert probabilities[0] > 0.75, probabilities
    assert search.expected_flops() < 0.75 * warm_flops
