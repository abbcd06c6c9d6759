"""The model zoo: shapes, parameter counts against the published graphs, flag checks, cells."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kws_tf  # noqa: F401
from kws_tf import models
from kws_tf.errors import KwsError
from kws_tf.models import cells
from tests.models import hello_edge_fixtures

SMALL = {
    "dnn": ([16, 8], (5, 4)),
    "cnn": ([3, 3, 2, 1, 1, 4, 2, 2, 2, 1, 5, 6], (9, 6)),
    "basic_lstm": ([7], (5, 4)),
    "lstm": ([3, 6], (5, 4)),
    "gru": ([2, 5], (5, 4)),
    "crnn": ([4, 3, 2, 2, 1, 2, 5, 6], (9, 6)),
    "ds_cnn": ([3, 8, 3, 3, 2, 2, 6, 3, 3, 2, 1, 5, 3, 3, 1, 1], (9, 6)),
    "ds_cnn_bf": ([3, 8, 3, 3, 2, 2, 6, 3, 3, 1, 1, 5, 3, 3, 1, 1], (9, 6)),
    "convmixer": ([8, 3, 3, 2, 3, 3, 4, 5, 5, 2, 12, 3, 3], (9, 6)),
}


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_registry_has_every_architecture():
    assert set(models.ARCHITECTURES) == set(SMALL) | {"nas"}  # nas: tests/models/test_nas_model.py


@pytest.mark.parametrize("architecture", sorted(SMALL))
def test_forward_pass_gives_logits_per_label(architecture):
    size_info, shape = SMALL[architecture]
    model = models.build_model(architecture, size_info, shape, 3)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    for training in (False, True):
        logits = model(x, training=training).numpy()
        assert logits.shape == (2, 3)
        assert np.isfinite(logits).all()
    assert model.input_shape == (None, *shape)


@pytest.mark.parametrize("architecture, bad, expected", [
    ("dnn", [], "expected 1 or more numbers"),
    ("cnn", [28, 10, 4, 1, 1, 30, 10, 4, 2, 1, 16], "expected 12 numbers"),
    ("basic_lstm", [118, 2], "expected 1 number"),
    ("lstm", [98], "expected 2 numbers"),
    ("gru", [1, 154, 3], "expected 2 numbers"),
    ("crnn", [48, 10, 4, 2, 2, 2, 60], "expected 8 numbers"),
    ("ds_cnn", [2, 48, 4, 4, 2, 2, 16], "expected 1 + 5*N numbers (N, then N groups of "
               "features, kernel_t, kernel_f, stride_t, stride_f), got 7"),
    ("ds_cnn", [3, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], "expected 1 + 5*N numbers"),
    ("ds_cnn_bf", [2, 48, 4, 4, 2, 2], "expected 1 + 5*N numbers"),
])
def test_wrong_model_size_info_length_names_the_layout(architecture, bad, expected):
    with pytest.raises(KwsError) as error:
        models.build_model(architecture, bad, (49, 10), 12)
    assert str(error.value).startswith(f"--model_size_info for {architecture}: ")
    assert expected in str(error.value)


@pytest.mark.parametrize("bad, expected", [
    ([144, 0, 144], "every number must be positive, got 144 0 144"),
    ([144, -3], "every number must be positive"),
    ([144, 1.5], "expected whole numbers"),
])
def test_non_positive_or_fractional_model_size_info(bad, expected):
    with pytest.raises(KwsError, match="--model_size_info for dnn: " + expected):
        models.build_model("dnn", bad, (25, 10), 12)


def test_valid_kernel_larger_than_input_is_a_flag_error():
    with pytest.raises(KwsError, match="--model_size_info for cnn: the conv1 kernel"):
        models.build_model("cnn", [28, 10, 4, 1, 1, 30, 10, 4, 2, 1, 16, 128], (5, 10), 12)


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(KwsError) as error:
        models.build_model("mobilenet", [1], (49, 10), 12)
    assert "--model_architecture 'mobilenet'" in str(error.value)
    for name in models.ARCHITECTURES:
        assert name in str(error.value)


@pytest.mark.parametrize("stem", sorted(hello_edge_fixtures.REFERENCE_DOC_PARAMETERS))
def test_parameter_counts_match_the_published_graph(fixtures_dir, stem):
    row = hello_edge_fixtures.table(fixtures_dir)[stem]
    model = models.build_model(row["architecture"], row["model_size_info"], row["input_shape"],
                               12)
    graph_def = hello_edge_fixtures.read_graph_def(fixtures_dir / "hello_edge" / f"{stem}.pb")
    trainable, statistics = hello_edge_fixtures.variable_sizes(graph_def)
    assert count(model.trainable_weights) == trainable
    assert count(model.non_trainable_weights) == statistics
    assert trainable == hello_edge_fixtures.REFERENCE_DOC_PARAMETERS[stem]


def test_ds_cnn_worked_example_of_the_reference():
    """Section 3.8: 2,396 trainable (BN beta included) + 224 moving statistics."""
    model = models.build_model("ds_cnn", [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], (49, 10), 12)
    assert count(model.trainable_weights) == 2396
    assert count(model.non_trainable_weights) == 224
    assert model.get_layer("conv_1").output_shape == (None, 25, 5, 48)
    assert model.get_layer("avg_pool").pool_size == (25, 5)


@pytest.mark.parametrize("labels", [4, 12])
def test_ds_cnn_bf_has_no_bias_but_the_fc_and_the_documented_size(labels):
    model = models.build_model("ds_cnn_bf", [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], (49, 10), labels)
    shapes = {w.name.split(":")[0]: tuple(w.shape) for w in model.weights}
    assert shapes == {"conv_1/kernel": (4, 4, 1, 48),
                      "conv_ds_1_dw/depthwise_kernel": (3, 3, 48, 1),
                      "conv_ds_1_pw/kernel": (1, 1, 48, 16),
                      "fc1/kernel": (16, labels), "fc1/bias": (labels,)}
    assert count(model.trainable_weights) == 4 * 4 * 48 + 3 * 3 * 48 + 48 * 16 + 17 * labels
    assert not model.non_trainable_weights
    assert model.get_layer("conv_1").output_shape == (None, 23, 4, 48)  # VALID
    assert model.get_layer("conv_ds_1_dw").output_shape == (None, 23, 4, 48)  # SAME
    assert model.get_layer("conv_ds_1_pw").output_shape == (None, 1, 1, 16)  # after the max pool


def test_ds_cnn_bf_pools_after_the_last_depthwise_only():
    model = models.build_model("ds_cnn_bf", SMALL["ds_cnn_bf"][0], (9, 6), 3)
    names = [layer.name for layer in model.layers]
    assert names.index("conv_ds_1_pw") < names.index("conv_ds_2_dw") < names.index("max_pool")
    assert names.index("max_pool") == names.index("conv_ds_2_dw_relu") + 1
    assert model.get_layer("conv_ds_1_pw").output_shape == (None, 4, 2, 6)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_ds_cnn_bf_is_positively_homogeneous_up_to_the_fc_bias():
    """Scaling every conv by c > 0 scales the FC input by c^3: no additive term before it."""
    model = models.build_model("ds_cnn_bf", [2, 8, 3, 3, 2, 2, 4, 3, 3, 1, 1], (9, 6), 3)
    features = keras.Model(model.input, model.get_layer("squeeze").output)
    x = np.random.default_rng(1).normal(size=(2, 9, 6)).astype(np.float32)
    before = features(x).numpy()
    for name in ("conv_1", "conv_ds_1_dw", "conv_ds_1_pw"):
        layer = model.get_layer(name)
        layer.set_weights([w * 2.0 for w in layer.get_weights()])
    np.testing.assert_allclose(features(x).numpy(), before * 8.0, rtol=1e-5, atol=1e-6)


def test_ds_cnn_and_cnn_batch_norm_settings():
    ds = models.build_model("ds_cnn", SMALL["ds_cnn"][0], (9, 6), 3)
    bn = ds.get_layer("conv_1_bn")
    assert (bn.center, bn.scale, bn.momentum, bn.epsilon) == (True, False, 0.96, 1e-3)
    assert ds.get_layer("conv_ds_1_dw").use_bias and ds.get_layer("conv_1").padding == "same"
    cnn = models.build_model("cnn", SMALL["cnn"][0], (9, 6), 3)
    for name in ("bn1", "bn2", "bn3"):
        bn = cnn.get_layer(name)
        assert (bn.center, bn.scale, bn.momentum, bn.epsilon) == (True, True, 0.99, 1e-3)
    assert cnn.get_layer("conv1").padding == "valid"


# --- The TF1 cells, against the TF1 equations written out in numpy --------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def run_cell(cell, x, weights):
    layer = keras.layers.RNN(cell)
    layer(x)
    layer.set_weights(weights)
    return layer(x).numpy()


def random_weights(rng, *shapes):
    return [rng.normal(scale=0.5, size=shape).astype(np.float32) for shape in shapes]


def test_basic_lstm_cell_is_tf1_basic_lstm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    kernel, bias = random_weights(rng, (5 + 6, 24), (24,))
    c = h = np.zeros((3, 6))
    for t in range(4):
        i, j, f, o = np.split(np.concatenate([x[:, t], h], 1) @ kernel + bias, 4, axis=1)
        c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
        h = np.tanh(c) * sigmoid(o)
    ours = run_cell(cells.BasicLSTMCell(6), x, [kernel, bias])
    np.testing.assert_allclose(ours, h, atol=1e-5)


def test_peephole_lstm_cell_is_tf1_lstm_with_peepholes_and_projection():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    kernel, bias, wf, wi, wo, projection = random_weights(
        rng, (5 + 2, 24), (24,), (6,), (6,), (6,), (6, 2))
    c, m = np.zeros((3, 6)), np.zeros((3, 2))
    for t in range(4):
        i, j, f, o = np.split(np.concatenate([x[:, t], m], 1) @ kernel + bias, 4, axis=1)
        c = sigmoid(f + 1.0 + wf * c) * c + sigmoid(i + wi * c) * np.tanh(j)
        m = (sigmoid(o + wo * c) * np.tanh(c)) @ projection
    ours = run_cell(cells.PeepholeLSTMCell(6, num_proj=2), x,
                    [kernel, bias, wf, wi, wo, projection])
    np.testing.assert_allclose(ours, m, atol=1e-5)


def test_gru_cell_is_tf1_gru_reset_first():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    gates_kernel, gates_bias, candidate_kernel, candidate_bias = random_weights(
        rng, (5 + 6, 12), (12,), (5 + 6, 6), (6,))
    h = np.zeros((3, 6))
    for t in range(4):
        r, u = np.split(sigmoid(np.concatenate([x[:, t], h], 1) @ gates_kernel + gates_bias), 2, 1)
        candidate = np.tanh(np.concatenate([x[:, t], r * h], 1) @ candidate_kernel
                            + candidate_bias)
        h = u * h + (1 - u) * candidate
    ours = run_cell(cells.GRUCell(6), x,
                    [gates_kernel, gates_bias, candidate_kernel, candidate_bias])
    np.testing.assert_allclose(ours, h, atol=1e-5)


def test_gru_gate_bias_starts_at_one_as_in_tf1():
    layer = keras.layers.RNN(cells.GRUCell(3))
    layer(np.zeros((1, 2, 4), np.float32))
    np.testing.assert_array_equal(layer.cell.gates_bias.numpy(), np.ones(6))


@pytest.mark.parametrize("cell", [cells.BasicLSTMCell(5, forget_bias=0.5),
                                  cells.PeepholeLSTMCell(5, num_proj=3),
                                  cells.GRUCell(4)], ids=lambda c: type(c).__name__)
def test_cell_get_config_round_trip(cell):
    config = cell.get_config()
    clone = type(cell).from_config(config)
    assert clone.get_config() == config
    revived = keras.layers.deserialize(keras.layers.serialize(cell))
    assert type(revived) is type(cell) and revived.get_config() == config


@pytest.mark.parametrize("architecture", ["basic_lstm", "lstm", "gru", "crnn"])
def test_rnn_models_rebuild_from_their_config(architecture):
    size_info, shape = SMALL[architecture]
    model = models.build_model(architecture, size_info, shape, 3)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(5).normal(size=(2, *shape)).astype(np.float32)
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())


def test_rnn_model_runs_inside_tf_function():
    model = models.build_model("lstm", SMALL["lstm"][0], SMALL["lstm"][1], 3)
    x = tf.zeros((4, *SMALL["lstm"][1]))
    assert tf.function(model)(x).shape == (4, 3)
