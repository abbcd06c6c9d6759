"""A log-mel ConvMixer through every tool: train, evaluate, freeze (.pb, int8 TFLite), label."""
import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.commands import evaluate, freeze
from kws_tf.config import FeatureConfig
from kws_tf.data import pipeline
from kws_tf.export import tflite
from kws_tf.quant import restore
from tests.conftest import exit_code, make_dataset, train_tiny
from tests.label import label_wav
from tests.models.test_convmixer import SMALL

LOG_MEL = ["--feature_type", "log_mel", "--mel_bands", "24"]
CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=40, feature_type="log_mel",
                       mel_bands=24)


@pytest.mark.slow
def test_log_mel_convmixer_trains_evaluates_freezes_and_labels(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", speakers=20)
    figures = train_tiny(data, tmp_path, steps=20, extra=[
        "--model_architecture", "convmixer", "--model_size_info", *SMALL, *LOG_MEL])
    train_dir = tmp_path / "train"
    model, info = restore.load(figures["best_checkpoint"])
    assert info["features"]["feature_type"] == "log_mel" and info["input_shape"] == [25, 24]
    assert model.input_shape == (None, 25, 24)

    out = tmp_path / "eval.json"
    assert exit_code(evaluate.main, ["--checkpoint", train_dir, "--data_url=", "--data_dir",
                                     data, "--json_out", out]) == 0
    assert json.loads(out.read_text())["splits"]["testing"]["accuracy"] == pytest.approx(
        figures["test_accuracy"])

    pb, int8 = tmp_path / "convmixer.pb", tmp_path / "convmixer.tflite"
    assert exit_code(freeze.main, ["--checkpoint", train_dir, "--output_file", pb]) == 0
    assert exit_code(freeze.main, ["--checkpoint", train_dir, "--output_file", int8,
                                   "--quantize", "int8", "--representative_samples", 20]) == 0
    printed = capsys.readouterr().out
    assert "AudioSpectrogram -> LogMel -> convmixer" in printed
    assert "no C front end written" in printed and not (tmp_path / "kws_mfcc.c").exists()
    assert "TensorFlow Lite Micro cannot run" not in printed  # its GELU is LOGISTIC and MUL
    assert "24 log mel filterbank energies" in (tmp_path / "convmixer.h").read_text()
    assert tflite.describe(int8.read_bytes())["input"]["dtype"] == "int8"

    wav = sorted((data / "yes").glob("*.wav"))[0]
    expected = tf.nn.softmax(model(pipeline.clip_features(wav, CONFIG)[np.newaxis],
                                   training=False)).numpy()[0]
    for graph in (pb, int8):
        code, printed, error = label_wav(["--graph", graph, "--wav", wav, "--output", "json",
                                          "--how_many_labels", 4], capsys)
        assert code == 0, error
        scores = {row["label"]: row["score"] for row in json.loads(printed)["results"][0]["top"]}
        assert len(scores) == 4
        tolerance = 1e-4 if graph == pb else 0.1  # int8: quantized input, weights, output
        for label, score in scores.items():
            assert score == pytest.approx(expected[info["labels"].index(label)], abs=tolerance)
    # The .pb's own log-mel nodes say which features it takes; a flag that disagrees is an error.
    code, _, error = label_wav(["--graph", pb, "--wav", wav, "--feature_type", "mfcc"], capsys)
    assert code != 0 and "--feature_type mfcc disagrees" in error

