import json
import shutil

import pytest

from kws_tf.commands import evaluate
from tests.conftest import exit_code, make_dataset, train_tiny

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny ds_cnn_bf trained by train.py on tones: (data_dir, train_dir, train.py's figures)."""
    work = tmp_path_factory.mktemp("evaluate")
    data_dir = make_dataset(work / "data", speakers=40)
    return data_dir, work / "train", train_tiny(data_dir, work)


def _run(argv):
    return exit_code(evaluate.main, argv)


def test_train_dir_gives_the_best_checkpoints_test_accuracy(trained, tmp_path, capsys):
    data_dir, train_dir, figures = trained
    out = tmp_path / "eval.json"
    assert _run(["--checkpoint", str(train_dir), "--data_url=", "--data_dir", str(data_dir),
                 "--json_out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["checkpoint"] == figures["best_checkpoint"]
    assert set(result["splits"]) == {"training", "validation", "testing"}
    assert result["splits"]["testing"]["accuracy"] == pytest.approx(figures["test_accuracy"])
    assert result["splits"]["testing"]["count"] == figures["test_count"]
    assert result["splits"]["validation"]["accuracy"] == pytest.approx(
        figures["best_validation_accuracy"])
    printed = capsys.readouterr().out
    assert "Training accuracy = " in printed and "Test accuracy = " in printed
    assert "_unknown_" in printed  # confusion rows are labelled


def test_moved_train_dir_and_a_latest_prefix_are_found(trained, tmp_path):
    data_dir, train_dir, figures = trained
    moved = tmp_path / "moved"
    shutil.copytree(train_dir, moved)
    out = tmp_path / "eval.json"
    assert _run(["--checkpoint", str(moved), "--data_url=", "--data_dir", str(data_dir),
                 "--splits", "testing", "--json_out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["checkpoint"].startswith(str(moved))
    assert result["splits"]["testing"]["accuracy"] == pytest.approx(figures["test_accuracy"])
    assert _run(["--checkpoint", str(train_dir / "ds_cnn_bf.ckpt-40"), "--data_url=",
                 "--data_dir", str(data_dir), "--splits", "validation"]) == 0


@pytest.mark.parametrize("extra, message", [
    (["--model_architecture", "ds_cnn"], "--model_architecture ds_cnn does not match"),
    (["--model_size_info", "1", "8", "3", "3", "1", "1"], "--model_size_info 1 8 3 3 1 1"),
    (["--dct_coefficient_count", "40"], "--dct_coefficient_count 40 does not match"),
    (["--wanted_words", "yes,up"], "--wanted_words yes,up does not match"),
    (["--splits", "train"], "--splits 'train'"),
    (["--no_such_flag"], "unrecognized arguments: --no_such_flag"),
])
def test_flags_that_disagree_with_the_checkpoint_are_one_line_errors(trained, capsys, extra,
                                                                     message):
    data_dir, train_dir, _ = trained
    assert _run(["--checkpoint", str(train_dir), "--data_url=", "--data_dir", str(data_dir)]
                + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_missing_checkpoint_and_folder_without_state_are_named(tmp_path, capsys):
    assert _run(["--checkpoint", str(tmp_path / "nope.ckpt-1")]) == 2
    assert "nope.ckpt-1.index is missing" in capsys.readouterr().err
    assert _run(["--checkpoint", str(tmp_path)]) == 2
    assert "without checkpoint_state.json" in capsys.readouterr().err


def test_checkpoint_of_another_model_is_refused(trained, tmp_path, capsys):
    data_dir, train_dir, figures = trained
    prefix = figures["best_checkpoint"]
    copy = tmp_path / "other.ckpt-1"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, str(copy) + suffix)
    sidecar = json.loads(open(prefix + ".json").read())
    sidecar["model_size_info"] = [1, 8, 3, 3, 1, 1]
    (tmp_path / "other.ckpt-1.json").write_text(json.dumps(sidecar))
    assert _run(["--checkpoint", str(copy), "--data_url=", "--data_dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.ckpt-1: the checkpoint does not match the model" in err[0]
