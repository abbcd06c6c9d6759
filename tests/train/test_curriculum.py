import json

import numpy as np
import pytest

from kws_tf.commands import train as train_command
from kws_tf.config import AugmentConfig
from kws_tf.errors import KwsError
from kws_tf.train import curriculum
from kws_tf.train.curriculum import Curriculum, CurriculumConfig
from tests.conftest import exit_code, make_dataset, model_weights

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("curriculum") / "data", speakers=30)


def _flags(data_dir, work, steps, extra=()):
    return (["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
             "--train_dir", str(work / "train"), "--summaries_dir", str(work / "logs"),
             "--how_many_training_steps", str(steps), "--learning_rate", "0.01",
             "--eval_step_interval", "4", "--save_step_interval", "4", "--batch_size", "16",
             "--model_size_info", "2", "16", "10", "4", "2", "2", "16", "3", "3", "1", "1",
             "--curriculum", "snr", "--curriculum_patience", "1", "--rir_bank_size", "3",
             "--json_out", str(work / "out.json")] + FEATURES + list(extra))


def _run(argv):
    return exit_code(train_command.main, argv)


def test_stages_move_on_after_patience_and_stop_at_the_last():
    state = Curriculum(CurriculumConfig(curriculum="snr", curriculum_patience=2), "/t")
    assert state.update(0.1, 4) == "best" and state.state["best_weights"].endswith("stage0.ckpt-4")
    assert state.update(0.2, 8) == "best"
    assert state.update(0.15, 12) == "stay"
    assert state.update(0.2, 16) == "next"  # not better than the best: two without progress
    assert state.advance().endswith("stage0.ckpt-8") and state.stage == 1
    for stage in range(1, len(curriculum.SNR_STAGES) - 1):
        state.update(0.0, 0)
        state.update(0.0, 0)
        assert state.update(0.0, 0) == "next"
        state.advance()
    state.update(0.0, 0)
    assert [state.update(0.0, 0) for _ in range(5)] == ["stay"] * 5  # the last stage stays


def test_stage_augmentations_grow_harder_and_flags_that_clash_are_refused():
    stages = [curriculum.stage_augment(AugmentConfig(), i)
              for i in range(len(curriculum.SNR_STAGES))]
    assert stages[0].background_snr_db == "clean" and stages[-1].reverb_probability == 0.5
    assert [s.background_snr_db.split(",")[-1] for s in stages[1:4]] == ["0", "-5", "-10"]
    assert curriculum.criterion(1.0, 0.0, 4) == 1.0
    assert curriculum.criterion(0.25, np.log(4), 4) == pytest.approx(-0.75)
    config = CurriculumConfig(curriculum="snr")
    with pytest.raises(KwsError, match="drop --background_snr_db"):
        config.check_augment(AugmentConfig(background_snr_db="0"))
    with pytest.raises(KwsError, match="--reverb_probability"):
        config.check_augment(AugmentConfig(reverb_probability=0.2))
    with pytest.raises(KwsError, match="--curriculum_patience"):
        CurriculumConfig(curriculum_patience=0).validate()


def test_curriculum_moves_through_stages_and_a_resumed_run_continues_in_its_stage(
        data_dir, tmp_path, capsys):
    whole = tmp_path / "whole"
    assert _run(_flags(data_dir, whole, 40)) == 0
    out = json.loads((whole / "out.json").read_text())
    printed = capsys.readouterr().out
    assert out["curriculum_stage"] >= 1 and "curriculum stage 1 (noise clean,20" in printed
    # The same run stopped at step 20 and restarted: the same stage, the same weights.
    parts = tmp_path / "parts"
    assert _run(_flags(data_dir, parts, 20)) == 0
    stage_at_20 = json.loads((parts / "out.json").read_text())["curriculum_stage"]
    assert _run(_flags(data_dir, parts, 40)) == 0
    resumed = json.loads((parts / "out.json").read_text())
    assert resumed["start_step"] == 20 and resumed["curriculum_stage"] == out["curriculum_stage"]
    assert stage_at_20 <= out["curriculum_stage"]
    ours = model_weights(resumed["latest_checkpoint"])
    theirs = model_weights(out["latest_checkpoint"])
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    events = list((whole / "logs" / "validation").glob("events.*"))
    assert events


def test_curriculum_needs_noise_files(tmp_path, capsys):
    quiet = make_dataset(tmp_path / "quiet", speakers=12, noise=False)
    assert _run(_flags(quiet, tmp_path, 8)) != 0
    assert "no _background_noise_ files" in capsys.readouterr().err
