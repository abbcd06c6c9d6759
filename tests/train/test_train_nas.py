"""train.py --model_architecture nas: nas-for-kws's published nets train, and tools reload them."""
import json

from kws_tf.models import checkpoint
from kws_tf.quant import restore
from tests.conftest import exit_code, make_dataset, train_tiny


def test_a_published_net_config_trains_and_reloads_from_its_sidecar(fixtures_dir, tmp_path,
                                                                   capsys):
    data_dir = make_dataset(tmp_path / "data", speakers=20)
    config = fixtures_dir / "nas_for_kws" / "pless_sweep_0" / "net.config"
    out = train_tiny(data_dir, tmp_path, 6, ["--model_architecture", "nas", "--net_config",
                                             config, "--eval_step_interval", "3"])
    info = checkpoint.read_info(out["latest_checkpoint"])
    assert info["model_architecture"] == "nas" and info["model_size_info"] == []
    assert len(info["net_config"]["blocks"]) == len(json.loads(config.read_text())["blocks"])
    # No --net_config needed later: the sidecar holds the network.
    model = restore.build_and_restore(out["latest_checkpoint"], info)
    assert model.output_shape == (None, 4)
    from kws_tf.commands import evaluate

    assert exit_code(evaluate.main, ["--checkpoint", tmp_path / "train", "--data_url=",
                                     "--data_dir", data_dir, "--splits", "testing"]) == 0
    # quant_test.py: nas-for-kws's post-training rounding row next to float (no integer graph
    # for nas); without --post_training_rounding it says why it cannot quantize.
    from kws_tf.commands import quant_test

    quant_json = tmp_path / "quant.json"
    assert exit_code(quant_test.main, ["--checkpoint", tmp_path / "train", "--data_url=",
                                       "--data_dir", data_dir, "--weight_bits", "4",
                                       "--post_training_rounding", "--json_out",
                                       quant_json]) == 0
    assert set(json.loads(quant_json.read_text())["accuracy"]) == {"float",
                                                                   "post-training rounding"}
    capsys.readouterr()
    assert exit_code(quant_test.main, ["--checkpoint", tmp_path / "train", "--data_url=",
                                       "--data_dir", data_dir]) == 2
    assert "the integer graph supports ds_cnn_bf" in capsys.readouterr().err


def test_nas_without_net_config_and_net_config_elsewhere_are_errors(tmp_path, capsys):
    from kws_tf.commands import train as train_command

    data_dir = make_dataset(tmp_path / "data", speakers=4)
    base = ["--data_url=", "--data_dir", data_dir, "--train_dir", tmp_path / "t"]
    assert exit_code(train_command.main, base + ["--model_architecture", "nas"]) == 2
    assert "needs --net_config" in capsys.readouterr().err
    assert exit_code(train_command.main, base + ["--net_config", "x.config"]) == 2
    assert "--net_config is for --model_architecture nas, not ds_cnn_bf" in \
        capsys.readouterr().err
