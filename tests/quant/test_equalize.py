"""Cross-layer equalization: the float function stays, the per-channel ranges balance."""
import dataclasses

import numpy as np
import pytest

import kws_tf  # noqa: F401
from kws_tf.quant import equalize, extract
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st
from tests.quant import graphs

LAYOUTS = [("ds_cnn_bf", graphs.SMALL, 4), ("ds_cnn_bf", graphs.THREE_LAYERS, 7),
           ("ds_cnn", graphs.SMALL, 3)]


def _stages(architecture, size_info, labels):
    model = graphs.model(architecture, size_info, labels=labels)
    return extract.float_stages(model, architecture, fold_biases=architecture == "ds_cnn")


@pytest.mark.parametrize("architecture, size_info, labels", LAYOUTS)
def test_equalized_stages_compute_the_same_logits(architecture, size_info, labels):
    stages = _stages(architecture, size_info, labels)
    maps = graphs.maps(50)
    expected = st.run_float(stages, maps)
    equalized = equalize.equalize(stages)
    assert any(not np.allclose(a.weights, b.weights) for a, b in zip(stages, equalized)
               if a.weights is not None)
    np.testing.assert_allclose(st.run_float(equalized, maps), expected,
                               atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("architecture, size_info, labels", LAYOUTS)
def test_each_channel_ends_with_equal_ranges_on_both_sides(architecture, size_info, labels):
    stages = equalize.equalize(_stages(architecture, size_info, labels))
    linear = [stage for stage in stages if stage.kind in st.LINEAR]
    for before, after in zip(linear, linear[1:]):
        np.testing.assert_allclose(equalize._out_ranges(before), equalize._in_ranges(after),
                                   rtol=1e-4)


def test_equalization_undoes_a_rescaled_channel():
    """A channel scaled up 1000x in one layer and down in the next is the same function, but
    per-layer integer weights lose every other channel of both layers to rounding;
    equalization brings the integer graph back to agreeing with the float model."""
    stages = _stages("ds_cnn_bf", graphs.SMALL, 4)
    conv, depthwise = stages[0], stages[1]
    factor = np.ones(conv.weights.shape[-1])
    factor[0] = 1000.0
    skewed = [dataclasses.replace(conv, weights=conv.weights * factor),
              dataclasses.replace(depthwise, weights=depthwise.weights / factor), *stages[2:]]
    maps = graphs.maps(300, seed=1)
    reference = np.argmax(st.run_float(stages, maps), axis=-1)

    def agreement(float_stages):
        frac_bits, _ = ig.choose_input_frac_bits(float_stages, maps)
        graph = ig.quantize(float_stages, frac_bits, calibration=maps)
        return np.mean(ig.predict(graph, maps) == reference)

    assert agreement(equalize.equalize(skewed)) > agreement(skewed) + 0.2
