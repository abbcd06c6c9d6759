"""The training-time integer simulation against the numpy integer graph: two implementations
of the same arithmetic must agree bit for bit."""
import numpy as np
import pytest
import tensorflow as tf

from kws_tf.config import DataConfig, FeatureConfig
from kws_tf import models
from kws_tf.errors import KwsError
from kws_tf.quant import equalize, extract, integer_graph, integer_sim


@pytest.mark.parametrize("size_info, shifts", [
    ([2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], [3, 4, 8]),
    ([3, 12, 4, 4, 2, 2, 8, 3, 3, 1, 1, 6, 3, 3, 2, 2], [2, 3, 5, 4, 6]),
])
def test_simulation_equals_the_integer_graph(size_info, shifts):
    tf.keras.utils.set_random_seed(1)
    model = models.build_model("ds_cnn_bf", size_info, (49, 10), 5)
    dense = model.get_layer("fc1")
    dense.bias.assign(np.random.default_rng(2).normal(0, 0.5, dense.bias.shape))
    inputs = np.random.default_rng(3).normal(0, 8, (64, 49, 10)).astype(np.float32)
    inputs[:4] *= 20  # saturates
    sim = integer_sim.IntegerSimulation(model, input_bits=6, weight_bits=6, input_frac_bits=1,
                                        shifts=shifts)
    ours, _ = sim.fc_accumulators(inputs)
    graph = integer_graph.quantize(extract.float_stages(model, "ds_cnn_bf"), 1, 6, 6,
                                   shifts=shifts)
    theirs = integer_graph.run(graph, integer_graph.quantize_input(inputs, graph))
    assert np.abs(theirs).max() > 0
    np.testing.assert_array_equal(ours.numpy(), theirs.astype(np.float64))


def test_gradients_pass_straight_through_to_every_weight():
    model = models.build_model("ds_cnn_bf", [2, 8, 4, 4, 2, 2, 8, 3, 3, 1, 1], (25, 10), 4)
    sim = integer_sim.IntegerSimulation(model, 6, 6, 2, [0, 1, 2])
    inputs = np.random.default_rng(0).normal(0, 4, (16, 25, 10)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(sim(inputs) ** 2)
    gradients = tape.gradient(loss, sim.trainable_variables)
    assert len(gradients) == len(model.trainable_variables) == 5  # 4 kernels, FC bias
    assert all(g is not None and np.any(g.numpy() != 0) for g in gradients)


def test_only_ds_cnn_bf_and_matching_shift_count():
    model = models.build_model("ds_cnn_bf", [2, 8, 4, 4, 2, 2, 8, 3, 3, 1, 1], (25, 10), 4)
    with pytest.raises(KwsError, match="expected 3 values"):
        integer_sim.IntegerSimulation(model, 6, 6, 2, [1, 2])
    with pytest.raises(KwsError, match="needs --model_architecture ds_cnn_bf, not ds_cnn"):
        integer_sim.apply(model, "ds_cnn", integer_sim.sidecar(6, 6, 8, 2, [1, 2, 3]))


def test_train_py_quantize_integer_fine_tunes_and_validates_with_the_integer_graph(tmp_path):
    from kws_tf.data import pipeline, speech_commands
    from kws_tf.models import checkpoint
    from kws_tf.quant import restore
    from kws_tf.commands import train as train_command
    from tests.conftest import make_dataset

    data_dir = make_dataset(tmp_path / "data", speakers=40)
    features = ["--window_size_ms", "40", "--window_stride_ms", "40",
                "--dct_coefficient_count", "10"]

    def train(work, steps, extra=()):
        assert train_command.main(["--data_url=", "--data_dir", str(data_dir), "--wanted_words",
                          "yes,no", "--train_dir", str(work), "--summaries_dir",
                          str(work / "logs"), "--how_many_training_steps", str(steps),
                          "--learning_rate", "0.005", "--eval_step_interval", "10",
                          "--batch_size", "20", "--json_out", str(work / "out.json")]
                         + features + list(extra)) == 0
        import json
        return json.loads((work / "out.json").read_text())

    float_run = train(tmp_path / "float", 40)
    out = train(tmp_path / "integer", 20, ["--quantize", "integer", "--start_checkpoint",
                                           float_run["best_checkpoint"]])
    info = checkpoint.read_info(out["best_checkpoint"])
    spec = info["quantize"]
    assert spec["mode"] == "integer" and len(spec["shifts"]) == 3
    assert isinstance(spec["input_frac_bits"], int)
    # The checkpoint is a plain ds_cnn_bf; the numpy integer graph with the recorded scale
    # and shifts scores on validation exactly what training measured through the simulation.
    model = restore.build_and_restore(out["best_checkpoint"], info)
    graph = integer_graph.quantize(extract.float_stages(model, "ds_cnn_bf"),
                                   spec["input_frac_bits"], 6, 6, spec["shifts"])
    config = FeatureConfig(window_size_ms=40, window_stride_ms=40, dct_coefficient_count=10)
    index = speech_commands.build_index(DataConfig(
        data_dir=str(data_dir), wanted_words=("yes", "no")))
    validation = pipeline.load_splits(index, config, ("validation",))["validation"]
    maps, labels = zip(*[(x.numpy(), y.numpy()) for x, y in validation.eval_dataset(100)])
    predicted = integer_graph.predict(graph, np.concatenate(maps))
    accuracy = float(np.mean(predicted == np.concatenate(labels)))
    assert accuracy == pytest.approx(out["best_validation_accuracy"])
    assert accuracy > 0.8


def test_choose_equalizes_the_weights_where_the_integer_graph_agrees_more():
    """A channel scaled up 1000x in conv_1 and down in the depthwise conv is the same float
    model, but rounding per layer loses the other channels: choose equalizes the model in
    place (same logits); an untouched model's equalization is kept only if it agrees more."""
    from tests.quant import graphs

    model = graphs.model(labels=4)
    conv, depthwise = model.get_layer("conv_1"), model.get_layer("conv_ds_1_dw")
    factor = np.ones(conv.kernel.shape[-1], np.float32)
    factor[0] = 1000.0
    conv.kernel.assign(conv.kernel * factor)
    depthwise.depthwise_kernel.assign(depthwise.depthwise_kernel / factor[:, np.newaxis])
    maps = graphs.maps(300, seed=1)
    before = model.predict(maps, verbose=0)
    spec = integer_sim.sidecar(6, 6, 8, None, None)
    chosen, equalized = integer_sim.choose(model, spec, maps)
    assert equalized and len(chosen["shifts"]) == 3
    np.testing.assert_allclose(model.predict(maps, verbose=0), before, rtol=1e-4,
                               atol=1e-5 * np.abs(before).max())
    stages = extract.float_stages(model, "ds_cnn_bf")
    np.testing.assert_allclose(equalize._out_ranges(stages[0]), equalize._in_ranges(stages[1]),
                               rtol=1e-4)
    # The chosen spec is what the integer graph picks for the equalized weights.
    assert integer_sim.choose(model, spec, maps) == (chosen, False)
