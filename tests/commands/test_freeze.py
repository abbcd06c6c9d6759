"""freeze.py: Hello Edge's frozen wav graph, float and int8 TFLite, C arrays, metadata, errors."""
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
from kws_tf.config import FeatureConfig
from kws_tf import features
from kws_tf.data import pipeline
from kws_tf.errors import KwsError
from kws_tf.commands import freeze
from kws_tf.export import frozen_graph, hardware, tflite, tflite_metadata
from kws_tf.export import interpreter as kws_interpreter
from kws_tf.models import build_model, checkpoint
from kws_tf.quant import restore
from tests.conftest import exit_code, make_dataset, train_tiny

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]
CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=40, dct_coefficient_count=10)


def _run(argv):
    return exit_code(freeze.main, argv)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ds_cnn_bf trained for 40 steps on tones (yes, no; cat and dog are _unknown_)."""
    work = tmp_path_factory.mktemp("freeze")
    data = make_dataset(work / "data", speakers=40)
    train_tiny(data, work)
    best = json.loads((work / "train" / "checkpoint_state.json").read_text())["best"]
    model, info = restore.load(best)
    wavs = sorted(str(path) for path in data.glob("*/*.wav") if "_background_" not in str(path))
    feature_maps = np.stack([pipeline.clip_features(path, CONFIG) for path in wavs]
                            + [features.mfcc(np.zeros((1, 16000), np.float32), CONFIG)[0]])
    return {"work": work, "data": data, "train_dir": work / "train", "best": best,
            "model": model, "info": info, "wavs": wavs, "features": feature_maps}


def _softmax(model, feature_maps):
    return tf.nn.softmax(model(feature_maps, training=False)).numpy()


def _session_softmax(pb_path, wav_paths):
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(open(pb_path, "rb").read())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return np.concatenate([session.run("labels_softmax:0",
                                           {"wav_data:0": open(path, "rb").read()})
                               for path in wav_paths]), graph_def


def _tflite_outputs(tflite_path, feature_maps):
    """Dequantized outputs of the model for each map; int8 inputs are quantized as an MCU would."""
    interpreter = kws_interpreter.create(open(tflite_path, "rb").read())
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for feature_map in feature_maps:
        x = feature_map[np.newaxis].astype(np.float32)
        if source["dtype"] == np.int8:
            scale, zero_point = source["quantization"]
            x = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
        interpreter.set_tensor(source["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(sink["index"])[0].astype(np.float32)
        if sink["dtype"] == np.int8:
            scale, zero_point = sink["quantization"]
            y = (y - zero_point) * scale
        outputs.append(y)
    return np.array(outputs), source, sink


def test_frozen_graph_runs_in_a_tf1_session_like_hello_edges(trained, tmp_path):
    output = tmp_path / "out" / "ds_cnn_bf.pb"
    assert _run(["--checkpoint", trained["train_dir"], "--output_file", output,
                 "--json_out", tmp_path / "out.json"]) == 0
    wavs = trained["wavs"][::8]
    ours, graph_def = _session_softmax(output, wavs)
    expected = _softmax(trained["model"], np.stack(
        [pipeline.clip_features(path, CONFIG) for path in wavs]))
    assert ours.shape == (len(wavs), 4)
    assert np.abs(ours - expected).max() < 1e-5

    nodes = {node.name: node for node in graph_def.node}
    assert [node.name for node in graph_def.node if node.op == "Placeholder"] == ["wav_data"]
    assert nodes["decoded_sample_data"].op == "DecodeWav"
    assert nodes["decoded_sample_data"].attr["desired_samples"].i == 16000
    assert nodes["AudioSpectrogram"].attr["stride"].i == 640
    assert list(nodes["Mfcc"].input) == ["AudioSpectrogram", "decoded_sample_data:1"]
    assert nodes["labels_softmax"].op == "Softmax" and graph_def.node[-1].name == "labels_softmax"
    assert (tmp_path / "out" / "ds_cnn_bf_labels.txt").read_text().split() == \
        ["_silence_", "_unknown_", "yes", "no"]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["checkpoint"] == trained["best"] and "best" in out["checkpoint_chosen"]
    assert out["files"][str(output)] == output.stat().st_size
    assert out["ops"]["Mfcc"] == 1 and out["output_format"] == "pb"


def test_int8_tflite_agrees_with_the_float_model(trained, tmp_path, capsys):
    output = tmp_path / "kws.tflite"
    assert _run(["--checkpoint", trained["best"], "--output_file", output, "--quantize", "int8",
                 "--representative_samples", 60, "--json_out", tmp_path / "out.json"]) == 0
    printed = capsys.readouterr().out
    assert "representative data: 60 of the" in printed and "q = clamp(round(x / " in printed

    ours, source, sink = _tflite_outputs(output, trained["features"])
    expected = _softmax(trained["model"], trained["features"])
    assert source["dtype"] == sink["dtype"] == np.int8
    assert list(source["shape"]) == [1, 25, 10] and source["name"] == "mfcc"
    agreement = np.mean(ours.argmax(1) == expected.argmax(1))
    assert len(ours) > 150 and agreement >= 0.95, agreement

    flatbuffer = output.read_bytes()
    metadata = tflite_metadata.read_metadata(flatbuffer)
    for key in checkpoint.REQUIRED_KEYS:
        assert metadata[key] == trained["info"][key]
    assert metadata["quantize"] == "int8"
    assert (metadata["input_scale"], metadata["input_zero_point"]) == \
        pytest.approx(source["quantization"])
    assert (metadata["output_scale"], metadata["output_zero_point"]) == \
        pytest.approx(sink["quantization"])
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["files"][str(output)] == len(flatbuffer) and out["representative_samples"] == 60
    assert set(out["ops"]) <= {"CONV_2D", "DEPTHWISE_CONV_2D", "REDUCE_MAX", "RESHAPE",
                               "FULLY_CONNECTED", "SOFTMAX"}

    source_text = (tmp_path / "kws.cc").read_text()
    header = (tmp_path / "kws.h").read_text()
    array = re.search(r"alignas\(16\) const unsigned char g_kws\[\] = \{(.*?)\};", source_text,
                      re.S).group(1)
    assert bytes(int(byte, 16) for byte in re.findall(r"0x([0-9a-f]{2})", array)) == flatbuffer
    assert f"const unsigned int g_kws_len = {len(flatbuffer)};" in source_text
    assert "extern const unsigned char g_kws[];" in header
    assert f"g_kws_input_zero_point = {metadata['input_zero_point']};" in header
    assert '"_silence_",' in source_text
    if shutil.which("g++"):
        _check_compiled_array(tmp_path, flatbuffer)


def _check_compiled_array(folder, flatbuffer):
    """Compiles kws.cc with a main that prints the array: same bytes, 16-byte aligned."""
    (folder / "main.cc").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "kws.h"\n'
        "int main() {\n"
        "  if (reinterpret_cast<std::uintptr_t>(g_kws) % 16) return 1;\n"
        "  fwrite(g_kws, 1, g_kws_len, stdout);\n"
        "  return g_kws_label_count == 4 && g_kws_frames == 25 ? 0 : 2;\n}\n")
    subprocess.run(["g++", "-std=c++11", "-Wall", "-Werror", "-o", str(folder / "main"),
                    str(folder / "main.cc"), str(folder / "kws.cc")], check=True)
    run = subprocess.run([str(folder / "main")], capture_output=True)
    assert run.returncode == 0 and run.stdout == flatbuffer


def test_float_tflite_matches_the_keras_model(trained, tmp_path):
    output = tmp_path / "kws.tflite"
    assert _run(["--checkpoint", trained["train_dir"], "--output_file", output]) == 0
    ours, source, _ = _tflite_outputs(output, trained["features"][::4])
    assert source["dtype"] == np.float32
    assert np.abs(ours - _softmax(trained["model"], trained["features"][::4])).max() < 1e-5
    metadata = tflite_metadata.read_metadata(output.read_bytes())
    assert metadata["quantize"] == "float" and "input_scale" not in metadata
    assert metadata["labels"] == trained["info"]["labels"]


SIZES = {"dnn": [32, 32], "cnn": [8, 10, 4, 1, 1, 8, 10, 4, 2, 1, 16, 32],
         "basic_lstm": [16], "lstm": [12, 16], "gru": [2, 16], "crnn": [8, 10, 4, 2, 2, 1, 16, 16],
         "ds_cnn": [2, 16, 10, 4, 2, 2, 16, 3, 3, 1, 1]}


@pytest.mark.parametrize("architecture", sorted(SIZES))
def test_every_architecture_freezes(architecture, trained, tmp_path):
    """Untrained weights are enough: the .pb and the float TFLite compute what the model does."""
    model = build_model(architecture, SIZES[architecture], CONFIG.shape, 4)
    info = {**trained["info"], "model_architecture": architecture,
            "model_size_info": SIZES[architecture]}
    checkpoint.save(model, str(tmp_path / "ckpt"), info)
    assert _run(["--checkpoint", tmp_path / "ckpt", "--output_file", tmp_path / "m.pb"]) == 0
    wavs = trained["wavs"][::40]
    feature_maps = np.stack([pipeline.clip_features(path, CONFIG) for path in wavs])
    ours, graph_def = _session_softmax(tmp_path / "m.pb", wavs)
    assert np.abs(ours - _softmax(model, feature_maps)).max() < 1e-5
    if architecture in ("basic_lstm", "lstm", "gru", "crnn"):
        ops = {node.op for node in graph_def.node}
        assert {"Enter", "Exit", "Merge", "Switch"} <= ops  # TF1 loops, as Hello Edge's RNNs
    (tmp_path / "m.tflite").write_bytes(tflite.convert(model))
    ours, _, _ = _tflite_outputs(tmp_path / "m.tflite", feature_maps)
    assert np.abs(ours - _softmax(model, feature_maps)).max() < 1e-5


def test_rnn_converts_to_int8_unrolled(trained):
    """TF 2.16 crashes calibrating a WHILE loop; unrolled, an RNN quantizes like any model."""
    model = build_model("gru", [1, 16], CONFIG.shape, 4)
    flatbuffer = tflite.convert(model, int8=True, representative_features=trained["features"])
    description = tflite.describe(flatbuffer)
    assert "WHILE" not in description["ops"] and description["input"]["dtype"] == "int8"
    assert not any(layer.unroll for layer in model.submodules if hasattr(layer, "unroll"))


def test_quantization_aware_model_converts_without_representative_data(trained):
    import tensorflow_model_optimization as tfmot

    qat_model = tfmot.quantization.keras.quantize_model(trained["model"])
    description = tflite.describe(tflite.convert(qat_model, int8=True))
    assert description["input"]["dtype"] == description["output"]["dtype"] == "int8"
    with pytest.raises(KwsError, match="needs representative data"):
        tflite.convert(trained["model"], int8=True)


def test_train_dir_flags_stand_in_for_a_missing_sidecar(trained, tmp_path, capsys):
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    shutil.copy(trained["train_dir"] / "training_flags.json", train_dir)
    for path in trained["train_dir"].glob("best/*.ckpt-40.*"):
        if not path.name.endswith(".json"):
            shutil.copy(path, train_dir)
    prefix = train_dir / os.path.basename(trained["best"])
    assert _run(["--checkpoint", prefix, "--output_file", tmp_path / "m.pb"]) == 0
    assert _run(["--checkpoint", prefix, "--output_file", tmp_path / "m.pb",
                 "--window_stride_ms", "20"]) == 2
    err = capsys.readouterr().err
    assert "--window_stride_ms 20.0 does not match" in err and "training_flags.json" in err
    (train_dir / "training_flags.json").unlink()
    assert _run(["--checkpoint", prefix, "--output_file", tmp_path / "m.pb"]) == 2
    assert "--model_architecture" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--model_size_info", "2", "32", "4", "4", "2", "2", "16", "3", "3", "1", "1"],
     "--model_size_info 2 32 4 4 2 2 16 3 3 1 1 does not match --checkpoint"),
    (["--window_stride_ms", "20"], "--window_stride_ms 20 does not match --checkpoint"),
    (["--wanted_words", "yes,up"], "--wanted_words yes,up does not match --checkpoint"),
    (["--quantize", "int8"], "--quantize int8 is for TFLite output"),
    (["--output_format", "tflite"], "--output_format tflite does not fit --output_file"),
    (["--output_file", "/dev/null/x.pb"], "cannot write"),
    (["--output_file", "x.tflite", "--output_format", "pb"], "does not fit --output_file"),
    (["--checkpoint", "/nonexistent/ckpt-1"], "--checkpoint /nonexistent/ckpt-1: no such"),
    (["--representative_samples", "0"], "--representative_samples must be positive"),
])
def test_bad_input_is_one_error_line(trained, tmp_path, capsys, extra, message):
    output = tmp_path / "model.pb"
    output.write_bytes(b"an earlier model")
    assert _run(["--checkpoint", trained["train_dir"], "--output_file", output] + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert output.read_bytes() == b"an earlier model"
    assert sorted(os.listdir(tmp_path)) == ["model.pb"]


def test_int8_without_usable_data_keeps_earlier_files(trained, tmp_path, capsys):
    output = tmp_path / "model.tflite"
    output.write_bytes(b"an earlier model")
    assert _run(["--checkpoint", trained["best"], "--output_file", output, "--quantize", "int8",
                 "--data_dir", tmp_path / "missing"]) == 2
    assert f"--data_dir {tmp_path / 'missing'} does not exist" in capsys.readouterr().err
    assert output.read_bytes() == b"an earlier model"
    assert sorted(os.listdir(tmp_path)) == ["model.tflite"]


def test_unknown_flag_is_an_error(capsys):
    assert _run(["--checkpoint", "x", "--output_file", "y.pb", "--qauntize", "int8"]) == 2
    assert "--qauntize" in capsys.readouterr().err


def test_frozen_hello_edge_model_matches_the_published_graph(fixtures_dir, tmp_path):
    from kws_tf import hello_edge_import

    published = fixtures_dir / "hello_edge" / "DS_CNN_S.pb"
    model, info = hello_edge_import.import_graph(str(published))
    checkpoint.save(model, str(tmp_path / "ds_cnn_s"), info)
    assert _run(["--checkpoint", tmp_path / "ds_cnn_s", "--output_file",
                 tmp_path / "ds_cnn.pb"]) == 0
    wavs = sorted(str(path) for path in (fixtures_dir / "audio").glob("*.wav"))
    ours, graph_def = _session_softmax(tmp_path / "ds_cnn.pb", wavs)
    reference, reference_def = _session_softmax(published, wavs)
    assert len(wavs) == 5 and np.abs(ours - reference).max() < 1e-4
    front = ["wav_data", "decoded_sample_data", "AudioSpectrogram", "Mfcc"]
    for ours_node, their_node in zip(
            [n for n in graph_def.node if n.name in front],
            [n for n in reference_def.node if n.name in front]):
        assert (ours_node.name, ours_node.op) == (their_node.name, their_node.op)
        for key in ("desired_samples", "desired_channels", "window_size", "stride",
                    "magnitude_squared", "dct_coefficient_count", "filterbank_channel_count",
                    "upper_frequency_limit", "lower_frequency_limit"):
            assert ours_node.attr[key] == their_node.attr[key], (ours_node.name, key)
    assert frozen_graph.op_counts(graph_def)["Conv2D"] == 5


def test_tflite_output_brings_the_mfcc_front_end_and_its_settings(trained, tmp_path):
    output = tmp_path / "kws.tflite"
    assert _run(["--checkpoint", trained["best"], "--output_file", output]) == 0
    for name in ("kws_mfcc.c", "kws_mfcc.h"):
        assert (tmp_path / name).read_bytes() == open(os.path.join(hardware.C_DIR, name),
                                                       "rb").read()
    header = (tmp_path / "kws.h").read_text()
    for line in ("g_kws_sample_rate = 16000;", "g_kws_window_ms = 40.0f;",
                 "g_kws_stride_ms = 40.0f;", "g_kws_clip_samples = 16000;"):
        assert line in header
