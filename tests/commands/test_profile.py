"""python -m kws_tf.profile: MACs and memory as Hello Edge counts them."""
import json

import numpy as np

from kws_tf import models
from kws_tf.commands import profile
from kws_tf.config import FeatureConfig, ModelSpec
from kws_tf.export import footprint
from kws_tf.models import checkpoint
from kws_tf.quant import extract
from tests.conftest import exit_code

DS_CNN_S = [5, 64, 10, 4, 2, 2, 64, 3, 3, 1, 1, 64, 3, 3, 1, 1, 64, 3, 3, 1, 1, 64, 3, 3, 1, 1]


def test_ds_cnn_bf_macs_are_the_integer_graphs_multiplies():
    model = models.build_model("ds_cnn_bf", [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], (49, 10), 12)
    totals = footprint.summary(model)
    stages = extract.float_stages(model, "ds_cnn_bf")
    assert totals["macs"] == 111_360 == sum(stage.multiplies for stage in stages)
    assert totals["parameters"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_hello_edges_ds_cnn_s_is_its_published_size():
    """Hello Edge's table: DS-CNN S, 5.4 M operations (a MAC counted as two)."""
    totals = footprint.summary(models.build_model("ds_cnn", DS_CNN_S, (49, 10), 12))
    assert totals["parameters"] == 23_180 and totals["macs"] == 2_656_768


def test_a_recurrent_layer_costs_its_kernels_once_per_time_step():
    model = models.build_model("lstm", [98, 144], (25, 10), 12)
    rnn = next(cost for cost in footprint.layer_costs(model) if cost.kind == "RNN")
    layer = model.get_layer(rnn.name)
    kernels = sum(int(np.prod(w.shape)) for w in layer.trainable_weights if len(w.shape) == 2)
    assert rnn.macs >= 25 * kernels > 0


def test_the_command_prints_and_writes_the_figures(tmp_path, capsys):
    config = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)
    model = models.build_model("ds_cnn_bf", [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1], config.shape, 4)
    checkpoint.save(model, str(tmp_path / "c"), ModelSpec(
        "ds_cnn_bf", (2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1), config.shape,
        ("_silence_", "_unknown_", "yes", "no"), config))
    assert exit_code(profile.main, ["--checkpoint", tmp_path / "c", "--json_out",
                                    tmp_path / "p.json"]) == 0
    out = json.loads((tmp_path / "p.json").read_text())
    assert out["macs"] == 70_656 + 39_744 + 768 + 64
    assert set(out["memory"]) == {"float32 (as trained)", "int8 TFLite",
                                  "integer graph (kws_int.c)"}
    assert "integer graph (kws_int.c)" in capsys.readouterr().out
