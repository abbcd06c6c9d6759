import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.commands import train as train_command
from kws_tf.train import checkpoints, loop
from tests.conftest import make_dataset

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("train") / "data", speakers=40)


def _flags(data_dir, work, steps="40", extra=()):
    return (["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
             "--train_dir", str(work / "train"), "--summaries_dir", str(work / "logs"),
             "--how_many_training_steps", steps, "--learning_rate", "0.01" + ",0.005" *
             steps.count(","), "--eval_step_interval", "20", "--save_step_interval", "10",
             "--batch_size", "20", "--json_out", str(work / "out.json")] + FEATURES
            + list(extra))


def _run(argv, capsys=None):
    try:
        return train_command.main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_training_learns_and_writes_hello_edge_files(data_dir, tmp_path):
    assert _run(_flags(data_dir, tmp_path, "40,20")) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    train_dir = tmp_path / "train"
    assert out["steps"] == 60 and out["start_step"] == 0
    assert out["best_validation_accuracy"] > 0.8 and out["test_accuracy"] > 0.8
    assert os.path.basename(out["best_checkpoint"]).startswith("ds_cnn_bf_")
    assert out["best_checkpoint"].endswith(".ckpt-%s" % out["best_checkpoint"].split("-")[-1])
    assert (train_dir / "ds_cnn_bf_labels.txt").read_text() == "_silence_\n_unknown_\nyes\nno"
    assert (train_dir / "ds_cnn_bf.ckpt-60.index").exists()
    assert not (train_dir / "ds_cnn_bf.ckpt-40.index").exists() or \
        not (train_dir / "ds_cnn_bf.ckpt-30.index").exists()  # keeps the last two
    sidecar = json.loads((train_dir / "ds_cnn_bf.ckpt-60.json").read_text())
    assert sidecar["input_shape"] == [25, 10] and sidecar["labels"][2:] == ["yes", "no"]
    state = json.loads((train_dir / checkpoints.STATE_FILE).read_text())
    assert state["best"] == out["best_checkpoint"]
    assert (tmp_path / "logs" / "train").is_dir() and (tmp_path / "logs" / "validation").is_dir()
    # Rerunning the finished command trains nothing more and reports the same test figure.
    assert _run(_flags(data_dir, tmp_path, "40,20")) == 0
    again = json.loads((tmp_path / "out.json").read_text())
    assert again["start_step"] == 60 and again["test_accuracy"] == out["test_accuracy"]


def test_learning_rate_schedule_is_piecewise_over_cumulative_steps():
    args = train_command.build_parser().parse_args(["--how_many_training_steps", "10,20,5",
                                           "--learning_rate", "0.1,0.01,0.001"])
    total, schedule = loop.learning_rate_schedule(*train_command.parse_schedule(args))
    assert total == 35
    rates = [float(schedule(step)) for step in (0, 9, 10, 29, 30, 34)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


@pytest.mark.parametrize("extra, message", [
    (["--learning_rate", "0.1,0.2"], "same number of values"),
    (["--how_many_training_steps", "ten"], "--how_many_training_steps"),
    (["--model_size_info", "2", "48"], "--model_size_info for ds_cnn_bf"),
    (["--eval_step_interval", "0"], "--eval_step_interval"),
    (["--train_dir", "/dev/null/x"], "cannot write"),
    (["--time_masks_number", "-1"], "--time_masks_number"),
])
def test_bad_flags_fail_before_training(data_dir, tmp_path, capsys, extra, message):
    assert _run(_flags(data_dir, tmp_path) + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "train" / checkpoints.STATE_FILE).exists()


def test_unknown_flag_is_an_error(capsys):
    assert _run(["--windo_stride_ms", "20"]) == 2
    assert "--windo_stride_ms" in capsys.readouterr().err


def test_train_dir_of_another_model_is_refused(data_dir, tmp_path, capsys):
    assert _run(_flags(data_dir, tmp_path, "10")) == 0
    capsys.readouterr()
    other = ["--model_size_info", "2", "32", "4", "4", "2", "2", "16", "3", "3", "1", "1"]
    assert _run(_flags(data_dir, tmp_path, "20", other)) == 2
    err = capsys.readouterr().err
    assert "model_size_info [2, 48" in err and "[2, 32" in err


def test_start_checkpoint_fine_tunes_hello_edges_published_model(fixtures_dir, tmp_path):
    from kws_tf.hello_edge_import import import_graph
    from kws_tf.models import checkpoint

    words = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
    data = make_dataset(tmp_path / "data", words=words + ("cat",), speakers=12)
    model, info = import_graph(str(fixtures_dir / "hello_edge" / "DS_CNN_S.pb"))
    checkpoint.save(model, str(tmp_path / "imported"), info)
    flags = ["--data_url=", "--data_dir", str(data), "--window_size_ms", "40",
             "--window_stride_ms", "20", "--dct_coefficient_count", "10",
             "--model_architecture", "ds_cnn", "--model_size_info"] + \
        [str(v) for v in info["model_size_info"]] + \
        ["--how_many_training_steps", "4", "--learning_rate", "0.0001", "--batch_size", "10",
         "--eval_step_interval", "4", "--train_dir", str(tmp_path / "ft"),
         "--summaries_dir", str(tmp_path / "logs"), "--json_out", str(tmp_path / "out.json"),
         "--start_checkpoint", str(tmp_path / "imported")]
    assert _run(flags) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["start_step"] == 0 and out["steps"] == 4
    reader = tf.train.load_checkpoint(out["latest_checkpoint"])
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith("model/")]
    tuned = np.concatenate([reader.get_tensor(n).ravel() for n in sorted(names)
                            if "moving" not in n and "OPTIMIZER" not in n])
    published = np.concatenate([v.numpy().ravel() for v in model.trainable_variables])
    # Four small steps from the published weights: close to them, not equal.
    assert tuned.size >= published.size
    assert 0 < np.abs(np.sort(tuned)[:published.size].sum() - np.sort(published).sum()) < 50
