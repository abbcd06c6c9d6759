import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.commands import freeze as freeze_command
from kws_tf.commands import train as train_command
from kws_tf.errors import KwsError
from kws_tf.train.data_parameters import (
    SIGMA_MAX,
    DataParameters,
    DataParametersConfig,
)
from tests.conftest import make_dataset

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


def test_temperatures_start_at_one_and_sgd_moves_only_the_batch():
    params = DataParameters(DataParametersConfig(data_parameters_lr=0.5), 3, 10)
    logits = tf.constant([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    labels, indices = tf.constant([2, 0]), tf.constant([4, 7])
    scaled, decay = params.scale(logits, labels, indices)
    np.testing.assert_allclose(scaled.numpy(), logits.numpy(), rtol=1e-6)
    with tf.GradientTape() as tape:
        scaled, decay = params.scale(logits, labels, indices)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, scaled))
        loss += decay
    params.apply(tape.gradient(loss, [params.log_class, params.log_clip]))
    clip = params.log_clip.numpy()
    moved = np.flatnonzero(clip != clip[0])
    assert set(moved) <= {4, 7} and len(moved) >= 1 and clip[0] == pytest.approx(np.log(0.5))
    assert params.log_class.numpy()[1] == pytest.approx(np.log(0.5))
    params.log_clip.assign(tf.fill([10], 10.0))
    params.apply([tf.zeros([3]), tf.zeros([10])])
    assert np.exp(params.log_clip.numpy().max()) == pytest.approx(SIGMA_MAX)


def test_bad_settings_name_their_flag():
    with pytest.raises(KwsError, match="--data_parameters_lr"):
        DataParametersConfig(data_parameters_lr=0).validate()
    with pytest.raises(KwsError, match="--data_parameters_wd"):
        DataParametersConfig(data_parameters_wd=-1).validate()


def test_training_with_data_parameters_writes_temperatures_and_exports_unchanged(tmp_path):
    data_dir = make_dataset(tmp_path / "data", speakers=30)
    work = tmp_path / "run"
    argv = ["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
            "--train_dir", str(work), "--summaries_dir", str(tmp_path / "logs"),
            "--how_many_training_steps", "30", "--learning_rate", "0.01",
            "--eval_step_interval", "10", "--save_step_interval", "10", "--batch_size", "16",
            "--data_parameters", "--background_snr_db", "clean,0",
            "--json_out", str(tmp_path / "out.json")] + FEATURES
    assert train_command.main(argv) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    written = json.loads((work / "data_parameters.json").read_text())
    assert out["data_parameters"] == str(work / "data_parameters.json")
    assert set(written["classes"]) == {"_silence_", "_unknown_", "yes", "no"}
    temperatures = [clip["temperature"] for clip in written["clips"]]
    assert temperatures == sorted(temperatures, reverse=True) and len(set(temperatures)) > 1
    assert sum(clip["path"] != "_silence_" for clip in written["clips"]) > 10
    # The checkpoints hold the data parameters (to resume), yet the model exports as always.
    names = tf.train.list_variables(out["latest_checkpoint"])
    assert any("data_parameters" in name for name, _ in names)
    assert freeze_command.main(["--checkpoint", str(work), "--output_file",
                                str(tmp_path / "model.pb")]) == 0
