"""A keyword no data set has, end to end: synthesise hey_kiwi, train, freeze, label a clip
(docs/synthetic_data.md's walkthrough, tiny)."""
import importlib.util
import json
import pathlib

import pytest

from kws_tf.commands import freeze, label_wav, train
from kws_tf.commands import synthetic as synthetic_command
from tests.conftest import exit_code

REPO = pathlib.Path(__file__).resolve().parents[2]
REAL_DEV = REPO / ".." / "shared" / "fixtures" / "real_dev"
FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


@pytest.mark.slow
def test_hey_kiwi_synthesised_trained_frozen_and_labelled(tmp_path):
    data = tmp_path / "data"
    assert exit_code(synthetic_command.main, [
        "--output_dir", data, "--words", "hey_kiwi", "--unknown_words", "hello,window,coffee",
        "--clips_per_word", 12, "--unknown_clips_per_word", 6, "--noise_files", 1]) == 0
    assert sorted(p.name for p in data.iterdir()) == [
        "_background_noise_", "coffee", "hello", "hey_kiwi", "window"]
    assert exit_code(train.main, [
        "--data_url=", "--data_dir", data, "--wanted_words", "hey_kiwi",
        "--validation_percentage", 30, "--testing_percentage", 20,
        "--unknown_percentage", 100, "--how_many_training_steps", 10,
        "--learning_rate", 0.01, "--batch_size", 10, "--eval_step_interval", 5,
        "--save_step_interval", 5, "--model_architecture", "ds_cnn",
        "--model_size_info", 1, 8, 10, 4, 2, 2, "--train_dir", tmp_path / "train",
        "--summaries_dir", tmp_path / "logs", *FEATURES,
        "--json_out", tmp_path / "train.json"]) == 0
    pb = tmp_path / "hey_kiwi.pb"
    assert exit_code(freeze.main, ["--checkpoint", tmp_path / "train",
                                   "--output_file", pb]) == 0
    wav = sorted((data / "hey_kiwi").glob("*.wav"))[0]
    assert exit_code(label_wav.main, ["--graph", pb, "--wav", wav, "--how_many_labels", 3,
                                      "--json_out", tmp_path / "label.json"]) == 0
    top = json.loads((tmp_path / "label.json").read_text())["results"][0]["top"]
    assert {entry["label"] for entry in top} == {"_silence_", "_unknown_", "hey_kiwi"}
    # The transfer bench scores the checkpoint on real recordings: none says hey kiwi.
    if not REAL_DEV.is_dir():
        pytest.skip("../shared/fixtures/real_dev is not present (a user's clone)")
    transfer = _transfer_bench()
    assert exit_code(transfer.main, ["--real_dir", REAL_DEV, "--checkpoint", tmp_path / "train",
                                     "--json_out", tmp_path / "transfer.json"]) == 0
    scores = json.loads((tmp_path / "transfer.json").read_text())
    assert scores["keywords"]["count"] == 0 and scores["unknown"]["count"] == 306
    assert 0 <= scores["unknown"]["correct"] <= 306


def _transfer_bench():
    spec = importlib.util.spec_from_file_location("transfer", REPO / "bench" / "transfer.py")
    transfer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(transfer)
    return transfer


@pytest.mark.parametrize("flag,seeds", [("--train_seeds", "0,x"), ("--train_seeds", "1,1"),
                                        ("--train_seeds", ","), ("--teacher_seeds", "1,y"),
                                        ("--teacher_seeds", "2,2"), ("--train_seeds", "0,2")])
def test_transfer_bench_names_bad_seeds(tmp_path, capsys, flag, seeds):
    # Teachers 1-3 first: a train seed among them (0,2) is refused too; a later flag wins.
    assert exit_code(_transfer_bench().main, ["--real_dir", tmp_path, "--teacher_seeds", "1,2,3",
                                              flag, seeds, "--work_dir", tmp_path / "work"]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def _run_scores(keywords, unknown, go):
    """`score`'s figures of one run on a set of 16 keyword and 40 unknown clips."""
    def part(correct, count):
        return {"correct": correct, "count": count, "accuracy": correct / count}
    return {"keywords": part(keywords, 16), "unknown": part(unknown, 40),
            "all": part(keywords + unknown, 56),
            "balanced": (keywords / 16 + unknown / 40) / 2,
            "per_word": {"go": [go, 8], "no": [keywords - go, 8], "bed": [unknown, 40]}}


def test_transfer_bench_pools_train_seeds():
    """Several seeds' runs add up to one set of counts whose balanced accuracy is their mean."""
    transfer = _transfer_bench()
    runs = [_run_scores(10, 30, 3), _run_scores(12, 22, 5), _run_scores(9, 35, 1)]
    pooled = transfer._pooled(runs)
    assert pooled["keywords"]["correct"] == 31 and pooled["keywords"]["count"] == 48
    assert pooled["unknown"]["correct"] == 87 and pooled["all"]["count"] == 168
    assert pooled["per_word"] == {"go": [9, 24], "no": [22, 24], "bed": [87, 120]}
    assert pooled["balanced"] == pytest.approx(sum(r["balanced"] for r in runs) / 3)
    line = transfer._summary(pooled, ["go", "no"], "mean balanced")
    assert "keywords 31/48 (64.6 %)" in line and "go 9/24 no 22/24" in line
    assert "mean balanced" in line
