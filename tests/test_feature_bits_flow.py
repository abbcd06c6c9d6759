"""--feature_bits end to end: a float model trained on the integer graph's input, and every
tool that reads its checkpoint computing the same rounded features."""
import json

import numpy as np
import pytest

import kws_tf  # noqa: F401
import tensorflow as tf
from kws_tf.config import FeatureConfig
from kws_tf.data import pipeline
from kws_tf.commands import freeze
from kws_tf.commands import label_wav as label_main
from kws_tf.models import checkpoint
from kws_tf.quant import restore
from kws_tf.commands import quant_test
from tests.conftest import exit_code, make_dataset, train_tiny

ROUNDED = ["--feature_bits", "6", "--feature_frac_bits", "-1"]


@pytest.mark.slow
def test_rounded_features_flow_through_training_quant_test_freeze_and_label_wav(tmp_path,
                                                                               capsys):
    data_dir = make_dataset(tmp_path / "data", speakers=30)
    out = train_tiny(data_dir, tmp_path, 40, ROUNDED)
    info = checkpoint.read_info(out["best_checkpoint"])
    assert (info["features"]["feature_bits"], info["features"]["feature_frac_bits"]) == (6, -1)
    config = FeatureConfig(**info["features"])

    # quant_test takes the integer input from the features: no scale to choose.
    assert exit_code(quant_test.main, ["--checkpoint", str(tmp_path / "train"), "--data_url=",
                                     "--data_dir", str(data_dir), "--json_out",
                                     str(tmp_path / "q.json")]) == 0
    figures = json.loads((tmp_path / "q.json").read_text())
    assert (figures["input_bits"], figures["input_frac_bits"]) == (6, -1)
    assert "input scale 2**f:" not in capsys.readouterr().out
    # Another width contradicts nothing recorded, but other features do.
    assert exit_code(quant_test.main, ["--checkpoint", str(tmp_path / "train"), "--data_url=",
                                     "--data_dir", str(data_dir), "--feature_bits", "8"]) == 2
    assert "--feature_bits 8 does not match --checkpoint" in capsys.readouterr().err

    # The frozen graph rounds its Mfcc output as training did.
    pb = tmp_path / "model.pb"
    assert exit_code(freeze.main, ["--checkpoint", str(tmp_path / "train"),
                                   "--output_file", str(pb)]) == 0
    wav = sorted(data_dir.glob("yes/*.wav"))[0]
    model, _ = restore.load(out["best_checkpoint"])
    expected = tf.nn.softmax(model(pipeline.clip_features(str(wav), config)[np.newaxis],
                                   training=False)).numpy()[0]
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    assert "Round" in {node.op for node in graph_def.node}
    assert exit_code(label_main.main, ["--graph", str(pb), "--wav", str(wav), "--how_many_labels",
                                       "4", "--json_out", str(tmp_path / "l.json")]) == 0
    top = json.loads((tmp_path / "l.json").read_text())["results"][0]["top"]
    scores = {entry["label"]: entry["score"] for entry in top}
    np.testing.assert_allclose([scores[label] for label in info["labels"]], expected,
                               atol=1e-5)
    # ... and differs from what the float features would give.
    unrounded = FeatureConfig(**{**info["features"], "feature_bits": 0})
    assert not np.array_equal(pipeline.clip_features(str(wav), config),
                              pipeline.clip_features(str(wav), unrounded))
