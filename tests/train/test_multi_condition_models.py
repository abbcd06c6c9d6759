"""Every multi-condition option (and SpecAugment) trains the 2 48 ds_cnn_bf, DS_CNN_S and
ConvMixer end to end (tiny data, few steps), and the result evaluates like any checkpoint."""
import json

import pytest

from kws_tf.commands import evaluate, train
from tests.conftest import make_dataset

MODELS = {
    "ds_cnn_bf 2 48": ["--model_architecture", "ds_cnn_bf", "--model_size_info",
                       *"2 48 4 4 2 2 16 3 3 1 1".split()],
    "DS_CNN_S": ["--model_architecture", "ds_cnn", "--model_size_info",
                 *"5 64 10 4 2 2 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1".split()],
    "convmixer": ["--model_architecture", "convmixer", "--model_size_info",
                  *"8 3 3 1 3 3 4 8 3 3".split(), "--feature_type", "log_mel",
                  "--mel_bands", "16"],
}
OPTIONS = {
    "snr and reverb": ["--background_snr_db", "clean,10,-10:0", "--reverb_probability", "0.5",
                       "--rir_bank_size", "3"],
    "curriculum": ["--curriculum", "snr", "--curriculum_patience", "1", "--rir_bank_size", "3"],
    "data parameters": ["--data_parameters", "--background_snr_db", "clean,0"],
    "spec augment": ["--time_masks_number", "2", "--time_mask_max_size", "5",
                     "--frequency_masks_number", "1"],
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("multi") / "data", speakers=16)


@pytest.mark.slow
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("model", MODELS)
def test_option_trains_model_end_to_end(data_dir, tmp_path, model, option):
    argv = ["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
            "--train_dir", str(tmp_path / "train"), "--summaries_dir", str(tmp_path / "logs"),
            "--how_many_training_steps", "12", "--learning_rate", "0.005",
            "--eval_step_interval", "4", "--batch_size", "8", "--window_size_ms", "40",
            "--window_stride_ms", "40", "--dct_coefficient_count", "10",
            "--json_out", str(tmp_path / "train.json")] + MODELS[model] + OPTIONS[option]
    assert train.main(argv) == 0
    out = json.loads((tmp_path / "train.json").read_text())
    assert out["steps"] == 12 and ("curriculum_stage" in out) == (option == "curriculum")
    assert ("data_parameters" in out) == (option == "data parameters")
    assert evaluate.main(["--checkpoint", str(tmp_path / "train"), "--data_url=", "--data_dir",
                          str(data_dir), "--splits", "testing", "--json_out",
                          str(tmp_path / "evaluate.json")]) == 0
    tested = json.loads((tmp_path / "evaluate.json").read_text())["splits"]["testing"]
    assert tested["accuracy"] == pytest.approx(out["test_accuracy"])
