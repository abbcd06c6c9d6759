"""Hardware exports: the C reference agrees bit for bit with the numpy integer graph at every
stage; weight.h, examples and analysis say what the graph computes."""
import re
import subprocess

import numpy as np
import pytest

import kws_tf  # noqa: F401
from kws_tf.config import FeatureConfig
from kws_tf.data import pipeline
from kws_tf.export import hardware
from kws_tf.quant import analysis
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st
from tests.conftest import FIXTURES, make_dataset
from tests.quant import graphs

LABELS = ["_silence_", "_unknown_", 'say "hi"', "no"]
GRAPHS = {  # name: (architecture, model_size_info, labels)
    "reference layout": ("ds_cnn_bf", graphs.SMALL, 4),
    "three layers": ("ds_cnn_bf", graphs.THREE_LAYERS, 4),
    "folded ds_cnn": ("ds_cnn", graphs.SMALL, 4),
}


def _graph(name):
    architecture, size_info, labels = GRAPHS[name]
    return graphs.graph(graphs.model(architecture, size_info, labels=labels), architecture)


def _real_maps(tmp_path):
    """MFCC maps of real audio: the fixture clips when present, else tone clips."""
    config = FeatureConfig(window_size_ms=40, window_stride_ms=40,
                                    dct_coefficient_count=10)
    wavs = sorted(FIXTURES.glob("audio/*.wav"))
    if not wavs:
        wavs = sorted(make_dataset(tmp_path / "tones", speakers=3).glob("*/*.wav"))
    return np.stack([pipeline.clip_features(str(path), config) for path in wavs])


def _compile(folder, *flags):
    if hardware.host_compiler() is None:
        pytest.skip("no C compiler on this machine")
    return hardware.compile_driver(str(folder), flags)


def _run_c(binary, inputs):
    text = "\n".join(" ".join(map(str, x.reshape(-1))) for x in inputs)
    result = subprocess.run([binary], input=text, capture_output=True, text=True,
                            check=True)
    return result.stdout.splitlines()


def _export(graph, folder, inputs=None):
    inputs = np.zeros((0, *graph.input_shape), np.int64) if inputs is None else inputs
    return hardware.export(str(folder), graph, LABELS[:graph.label_count], "a test model",
                           inputs, [f"input {n}" for n in range(len(inputs))], "analysis\n",
                           FeatureConfig())


@pytest.mark.parametrize("name", list(GRAPHS))
def test_c_reference_is_bit_exact_at_every_stage(tmp_path, name):
    _, graph = _graph(name)
    _export(graph, tmp_path)
    binary = _compile(tmp_path, "-DKWS_TRACE=1")
    rng = np.random.default_rng(7)
    low, high = -2 ** (graph.input_bits - 1), 2 ** (graph.input_bits - 1)
    inputs = np.concatenate([
        rng.integers(low, high, (150, *graph.input_shape)),  # anything the input can hold
        ig.quantize_input(graphs.maps(150, seed=8), graph),  # MFCC-like
        ig.quantize_input(_real_maps(tmp_path), graph)])  # real audio
    lines = iter(_run_c(binary, inputs))
    for number, values in enumerate(_per_input(graph, inputs)):
        for stage, acc, out in values:
            for kind, expected in (("acc", acc), ("out", None if stage.kind == st.FC else out)):
                if expected is None:
                    continue
                got = next(lines).split()
                assert got[:2] == [stage.name, kind], (number, got[:2])
                np.testing.assert_array_equal(
                    np.array(got[2:], np.int64), _channel_major(expected),
                    err_msg=f"input {number}, {stage.name} {kind}")
        best = int(np.argmax(values[-1][2]))
        assert next(lines) == f"prediction {best} {LABELS[best]}"
    assert next(lines, None) is None


def _per_input(graph, inputs):
    for start in range(0, len(inputs), 64):
        values = ig.trace(graph, inputs[start:start + 64])
        for n in range(len(inputs[start:start + 64])):
            yield [(stage, None if acc is None else acc[n], out[n]) for stage, acc, out in values]


def _channel_major(values):
    """A map [h, w, c] in the examples' order: channel by channel, rows first."""
    return values.transpose(2, 0, 1).reshape(-1)


def test_narrow_activation_storage_gives_the_same_results(tmp_path):
    """With outputs that fit, int16 activations (-DKWS_ACT_T=int16_t) change nothing."""
    _, graph = _graph("reference layout")
    _export(graph, tmp_path)
    binary = _compile(tmp_path, "-DKWS_ACT_T=int16_t")
    inputs = ig.quantize_input(graphs.maps(100, seed=9), graph)
    lines = _run_c(binary, inputs)
    # Without KWS_TRACE only the logits come as accumulators: per input 4 maps, logits and
    # the prediction.
    assert len(lines) == 100 * 6 and all(" acc " not in line for line in lines
                                         if not line.startswith("fc1 "))
    predictions = [int(line.split()[1]) for line in lines if line.startswith("prediction")]
    np.testing.assert_array_equal(predictions, np.argmax(ig.run(graph, inputs), axis=-1))


def _array(header, name):
    body = re.search(rf"{name}\[[^\]]*\] = \{{(.*?)\}};", header, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return np.array([int(v) for v in body.replace(",", " ").split()])


def test_weight_header_holds_every_stage_in_its_documented_layout(tmp_path):
    _, graph = _graph("folded ds_cnn")
    header = hardware.weight_header(graph, LABELS, "a test model")
    conv, depthwise, pointwise, pool, fc = graph.stages
    np.testing.assert_array_equal(_array(header, "KWS_CONV_1_WEIGHTS"),
                                  conv.weights.transpose(3, 0, 1, 2).reshape(-1))
    np.testing.assert_array_equal(_array(header, "KWS_CONV_DS_1_DW_WEIGHTS"),
                                  depthwise.weights.reshape(-1))
    np.testing.assert_array_equal(_array(header, "KWS_FC1_WEIGHTS"), fc.weights.T.reshape(-1))
    np.testing.assert_array_equal(_array(header, "KWS_FC1_BIAS"), fc.bias)
    np.testing.assert_array_equal(_array(header, "KWS_CONV_1_BIAS"), conv.bias)
    assert "[out_channel][kernel_row (time)][kernel_column (frequency)][in_channel]" in header
    assert f"= [{conv.weights.shape[3]}][{conv.weights.shape[0]}]" in header
    assert f"#define KWS_SHIFTS {{{', '.join(map(str, graph.shifts))}}}" in header
    assert f"#define KWS_INPUT_FRAC_BITS {graph.input_frac_bits}" in header
    assert f"round(bias * 2**{graph.accumulator_exponent(fc)})" in header
    assert f"#define KWS_AVG_POOL_SHIFT {pool.shift}" in header
    assert r'"say \"hi\""' in header  # labels are C strings


def _example_maps(text):
    """{'<stage> <acc|out>' or 'input': values in file order} of an examples/N.txt."""
    maps, current = {}, None
    for line in text.splitlines():
        if line.startswith("#") or line.startswith("channel "):
            continue
        if line.startswith("prediction"):
            maps["prediction"] = int(line.split()[1])
        elif re.match(r"^[a-z_0-9]+ (acc|out) \d", line) or line.startswith("input "):
            current = "input" if line.startswith("input ") else " ".join(line.split()[:2])
            maps[current] = []
        else:
            maps[current] += [int(v) for v in line.split()]
    return maps


def test_examples_hold_the_input_and_every_stage_in_the_documented_order(tmp_path):
    _, graph = _graph("three layers")
    inputs = ig.quantize_input(graphs.maps(3, seed=10), graph)
    paths = _export(graph, tmp_path, inputs)
    assert [p for p in paths if "/examples/" in p] == [
        str(tmp_path / "examples" / f"{n}.txt") for n in range(3)]
    text = (tmp_path / "examples" / "1.txt").read_text()
    assert text.startswith("# input 1\n# Every map is printed channel by channel")
    maps = _example_maps(text)
    np.testing.assert_array_equal(maps.pop("input"), inputs[1].reshape(-1))
    values = ig.trace(graph, inputs[1:2])
    assert maps.pop("prediction") == int(np.argmax(values[-1][2]))
    expected = {}
    for stage, acc, out in values:
        if acc is not None:
            expected[f"{stage.name} acc"] = _channel_major(acc[0])
        if stage.kind != st.FC:
            expected[f"{stage.name} out"] = _channel_major(out[0])
    assert list(maps) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(maps[key], expected[key], err_msg=key)


def test_analysis_reports_the_exact_extremes_and_widths():
    stages, graph = _graph("reference layout")
    # Weight exponents as the search may leave them: one above the fitting one.
    graph = ig.quantize(stages, graph.input_frac_bits, shifts=graph.shifts, weight_frac_bits={
        name: bits + 1 for name, bits in graph.weight_frac_bits.items()})
    inputs = ig.quantize_input(graphs.maps(60, seed=11), graph)
    ranges = analysis.collect(graph, inputs, batch_size=16)
    values = ig.trace(graph, inputs)
    x = inputs[..., np.newaxis]
    for stage, acc, out in values:
        found = ranges[stage.name]
        assert (found.inputs.low, found.inputs.high) == (x.min(), x.max())
        assert (found.outputs.low, found.outputs.high) == (out.min(), out.max())
        if stage.kind in st.LINEAR:
            assert (found.accumulators.low, found.accumulators.high) == (acc.min(), acc.max())
            low, high = _products_by_brute_force(stage, x)
            assert (found.products.low, found.products.high) == (low, high)
            assert found.any_order >= np.abs(acc).max()
        x = out
    assert analysis.signed_bits(-32, 31) == 6 and analysis.signed_bits(-33, 0) == 7
    assert analysis.signed_bits(0, 32) == 7 and analysis.unsigned_bits(255) == 8
    labels = np.argmax(ig.run(graph, inputs), axis=-1)  # the graph's own answers: 100 %
    sweep = analysis.shift_sweep(stages, graph, inputs, labels)
    assert all(sweep[s.name][0] == 1.0 for s in graph.shifted)
    text = analysis.report(graph, ranges, sweep, 8, "60 test inputs")
    assert text.startswith("# Value ranges of the integer graph over 60 test inputs.")
    for stage in graph.shifted:
        line = [line for line in text.splitlines() if line.startswith(stage.name + " ")][-1]
        fits = ig.fitting_shift(ranges[stage.name].accumulators.high, 8)
        assert line.split()[1:3] == [str(stage.shift), str(fits)]
    assert "multiplier" in text and "adder; any order" in text


def _products_by_brute_force(stage, x):
    """Every input x weight product the stage computes (padding zeros included)."""
    if stage.kind == st.FC:
        products = x.reshape(len(x), -1)[:, :, None] * stage.weights[None]
        return products.min(), products.max()
    low, high = [], []
    for row, column, window in st.taps(stage, x):
        weights = stage.weights[row, column]
        products = (window[..., :, None] * weights if stage.kind == st.CONV
                    else window * weights)
        low.append(products.min())
        high.append(products.max())
    return min(low), max(high)
