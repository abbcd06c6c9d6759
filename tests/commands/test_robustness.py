"""python -m kws_tf.robustness on a curriculum-trained ds_cnn_bf: checkpoint, integer graph,
.pb and int8 TFLite; its clean column against evaluate's and quant_test's accuracies."""
import json

import numpy as np
import pytest

from kws_tf.commands import evaluate, freeze, quant_test, robustness, train
from kws_tf.data.wav import write_wav
from tests.conftest import exit_code, make_dataset

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    data_dir = make_dataset(root / "data", speakers=30)
    unseen = root / "unseen_noise"
    unseen.mkdir()
    rng = np.random.default_rng(5)
    write_wav(unseen / "rumble.wav", np.cumsum(rng.uniform(-0.01, 0.01, 40000)), 16000)
    assert train.main(["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
                       "--train_dir", str(root / "train"), "--summaries_dir", str(root / "l"),
                       "--how_many_training_steps", "24", "--learning_rate", "0.01",
                       "--eval_step_interval", "4", "--batch_size", "16",
                       "--curriculum", "snr", "--curriculum_patience", "1",
                       "--rir_bank_size", "3"] + FEATURES) == 0
    for name, extra in (("model.pb", []),
                        ("model.tflite", ["--quantize", "int8", "--data_url=", "--data_dir",
                                          str(data_dir)])):
        assert freeze.main(["--checkpoint", str(root / "train"), "--output_file",
                            str(root / name)] + extra) == 0
    return root, data_dir, unseen


def _report(trained, source, extra=()):
    root, data_dir, unseen = trained
    out = root / f"{source[-1].replace('/', '_')}.json"
    assert robustness.main(list(source) + [
        "--data_url=", "--data_dir", str(data_dir), "--test_noise_dir", str(unseen),
        "--snr_db", "clean,10,-10", "--rir_bank_size", "2", "--json_out", str(out)]
        + list(extra)) == 0
    return json.loads(out.read_text())


def test_report_has_every_noise_snr_and_room_and_its_clean_column_is_evaluates(trained):
    root, data_dir, _ = trained
    report = _report(trained, ["--checkpoint", str(root / "train")],
                     ["--plot_out", str(root / "plot.png")])
    assert report["snr_db"] == ["clean", 10.0, -10.0]
    names = [(row["noise"], row["held_out"], row["reverb"]) for row in report["rows"]]
    assert ("white", False, False) in names and ("rumble", True, True) in names
    assert len(names) == 2 * 2 + 4  # two noises, two room settings, four mean rows
    assert (root / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert evaluate.main(["--checkpoint", str(root / "train"), "--data_url=", "--data_dir",
                          str(data_dir), "--splits", "testing", "--json_out",
                          str(root / "evaluate.json")]) == 0
    clean = json.loads((root / "evaluate.json").read_text())["splits"]["testing"]["accuracy"]
    dry = [row for row in report["rows"] if not row["reverb"]]
    assert all(row["accuracy"][0] == pytest.approx(clean) for row in dry)
    assert all(0 <= value <= 1 for row in report["rows"] for value in row["accuracy"])


def test_integer_graph_and_int8_tflite_of_the_curriculum_model_are_reported(trained):
    root, data_dir, _ = trained
    integer = _report(trained, ["--checkpoint", str(root / "train"), "--integer"])
    assert quant_test.main(["--checkpoint", str(root / "train"), "--data_url=", "--data_dir",
                            str(data_dir), "--json_out", str(root / "quant.json")]) == 0
    quant = json.loads((root / "quant.json").read_text())
    assert integer["rows"][0]["accuracy"][0] == pytest.approx(
        quant["accuracy"]["integer"]["testing"])
    for name in ("model.tflite", "model.pb"):
        report = _report(trained, ["--graph", str(root / name)])
        assert report["model"].endswith(name) and len(report["rows"]) == 8


@pytest.mark.parametrize("extra, message", [
    (["--snr_db", "clean,-5:5"], "--snr_db"),
    (["--test_noise_dir", "/nonexistent"], "--test_noise_dir /nonexistent does not exist"),
    (["--integer", "--graph", "x.pb"], "integer graph: give --checkpoint"),
])
def test_bad_flags_are_one_line_errors(trained, capsys, extra, message):
    root, data_dir, _ = trained
    argv = ["--data_url=", "--data_dir", str(data_dir)] + extra
    if "--graph" not in extra:
        argv += ["--checkpoint", str(root / "train")]
    code = exit_code(robustness.main, argv)
    assert code != 0 and message in capsys.readouterr().err
