"""Importing the published Hello Edge graphs: same softmax as the graph, checkpoint, errors."""
import functools
import json

import numpy as np
import pytest
import tensorflow as tf

import kws_tf  # noqa: F401
from kws_tf.config import FeatureConfig
from kws_tf import features, hello_edge_import
from kws_tf.commands import hello_edge_import as hello_edge_import_command
from kws_tf.errors import KwsError
from kws_tf.export.frozen_graph import read_graph
from kws_tf.models import build_model
from kws_tf.quant import restore
from tests.models import hello_edge_fixtures

STEMS = sorted(hello_edge_fixtures.REFERENCE_DOC_PARAMETERS)


@functools.lru_cache(maxsize=None)
def imported(graph_path):
    """(model, info) of one graph; imported once for all tests."""
    return hello_edge_import.import_graph(graph_path)


@functools.lru_cache(maxsize=None)
def graph_softmax(graph_path, wav_paths):
    """The original graph's labels_softmax for each clip (fed one by one, as its batch is 1)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(read_graph(graph_path), name="")
    session = tf.compat.v1.Session(graph=graph)
    try:
        return np.concatenate([session.run("labels_softmax:0",
                                           {"wav_data:0": open(path, "rb").read()})
                               for path in wav_paths])
    finally:
        session.close()


def our_softmax(model, config, wav_paths):
    audio = tf.stack([tf.audio.decode_wav(open(path, "rb").read(), desired_channels=1,
                                          desired_samples=config.desired_samples).audio[:, 0]
                      for path in wav_paths])
    return tf.nn.softmax(model(features.mfcc(audio, config), training=False)).numpy()


def clips(fixtures_dir):
    return tuple(sorted(str(p) for p in (fixtures_dir / "audio").glob("*.wav")))


def graph_path(fixtures_dir, stem):
    return str(fixtures_dir / "hello_edge" / f"{stem}.pb")


@pytest.mark.parametrize("stem", STEMS)
def test_imported_model_reproduces_the_graph(fixtures_dir, stem):
    path, wavs = graph_path(fixtures_dir, stem), clips(fixtures_dir)
    model, info = imported(path)
    ours = our_softmax(model, FeatureConfig(**info["features"]), wavs)
    reference = graph_softmax(path, wavs)
    assert len(wavs) == 5 and ours.shape == reference.shape == (5, 12)
    assert np.abs(ours - reference).max() < 1e-4
    assert (ours.argmax(1) == reference.argmax(1)).all()


@pytest.mark.parametrize("stem", STEMS)
def test_inferred_settings_match_the_fixture_table(fixtures_dir, stem):
    row = hello_edge_fixtures.table(fixtures_dir)[stem]
    _, info = imported(graph_path(fixtures_dir, stem))
    assert info["model_architecture"] == row["architecture"]
    assert info["model_size_info"] == row["model_size_info"]
    assert tuple(info["input_shape"]) == row["input_shape"]
    assert info["features"] == {"sample_rate": 16000, "clip_duration_ms": 1000,
                                "window_size_ms": 40, "window_stride_ms": row["stride_ms"],
                                "dct_coefficient_count": 10, "feature_type": "mfcc",
                                "mel_bands": 40, "feature_bits": 0, "feature_frac_bits": 0}
    assert info["labels"] == (fixtures_dir / "hello_edge" / "labels.txt").read_text().split()


@pytest.mark.parametrize("stem", STEMS)
def test_structural_parameter_count_agrees_with_the_variable_names(fixtures_dir, stem):
    path = graph_path(fixtures_dir, stem)
    _, info = imported(path)
    trainable, statistics = hello_edge_fixtures.variable_sizes(
        hello_edge_fixtures.read_graph_def(fixtures_dir / "hello_edge" / f"{stem}.pb"))
    assert info["parameters"] == {"trainable": trainable, "non_trainable": statistics}


@pytest.mark.parametrize("stem", STEMS)
def test_cli_checkpoint_restores_into_a_fresh_model(fixtures_dir, tmp_path, capsys, stem):
    path, wavs = graph_path(fixtures_dir, stem), clips(fixtures_dir)
    prefix = str(tmp_path / "ckpt" / stem)
    assert hello_edge_import_command.main(["--graph", path, "--output_checkpoint", prefix,
                                   "--json_out", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    model, info = imported(path)
    assert f"--model_size_info {' '.join(map(str, info['model_size_info']))}" in out
    assert json.loads((tmp_path / "out.json").read_text())["sidecar"] == prefix + ".json"

    restored, sidecar = restore.load(prefix)
    assert sidecar == json.loads(json.dumps(info))
    config = FeatureConfig(**sidecar["features"])
    np.testing.assert_array_equal(our_softmax(restored, config, wavs),
                                  our_softmax(model, config, wavs))
    # The documented manual restore.
    fresh = build_model(info["model_architecture"], info["model_size_info"],
                        info["input_shape"], len(info["labels"]))
    tf.train.Checkpoint(model=fresh).read(prefix).assert_consumed()
    for ours, theirs in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_flags_that_agree_are_accepted(fixtures_dir):
    model, info = hello_edge_import.import_graph(
        graph_path(fixtures_dir, "LSTM_S"), model_architecture="lstm", model_size_info=[98, 144],
        window_size_ms=40, window_stride_ms=40, dct_coefficient_count=10, sample_rate=16000,
        clip_duration_ms=1000, wanted_words=hello_edge_import.HELLO_EDGE_WANTED_WORDS)
    assert info["model_size_info"] == [98, 144]


@pytest.mark.parametrize("flags, message", [
    ({"model_architecture": "gru"},
     "--model_architecture gru does not match --graph .*: its structure is lstm"),
    ({"model_architecture": "rnn"}, "--model_architecture 'rnn' is not one of dnn, cnn"),
    ({"model_size_info": [98, 145]},
     "--model_size_info 98 145 does not match --graph .*: its lstm has 98 144"),
    ({"window_stride_ms": 20},
     r"--window_stride_ms 20 does not match --graph .*: its AudioSpectrogram stride is 640 "
     r"samples \(40 ms at 16000 Hz\)"),
    ({"dct_coefficient_count": 40}, "--dct_coefficient_count 40 does not match"),
    ({"feature_bits": 6}, "--feature_bits 6: --graph .* takes Hello Edge's float MFCCs"),
    ({"feature_type": "log_mel", "mel_bands": 64},
     "--feature_type log_mel --mel_bands 64: --graph .* takes Hello Edge's MFCCs"),
    ({"wanted_words": "yes,no"}, "--wanted_words yes,no gives 4 labels"),
])
def test_flags_that_disagree_name_flag_and_graph(fixtures_dir, flags, message):
    with pytest.raises(KwsError, match=message):
        hello_edge_import.import_graph(graph_path(fixtures_dir, "LSTM_S"), **flags)


def test_missing_or_foreign_files_are_one_line_errors(tmp_path, capsys):
    not_a_graph = tmp_path / "x.pb"
    not_a_graph.write_bytes(b"RIFF\x00\x00 not a protobuf \xff\xff")
    for path, message in ((tmp_path / "missing.pb", "no such file"),
                          (not_a_graph, "not a binary TensorFlow GraphDef")):
        with pytest.raises(SystemExit) as exit_:
            hello_edge_import_command.main(["--graph", str(path), "--output_checkpoint",
                                    str(tmp_path / "c")])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --graph {path}: {message}") and err.count("\n") == 1


def test_a_graph_that_is_not_hello_edge_is_refused(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        tf.nn.softmax(tf.matmul(x, tf.ones([3, 2])), name="labels_softmax")
    path = tmp_path / "other.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(KwsError, match=r"not a Hello Edge model graph \(no DecodeWav node\)"):
        hello_edge_import.import_graph(str(path))


def test_load_without_sidecar_is_a_clear_error(tmp_path):
    with pytest.raises(KwsError, match="c.json: no such file"):
        restore.load(str(tmp_path / "c"))
