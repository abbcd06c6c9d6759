"""tfmot QAT of nas models: the Q layers annotated by hand (kws_tf.quant.qat_nas), and
train.py --quantize through evaluate, quant_test.py, freeze.py and label_wav.py."""
import dataclasses
import json

import numpy as np
import pytest

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow_model_optimization as tfmot
from kws_tf.errors import KwsError
from kws_tf.export import tflite
from kws_tf.models import checkpoint, nas
from kws_tf.quant import restore
from kws_tf.models import nas_layers
from kws_tf.models import net_config
from kws_tf.nas import space
from kws_tf.quant import qat, qat_nas
from tests.conftest import exit_code, make_dataset, train_tiny

Q_LAYERS = tuple(qat_nas.KERNELS)
INPUT_SHAPE = (25, 10)  # tests.conftest.TINY_FEATURES' feature map


def _config(first_conv_bits=None, classifier_bits=None):
    """A tiny net (8 channels, two MBConv blocks, the second with its shortcut), num_bits
    None except where given."""
    config = space.proxyless(3, width_mult=0.1, n_cell_stages=(2,)).derive([1, 7])
    return dataclasses.replace(
        config, first_conv=dataclasses.replace(config.first_conv, num_bits=first_conv_bits),
        classifier=dataclasses.replace(config.classifier, num_bits=classifier_bits))


def _qat(config, bits):
    model = nas.model([], INPUT_SHAPE, 3, net_config=config)
    return model, qat.apply(model, "nas", qat.sidecar(*bits))


def _wrapped(qat_model):
    """{name: QuantizeWrapperV2} of the QAT model's layers."""
    return {layer.layer.name: layer for layer in qat_model.layers
            if isinstance(layer, tfmot.quantization.keras.QuantizeWrapperV2)}


def _weight_bits(wrapper):
    """The bit width of each weight quantizer tfmot built for the layer."""
    return [quantizer.num_bits for _, quantizer, _ in wrapper._weight_vars]


@pytest.mark.parametrize("bits", [(8, 8), (6, 8)])
def test_every_q_layer_gets_tfmot_weight_quantizers_with_its_own_num_bits(bits):
    float_model, qat_model = _qat(_config(first_conv_bits=4, classifier_bits=3), bits)
    wrapped = _wrapped(qat_model)
    q_names = {layer.name for layer in float_model.layers if isinstance(layer, Q_LAYERS)}
    assert len(q_names) == 9 and q_names <= set(wrapped)
    expected = {name: bits[0] for name in q_names} | {"first_conv": 4, "classifier": 3}
    assert {name: _weight_bits(wrapped[name]) for name in q_names} == \
        {name: [width] for name, width in expected.items()}
    # tfmot's quantizer replaces the layer's own: never quantised twice.
    assert all(wrapped[name].layer.num_bits is None for name in q_names)
    assert float_model.get_layer("first_conv").num_bits == 4  # the float model keeps its own
    # No fake-quant between a conv and its batch norm, nor between that and its ReLU6 (the
    # converter folds them); block outputs, the pool and the logits are quantized.
    outputs = {name: [q.num_bits for q in layer.quantize_config.get_output_quantizers(
        layer.layer)] for name, layer in wrapped.items()}
    assert outputs["block0_expand"] == outputs["block0_expand_bn"] == [] == outputs["first_conv"]
    assert outputs["block0_expand_act"] == outputs["block1_add"] == [bits[1]]
    assert outputs["block1_project_bn"] == outputs["classifier"] == [bits[1]]


def test_the_float_weights_are_copied_exactly_and_come_back():
    config = _config()
    float_model, qat_model = _qat(config, (8, 8))
    values = {variable.name: variable.numpy() for variable in qat_model.weights}
    for variable in float_model.weights:
        np.testing.assert_array_equal(values[variable.name], variable.numpy())
    again = qat.float_weights(qat_model, nas.model([], INPUT_SHAPE, 3, net_config=config))
    for a, b in zip(again.get_weights(), float_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_int8_tflite_folds_batch_norm_into_the_convolutions():
    _, qat_model = _qat(_config(first_conv_bits=6), (8, 8))
    ops = tflite.describe(tflite.convert(qat_model, int8=True))["ops"]
    assert ops["CONV_2D"] == 6 and ops["DEPTHWISE_CONV_2D"] == 2
    assert not {"MUL", "DEQUANTIZE", "QUANTIZE"} & set(ops)


def test_a_num_bits_tfmot_cannot_take_is_a_one_line_error():
    with pytest.raises(KwsError, match="^--net_config: first_conv has num_bits 1; tfmot QAT "
                                       r"\(--quantize\) takes 2 to 8$"):
        _qat(_config(first_conv_bits=1), (8, 8))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("qat_nas") / "data", speakers=20)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "net.config"
    net_config.save(_config(), path)
    return path


def _nas(config_path):
    return ["--model_architecture", "nas", "--net_config", config_path,
            "--eval_step_interval", "3", "--save_step_interval", "3"]


@pytest.mark.slow
def test_a_quantize_run_resumes_and_every_tool_takes_its_checkpoint(data_dir, config_path,
                                                                    tmp_path, capsys):
    train_tiny(data_dir, tmp_path, 3, _nas(config_path) + ["--quantize"])
    resumed = train_tiny(data_dir, tmp_path, 6, _nas(config_path) + ["--quantize"])
    assert resumed["start_step"] == 3
    info = checkpoint.read_info(resumed["best_checkpoint"])
    assert info["quantize"] == qat.sidecar(8, 8) and info["model_architecture"] == "nas"
    assert set(_wrapped(restore.build_and_restore(resumed["best_checkpoint"], info))) >= \
        {"first_conv", "block0_dw", "classifier"}
    train_dir = tmp_path / "train"
    from kws_tf.commands import evaluate

    assert exit_code(evaluate.main, ["--checkpoint", train_dir, "--data_url=", "--data_dir",
                                     data_dir, "--splits", "testing"]) == 0
    from kws_tf.commands import quant_test

    quant_json = tmp_path / "quant.json"
    assert exit_code(quant_test.main, ["--checkpoint", train_dir, "--data_url=", "--data_dir",
                                       data_dir, "--post_training_rounding", "--json_out",
                                       quant_json]) == 0
    rows = json.loads(quant_json.read_text())["accuracy"]
    assert set(rows) == {"float", "QAT fake-quant", "post-training rounding"}
    assert rows["QAT fake-quant"]["testing"] == pytest.approx(resumed["test_accuracy"])
    from kws_tf.commands import freeze
    from kws_tf.commands.label_wav import main as label_wav

    wav = next((data_dir / "yes").glob("*.wav"))
    for name, extra in (("nas.pb", []), ("nas_int8.tflite", ["--quantize", "int8"])):
        output = tmp_path / name
        assert exit_code(freeze.main, ["--checkpoint", train_dir, "--output_file", output]
                         + extra) == 0
        capsys.readouterr()
        assert exit_code(label_wav, ["--graph", output, "--wav", wav]) == 0
        assert "score" in capsys.readouterr().out
    description = tflite.describe((tmp_path / "nas_int8.tflite").read_bytes())
    assert description["input"]["dtype"] == "int8" and "MUL" not in description["ops"]


@pytest.mark.slow
def test_qat_bits_fine_tunes_a_float_train_dir_with_6_bit_weights(data_dir, config_path,
                                                                 tmp_path, capsys):
    train_tiny(data_dir, tmp_path / "float", 3, _nas(config_path))
    capsys.readouterr()
    out = train_tiny(data_dir, tmp_path / "qat", 3, _nas(config_path) + [
        "--qat_bits", "6,8", "--start_checkpoint", tmp_path / "float" / "train"])
    assert "tfmot QAT: weights 6 bits (9 tensors); activations 8 bits" in capsys.readouterr().out
    info = checkpoint.read_info(out["latest_checkpoint"])
    assert info["quantize"] == qat.sidecar(6, 8)
    wrapped = _wrapped(restore.build_and_restore(out["latest_checkpoint"], info))
    assert {tuple(_weight_bits(layer)) for layer in wrapped.values()
            if isinstance(layer.layer, Q_LAYERS)} == {(6,)}


def test_nas_layers_are_the_q_layers_qat_nas_knows():
    """A new Q layer class in kws_tf.models.nas_layers must get its kernel attribute in KERNELS."""
    q_classes = {value for value in vars(nas_layers).values()
                 if isinstance(value, type) and value.__name__.startswith("Q")}
    assert q_classes == set(Q_LAYERS)
