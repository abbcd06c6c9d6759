import json

import numpy as np
import pytest

from kws_tf.models import checkpoint
from kws_tf.quant import restore
from kws_tf.quant import qat
from kws_tf.commands import train as train_command
from tests.conftest import make_dataset

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]
DS_CNN = ["--model_architecture", "ds_cnn", "--model_size_info", "2", "16", "10", "4", "2",
          "2", "16", "3", "3", "1", "1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("qat") / "data", speakers=40)


def _train(data_dir, work, steps, extra=()):
    argv = ["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
            "--train_dir", str(work), "--summaries_dir", str(work / "logs"),
            "--how_many_training_steps", str(steps), "--learning_rate", "0.01",
            "--eval_step_interval", "10", "--save_step_interval", "10", "--batch_size", "20",
            "--json_out", str(work / "out.json")] + FEATURES + list(extra)
    try:
        code = train_command.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, (json.loads((work / "out.json").read_text()) if code == 0 else None)


@pytest.fixture(scope="module")
def float_run(data_dir, tmp_path_factory):
    """The default ds_cnn_bf, trained in float."""
    code, out = _train(data_dir, tmp_path_factory.mktemp("float"), 40)
    assert code == 0 and out["test_accuracy"] > 0.8
    return out


def test_qat_fine_tunes_a_float_checkpoint_and_reloads(data_dir, float_run, tmp_path):
    code, out = _train(data_dir, tmp_path, 20, ["--quantize", "--start_checkpoint",
                                                float_run["best_checkpoint"]])
    assert code == 0 and out["test_accuracy"] > 0.8
    prefix = out["best_checkpoint"]
    info = checkpoint.read_info(prefix)
    assert info["quantize"] == {"mode": "tfmot", "weight_bits": 8, "activation_bits": 8}
    model = restore.build_and_restore(prefix, info)
    assert any("quant" in layer.name for layer in model.layers)
    # Reloaded, it gives train.py's test accuracy again: every QAT variable was restored.
    features = np.random.default_rng(0).normal(0, 10, (8, 25, 10)).astype(np.float32)
    again = restore.build_and_restore(prefix, info)
    np.testing.assert_array_equal(model(features).numpy(), again(features).numpy())
    # quant_test.py shows the fake-quant row next to float and the integer graph, the latter
    # built from the QAT model's float weights.
    from kws_tf.commands import quant_test

    assert quant_test.main(["--checkpoint", prefix, "--data_url=", "--data_dir", str(data_dir),
                            "--json_out", str(tmp_path / "quant.json")]) == 0
    rows = json.loads((tmp_path / "quant.json").read_text())["accuracy"]
    assert set(rows) == {"float", "QAT fake-quant", "integer"}
    assert rows["QAT fake-quant"]["testing"] == pytest.approx(out["test_accuracy"])


def test_qat_bits_gives_other_widths_and_wraps_batch_norm_models(data_dir, tmp_path):
    code, out = _train(data_dir, tmp_path, 10, DS_CNN + ["--qat_bits", "6,8"])
    assert code == 0
    info = checkpoint.read_info(out["latest_checkpoint"])
    assert info["quantize"] == {"mode": "tfmot", "weight_bits": 6, "activation_bits": 8}


def test_resuming_a_float_run_with_quantize_is_refused(data_dir, float_run, tmp_path, capsys):
    train_dir = float_run["train_dir"]
    code, _ = _train(data_dir, tmp_path / "x", 60, ["--quantize", "--train_dir", train_dir])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quantize None" in err[0] and "tfmot" in err[0]


@pytest.mark.parametrize("extra, message", [
    (["--qat_bits", "9,8"], "--qat_bits 9,8: widths must be between 2 and 8"),
    (["--qat_bits", "6"], "--qat_bits '6'"),
    (["--quantize", "--model_architecture", "gru", "--model_size_info", "1", "8"],
     "tfmot cannot quantize gru"),
    (["--quantize", "integer"] + DS_CNN, "needs --model_architecture ds_cnn_bf, not ds_cnn"),
    (["--quantize", "integer", "--qat_bits", "6,8"], "--qat_bits is for --quantize tfmot"),
    (["--quantize", "integer", "--weight_bits", "1"], "--weight_bits must be between 2"),
])
def test_bad_qat_flags_fail_before_training(data_dir, tmp_path, capsys, extra, message):
    code, _ = _train(data_dir, tmp_path, 10, extra)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_parse_bits():
    assert qat.parse_bits("8,8") == (8, 8) and qat.parse_bits("6,7") == (6, 7)
