"""quant_test.py end to end on a tiny trained model, its flag checks and errors, and bias
folding on Hello Edge's published DS_CNN_S."""
import json
import re

import numpy as np
import pytest

import kws_tf  # noqa: F401
from kws_tf.config import FeatureConfig
from kws_tf import features, hello_edge_import
from kws_tf.data.wav import read_wav
from kws_tf.export import hardware
from kws_tf.models import build_model, checkpoint
from kws_tf.quant import restore
from kws_tf.commands import quant_test
from kws_tf.quant import extract
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st
from tests.conftest import exit_code, make_dataset, train_tiny
from tests.quant import graphs

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count",
            "10"]


_run = exit_code


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data_dir, train_dir) of a ds_cnn_bf trained briefly on tones, 2 words."""
    work = tmp_path_factory.mktemp("quant")
    data_dir = make_dataset(work / "data", speakers=40)
    train_tiny(data_dir, work, 60, ["--eval_step_interval", "30"])
    return data_dir, work / "train"


def _data(data_dir):
    return ["--data_url=", "--data_dir", str(data_dir)]


def test_quant_test_reports_float_and_integer_accuracy_and_exports(trained, tmp_path,
                                                                   capsys):
    data_dir, train_dir = trained
    assert _run(quant_test.main, ["--checkpoint", str(train_dir), "--export_dir",
                                str(tmp_path / "hw"), "--num_examples", "2", "--json_out",
                                str(tmp_path / "out.json")] + _data(data_dir)) == 0
    out = capsys.readouterr().out
    figures = json.loads((tmp_path / "out.json").read_text())
    assert figures["checkpoint"].startswith(str(train_dir / "best" / "ds_cnn_bf_"))
    assert set(figures["accuracy"]) == {"float", "integer"}
    for row in figures["accuracy"].values():
        assert set(row) == {"validation", "testing"}
    # Tones are easy: the integer graph keeps the float model's accuracy.
    for split in ("validation", "testing"):
        assert figures["accuracy"]["float"][split] > 0.8
        assert abs(figures["accuracy"]["integer"][split]
                   - figures["accuracy"]["float"][split]) <= 0.1
    assert len(figures["shifts"]) == 3 and figures["input_bits"] == 6
    assert figures["shift_stages"] == ["conv_1", "conv_ds_1_dw", "conv_ds_1_pw"]
    assert f"shifts: {' '.join(map(str, figures['shifts']))}" in out
    assert "calibration:" in out and "float accuracy" in out and "integer accuracy" in out
    assert f"x 2**{figures['input_frac_bits']}, rounded half to even" in out
    assert figures["weight_equalization"] in ("none", "cross_layer")
    assert re.search(r"weight equalization none: [\d.]+%.*weight equalization cross_layer: "
                     r"[\d.]+%.*-> weight equalization (none|cross_layer)\n", out, re.S)
    for name in ("weight.h", "kws_int.c", "kws_int.h", "kws_int_main.c", "analysis.txt",
                 "examples/0.txt", "examples/1.txt"):
        assert (tmp_path / "hw" / name).is_file(), name
    assert not (tmp_path / "hw" / "examples" / "2.txt").exists()
    assert "fc1 bias" not in (tmp_path / "hw" / "analysis.txt").read_text()
    assert "Shifts." in (tmp_path / "hw" / "analysis.txt").read_text()


def test_given_scale_and_shifts_need_no_calibration(trained, tmp_path, capsys):
    data_dir, train_dir = trained
    assert _run(quant_test.main, ["--checkpoint", str(train_dir), "--shifts", "3", "4", "8",
                                "--input_frac_bits", "-1", "--weight_scales", "fit",
                                "--weight_equalization", "none", "--json_out",
                                str(tmp_path / "out.json")] + _data(data_dir)) == 0
    out = capsys.readouterr().out
    figures = json.loads((tmp_path / "out.json").read_text())
    assert figures["shifts"] == [3, 4, 8] and figures["input_frac_bits"] == -1
    assert "calibration" not in out and "x 2**-1, rounded" in out


def test_weight_equalization_none_quantizes_the_checkpoint_weights_as_they_are(trained,
                                                                               tmp_path):
    data_dir, train_dir = trained
    fixed = ["--shifts", "3", "4", "8", "--input_frac_bits", "-1", "--weight_scales", "fit"]
    headers = {}
    for mode in ("none", "cross_layer"):
        assert _run(quant_test.main, ["--checkpoint", str(train_dir), "--weight_equalization",
                                    mode, "--export_dir", str(tmp_path / mode), "--json_out",
                                    str(tmp_path / f"{mode}.json")] + fixed
                    + _data(data_dir)) == 0
        assert json.loads((tmp_path / f"{mode}.json").read_text())["weight_equalization"] == mode
        headers[mode] = (tmp_path / mode / "weight.h").read_text()
    prefix, _ = checkpoint.find(str(train_dir))
    info = checkpoint.read_info(prefix)
    model = restore.build_and_restore(prefix, info)
    graph = ig.quantize(extract.float_stages(model, "ds_cnn_bf"), -1, shifts=[3, 4, 8])
    assert headers["none"] == hardware.weight_header(graph, info["labels"], prefix)
    assert headers["none"] != headers["cross_layer"]


@pytest.mark.parametrize("extra, message", [
    (["--model_size_info", "2", "8", "4", "4", "2", "2", "4", "3", "3", "1", "1"],
     "--model_size_info 2 8 4 4 2 2 4 3 3 1 1 does not match --checkpoint .*, which has "
     "2 48 4 4 2 2 16 3 3 1 1"),
    (["--window_stride_ms", "20"], "--window_stride_ms 20 does not match --checkpoint"),
    (["--wanted_words", "yes,up"], "--wanted_words yes,up does not match --checkpoint .*, "
                                   "which has yes,no"),
    (["--shifts", "3", "4"], r"--shifts: expected 3 values, one per convolution \(conv_1 "
                             r"conv_ds_1_dw conv_ds_1_pw\), got 2"),
    (["--weight_bits", "1"], "--weight_bits must be between 2 and 16, got 1"),
    (["--calibration_samples", "0"], "--calibration_samples must be positive"),
    (["--weight_bits", "10", "--export_dir", "/tmp/x"], r"--export_dir: weight.h and kws_int.c "
     r"hold inputs and weights as int8, so --input_bits \(6\) and --weight_bits \(10\) must"),
    (["--fold_biases", "--shifts", "1", "2", "3", "4"], "--shifts: expected 3 values"),
])
def test_bad_flags_are_one_error_line(trained, capsys, extra, message):
    data_dir, train_dir = trained
    assert _run(quant_test.main, ["--checkpoint", str(train_dir)] + _data(data_dir) + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert re.search(message, err[0]), err[0]


def _save(model, architecture, size_info, prefix, **extra):
    info = {"model_architecture": architecture, "model_size_info": list(size_info),
            "input_shape": [25, 10], "labels": ["_silence_", "_unknown_", "yes", "no"],
            "features": {"sample_rate": 16000, "clip_duration_ms": 1000.0,
                         "window_size_ms": 40.0, "window_stride_ms": 40.0,
                         "dct_coefficient_count": 10}, **extra}
    checkpoint.save(model, str(prefix), info)
    return str(prefix)


def test_a_model_trained_through_the_integer_graph_is_evaluated_as_trained(trained, tmp_path,
                                                                           capsys):
    data_dir, _ = trained
    spec = {"mode": "integer", "input_bits": 6, "weight_bits": 5, "activation_bits": 8,
            "input_frac_bits": -1, "shifts": [2, 3, 4]}
    prefix = _save(graphs.model(labels=4), "ds_cnn_bf", graphs.SMALL, tmp_path / "i",
                   quantize=spec)
    assert _run(quant_test.main, ["--checkpoint", prefix, "--json_out", str(tmp_path / "o.json")]
                + _data(data_dir)) == 0
    out = capsys.readouterr().out
    figures = json.loads((tmp_path / "o.json").read_text())
    assert (figures["shifts"], figures["input_frac_bits"], figures["weight_bits"],
            figures["weight_scales"]) == ([2, 3, 4], -1, 5, "fit")
    assert "trained through the integer graph" in out and "calibration" not in out
    assert _run(quant_test.main, ["--checkpoint", prefix, "--shifts", "1", "1", "1"]
                + _data(data_dir)) == 2
    assert capsys.readouterr().err == (
        f"error: --shifts 1 1 1 does not match --checkpoint {prefix}, which was trained "
        "through the integer graph with 2 3 4\n")


def test_architectures_without_an_integer_graph_are_refused(trained, tmp_path, capsys):
    data_dir, _ = trained
    prefix = _save(build_model("dnn", [16, 16], (25, 10), 4), "dnn", [16, 16], tmp_path / "d")
    assert _run(quant_test.main, ["--checkpoint", prefix] + _data(data_dir)) == 2
    assert capsys.readouterr().err == (
        f"error: --checkpoint {prefix} is a dnn model: the integer graph supports ds_cnn_bf "
        "(and ds_cnn with --fold_biases)\n")


def test_ds_cnn_runs_with_fold_biases_only(trained, tmp_path, capsys):
    data_dir, _ = trained
    prefix = _save(graphs.model("ds_cnn"), "ds_cnn", graphs.SMALL, tmp_path / "c")
    assert _run(quant_test.main, ["--checkpoint", prefix] + _data(data_dir)) == 2
    err = capsys.readouterr().err
    assert "conv_1, conv_ds_1_dw, conv_ds_1_pw add biases" in err and "--fold_biases" in err
    assert _run(quant_test.main, ["--checkpoint", prefix, "--fold_biases", "--json_out",
                                str(tmp_path / "out.json")] + _data(data_dir)) == 0
    figures = json.loads((tmp_path / "out.json").read_text())
    assert set(figures["biases"]) == {"conv_1", "conv_ds_1_dw", "conv_ds_1_pw", "fc1"}


def test_folded_hello_edge_ds_cnn_s_follows_the_float_model(fixtures_dir):
    """Hello Edge's published DS_CNN_S (biases and batch norm everywhere, average pool):
    folded, it is the same function; as an integer graph it keeps the predictions."""
    model, info = hello_edge_import.import_graph(str(fixtures_dir / "hello_edge" /
                                                     "DS_CNN_S.pb"))
    config = FeatureConfig(**info["features"])
    rng = np.random.default_rng(0)
    clips = []
    for path in sorted((fixtures_dir / "audio").glob("*.wav")):
        audio = features.pad_or_trim(read_wav(str(path), 16000), config.desired_samples)
        clips.append(audio)
        for _ in range(7):  # shifted, with a little noise
            moved = np.roll(audio, rng.integers(-1600, 1600)) + rng.normal(0, 0.003, audio.shape)
            clips.append(np.clip(moved, -1, 1).astype(np.float32))
    maps = features.mfcc(np.stack(clips), config).numpy()
    stages = extract.float_stages(model, "ds_cnn", fold_biases=True)
    expected = model.predict(maps, verbose=0)
    np.testing.assert_allclose(st.run_float(stages, maps), expected,
                               atol=1e-5 * np.abs(expected).max())
    graph = ig.quantize(stages, 0, calibration=maps)
    assert len(graph.shifts) == 9 and graph.stages[-2].kind == st.SUM_POOL
    agreement = np.mean(ig.predict(graph, maps) == np.argmax(expected, axis=-1))
    assert agreement >= 0.9, agreement
