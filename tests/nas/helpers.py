"""Tiny supernets for the search tests (a few channels, a few candidates, 9 x 6 inputs)."""
import numpy as np
import tensorflow as tf

from kws_tf.nas import searcher, space, supernet

INPUT_SHAPE = (9, 6)


def tiny_space(labels=3, cells=2, kernel_sizes=(3, 7), expand_ratios=(1, 2), weight_bits=None):
    """8 channels; block 0 (stride 2) has 4 candidates, later blocks 4 plus Zero."""
    return space.proxyless(labels, width_mult=0.1, n_cell_stages=(cells,),
                           kernel_sizes=kernel_sizes, expand_ratios=expand_ratios,
                           weight_bits=weight_bits)


def tiny_searcher(cells=2, weight_bits=None, seed=0, input_shape=INPUT_SHAPE, **settings):
    """A Searcher on tiny_space(cells); `settings` are SearchSettings fields."""
    tf.keras.utils.set_random_seed(seed)
    net = supernet.SuperNet(tiny_space(cells=cells, weight_bits=weight_bits))
    return searcher.Searcher(net.build_for(input_shape), input_shape,
                             searcher.SearchSettings(seed=seed, **settings))


def batch(size=8, labels=3, seed=0, input_shape=INPUT_SHAPE):
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.normal(size=(size, *input_shape)), tf.float32),
            tf.constant(np.arange(size) % labels, tf.int32))
