"""The integer graph: exact where it can be, integer-only, shift and scale choice, errors."""
import dataclasses

import numpy as np
import pytest

import kws_tf  # noqa: F401
from kws_tf.errors import KwsError
from kws_tf.models import build_model
from kws_tf.quant import extract, tf_integer
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st
from tests.quant import graphs

LAYOUTS = [("ds_cnn_bf", graphs.SMALL, 4), ("ds_cnn_bf", graphs.THREE_LAYERS, 7),
           ("ds_cnn_bf", graphs.ONE_LAYER, 2), ("ds_cnn", graphs.SMALL, 3)]


@pytest.mark.parametrize("architecture, size_info, labels", LAYOUTS)
def test_float_stages_reproduce_the_keras_model(architecture, size_info, labels):
    """Batch norm folded, paddings and pools as the layers do them."""
    model = graphs.model(architecture, size_info, labels=labels)
    stages = extract.float_stages(model, architecture, fold_biases=True)
    maps = graphs.maps(20)
    expected = model.predict(maps, verbose=0)
    np.testing.assert_allclose(st.run_float(stages, maps), expected,
                               atol=2e-5 * np.abs(expected).max())


def _integer_valued(model, rng):
    """Weights in {-1, 0, 1} (each layer holding a 1), an integer FC bias."""
    for layer in model.layers:
        for weight in layer.weights:
            values = rng.integers(-1, 2, weight.shape).astype(np.float32)
            if weight.name.startswith("fc1/bias"):
                values = rng.integers(-50, 50, weight.shape).astype(np.float32)
            values.flat[0] = 1
            weight.assign(values)


@pytest.mark.parametrize("size_info", [graphs.SMALL, graphs.THREE_LAYERS])
def test_without_shifts_and_with_integer_weights_the_graph_is_the_float_model(size_info):
    """Scales 2**0 and shifts 0 leave nothing to round: logits equal the float32 model's
    exactly (every value stays below 2**24, where float32 is exact)."""
    rng = np.random.default_rng(1)
    model = graphs.model("ds_cnn_bf", size_info, labels=5)
    _integer_valued(model, rng)
    stages = extract.float_stages(model, "ds_cnn_bf")
    graph = ig.quantize(stages, 0, input_bits=6, weight_bits=2, shifts=[0] * len(
        ig.shift_names(stages)))
    assert all(s.weight_frac_bits == 0 for s in graph.stages if s.weights is not None)
    inputs = rng.integers(-32, 32, (200, *graphs.INPUT_SHAPE))
    logits = ig.run(graph, inputs)
    assert logits.dtype == np.int64
    np.testing.assert_array_equal(logits, model.predict(inputs.astype(np.float32), verbose=0))


def _floor_reference(graph, inputs):
    """The graph in float64 with explicit floor(x / 2**s), from its integer weights."""
    x = inputs.astype(np.float64)[..., np.newaxis]
    for stage in graph.stages:
        as_float = dataclasses.replace(
            stage, weights=None if stage.weights is None else stage.weights.astype(np.float64),
            bias=None if stage.bias is None else stage.bias.astype(np.float64))
        if stage.kind == st.MAX_POOL:
            x = x.max(axis=(1, 2), keepdims=True)
        elif stage.kind == st.SUM_POOL:
            x = np.floor(x.sum(axis=(1, 2), keepdims=True) / 2.0 ** stage.shift)
        else:
            x = st.accumulate(as_float, x)
            if stage.relu:
                x = np.floor(np.maximum(x, 0) / 2.0 ** stage.shift)
    return x.reshape(len(x), -1)


@pytest.mark.parametrize("architecture, size_info, labels", LAYOUTS)
def test_floor_shifts_are_floor_division(architecture, size_info, labels):
    model = graphs.model(architecture, size_info, labels=labels)
    _, graph = graphs.graph(model, architecture)
    inputs = ig.quantize_input(graphs.maps(100, seed=3), graph)
    np.testing.assert_array_equal(ig.run(graph, inputs), _floor_reference(graph, inputs))


@pytest.mark.parametrize("architecture, size_info, labels", LAYOUTS)
def test_numpy_and_tensorflow_integer_graphs_agree_bit_for_bit(architecture, size_info,
                                                               labels):
    model = graphs.model(architecture, size_info, labels=labels)
    _, graph = graphs.graph(model, architecture)
    inputs = np.concatenate([ig.quantize_input(graphs.maps(150, seed=4), graph),
                             np.random.default_rng(4).integers(-32, 32, (150, 25, 10))])
    ours, theirs = ig.trace(graph, inputs), tf_integer.trace(graph, inputs)
    for (stage, acc, out), (_, tf_acc, tf_out) in zip(ours, theirs):
        assert out.dtype == np.int64 and tf_out.dtype == np.int32
        np.testing.assert_array_equal(out, tf_out, err_msg=stage.name)
        if acc is not None:
            np.testing.assert_array_equal(acc, tf_acc, err_msg=stage.name)


def test_weights_and_inputs_are_power_of_two_scaled_into_their_widths():
    model = graphs.model()
    stages, graph = graphs.graph(model, weight_bits=5, input_bits=7)
    for float_stage, stage in zip(stages, graph.stages):
        if stage.weights is None:
            continue
        assert stage.weights.dtype == np.int64
        assert -16 <= stage.weights.min() and stage.weights.max() <= 15
        assert 8 <= np.abs(stage.weights).max()  # the largest power of two that fits
        np.testing.assert_array_equal(
            stage.weights, np.round(float_stage.weights * 2.0 ** stage.weight_frac_bits))
    inputs = ig.quantize_input(graphs.maps(10), graph)
    assert inputs.min() >= -64 and inputs.max() <= 63
    # The FC bias is in accumulator units: the input, weight scales, minus every shift.
    fc = graph.stages[-1]
    exponent = graph.input_frac_bits + sum(s.weight_frac_bits for s in graph.stages
                                           if s.weights is not None) - sum(graph.shifts)
    assert graph.accumulator_exponent(fc) == exponent
    np.testing.assert_array_equal(fc.bias, np.round(stages[-1].bias * 2.0 ** exponent))


@pytest.mark.parametrize("bits", [6, 8])
def test_chosen_shifts_are_the_smallest_that_fit_the_activation_width(bits):
    model = graphs.model(size_info=graphs.THREE_LAYERS)
    calibration = graphs.maps(80, seed=5)
    _, graph = graphs.graph(model, calibration=calibration, activation_bits=bits)
    values = ig.trace(graph, ig.quantize_input(calibration, graph))
    for stage, acc, out in values:
        if not stage.relu:
            continue
        assert out.max() <= 2 ** bits - 1, stage.name
        if stage.shift:  # one less would not fit
            assert np.maximum(acc, 0).max() >> (stage.shift - 1) > 2 ** bits - 1, stage.name


def test_given_shifts_are_used_and_named_when_wrong():
    model = graphs.model()
    stages, graph = graphs.graph(model, shifts=[3, 4, 8])
    assert graph.shifts == [3, 4, 8]
    assert [s.name for s in graph.shifted] == ["conv_1", "conv_ds_1_dw", "conv_ds_1_pw"]
    with pytest.raises(KwsError, match=r"--shifts: expected 3 values, one per convolution "
                                       r"\(conv_1 conv_ds_1_dw conv_ds_1_pw\), got 2"):
        ig.quantize(stages, 0, shifts=[3, 4])
    with pytest.raises(KwsError, match="--shifts must be between 0 and 31"):
        ig.quantize(stages, 0, shifts=[3, -1, 8])
    with pytest.raises(KwsError, match="--weight_bits must be between 2 and 16"):
        ig.quantize(stages, 0, weight_bits=1, shifts=[3, 4, 8])


def test_input_scale_is_chosen_by_agreement_with_the_float_model():
    model = graphs.model()
    stages = extract.float_stages(model, "ds_cnn_bf")
    calibration = graphs.maps(60, seed=6)
    calibration[:6, :, 0] = -247.0  # digital silence: coarse scales would fit it
    chosen, tried = ig.choose_input_frac_bits(stages, calibration)
    exponents = [f for f, _ in tried]
    assert exponents[0] == -3 and len(exponents) == ig.INPUT_FRAC_CANDIDATES  # 247 fits 2**-3
    best = max(agreement for _, agreement in tried)
    assert dict(tried)[chosen] == best and chosen > exponents[0]


def test_weight_exponents_rise_only_where_agreement_improves():
    model = graphs.model(size_info=graphs.THREE_LAYERS)
    stages = extract.float_stages(model, "ds_cnn_bf")
    calibration = graphs.maps(80, seed=12)
    reference = np.argmax(st.run_float(stages, calibration), axis=-1)
    fitting = ig.quantize(stages, 0, calibration=calibration)
    chosen, tried = ig.choose_weight_frac_bits(stages, calibration, 0)
    assert [name for name, _, _ in tried] == [s.name for s in stages if s.kind in st.LINEAR]
    assert all(bits == fitting.weight_frac_bits[name] + 1 for name, bits, _ in tried)
    assert set(chosen) <= {name for name, _, _ in tried}
    searched = ig.quantize(stages, 0, calibration=calibration, weight_frac_bits=chosen)
    for name, bits in searched.weight_frac_bits.items():
        assert bits == chosen.get(name, fitting.weight_frac_bits[name])
    agreement = [np.mean(ig.predict(graph, calibration) == reference)
                 for graph in (fitting, searched)]
    assert agreement[1] >= agreement[0] and (agreement[1] > agreement[0]) == bool(chosen)
    saturated = next((s for s in searched.stages if s.name in chosen), None)
    if saturated is not None:  # one more bit: the largest weights saturate
        assert saturated.weights.min() == -32 or saturated.weights.max() == 31


def test_values_beyond_32_bits_are_an_error():
    model = graphs.model()
    stages = extract.float_stages(model, "ds_cnn_bf")
    with pytest.raises(KwsError, match="fc1: its bias in accumulator units exceeds 32 bits"):
        ig.quantize(stages, 10, input_bits=16, weight_bits=16, shifts=[0, 0, 0])
    stages[-1] = dataclasses.replace(stages[-1], bias=np.zeros_like(stages[-1].bias))
    graph = ig.quantize(stages, 10, input_bits=16, weight_bits=16, shifts=[0, 0, 0])
    with pytest.raises(KwsError, match="conv_1: accumulators reach .* beyond the 32-bit"):
        ig.run(graph, np.full((2, *graphs.INPUT_SHAPE), 32767))


@pytest.mark.parametrize("architecture, size_info", [("dnn", [16, 16]), ("gru", [1, 8])])
def test_other_architectures_have_no_integer_graph(architecture, size_info):
    model = build_model(architecture, size_info, graphs.INPUT_SHAPE, 4)
    with pytest.raises(KwsError, match=f"is a {architecture} model: the integer graph supports "
                                       r"ds_cnn_bf \(and ds_cnn with --fold_biases\)"):
        extract.float_stages(model, architecture)


def test_ds_cnn_needs_fold_biases():
    model = graphs.model("ds_cnn")
    with pytest.raises(KwsError, match="add biases .* Pass --fold_biases"):
        extract.float_stages(model, "ds_cnn")
    stages = extract.float_stages(model, "ds_cnn", fold_biases=True)
    assert [s.kind for s in stages] == ["conv", "depthwise", "conv", "avg_pool", "fc"]
    assert all(s.bias is not None for s in stages if s.kind in st.LINEAR)
    # The average pool becomes a sum and a shift; the rest of 1/count goes into the FC.
    graph = ig.quantize(stages, 0, shifts=[4, 4, 4])
    pool = graph.stages[3]
    count = pool.in_shape[0] * pool.in_shape[1]
    assert pool.kind == st.SUM_POOL and 2 ** (pool.shift - 1) < count <= 2 ** pool.shift


def test_describe_names_scales_shifts_and_bias():
    _, graph = graphs.graph(graphs.model(), shifts=[3, 4, 8])
    text = "\n".join(ig.describe(graph))
    assert f"x 2**{graph.input_frac_bits}, rounded half to even, saturated to 6 bits" in text
    assert "shifts: 3 4 8" in text and "fc1 bias in accumulator units" in text


def test_post_training_rounding_uses_two_to_the_bits_levels_from_min():
    from kws_tf.quant import rounding

    weights = np.array([-1.0, -0.26, 0.0, 0.49, 1.0], np.float32)
    rounded = rounding.round_to_levels(weights, 2)  # levels -1, -0.5, 0, 0.5 (max is not one)
    np.testing.assert_allclose(rounded, [-1.0, -0.5, 0.0, 0.5, 0.5])
    assert len(np.unique(rounding.round_to_levels(
        np.random.default_rng(0).normal(size=1000).astype(np.float32), 3))) == 8
