"""Training under faults: SIGKILL at random points, no disk space, read-only folders, NaNs,
and the same seed giving the same weights."""
import json
import os
import pty
import random
import re
import signal
import subprocess
import sys
import time
from collections import namedtuple

import numpy as np
import pytest

from kws_tf.config import AugmentConfig, DataConfig, FeatureConfig
from kws_tf.data import pipeline, speech_commands
from kws_tf.quant import restore
from kws_tf.commands import train as train_command
from kws_tf.train import checkpoints
from tests.conftest import REPO, exit_code, make_dataset, model_weights

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("faults") / "data", speakers=40)


def _flags(data_dir, work, steps=40, extra=()):
    """train.py flags; `steps` may be a comma list (a phase of learning rate 0.01, then
    0.005 ones)."""
    phases = str(steps).count(",")
    return (["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
             "--train_dir", str(work / "train"), "--summaries_dir", str(work / "logs"),
             "--how_many_training_steps", str(steps),
             "--learning_rate", "0.01" + ",0.005" * phases,
             "--eval_step_interval", "10", "--save_step_interval", "5", "--batch_size", "20",
             "--json_out", str(work / "out.json")] + FEATURES + list(extra))


def _run(argv):
    return exit_code(train_command.main, argv)


def _assert_train_dir_is_sound(train_dir):
    """The committed state names checkpoints that load, and the best is still there."""
    state_path = train_dir / checkpoints.STATE_FILE
    if not state_path.exists():
        return None
    state = json.loads(state_path.read_text())
    for prefix in state["latest"] + ([state["best"]] if state["best"] else []):
        restore.load(prefix)  # raises when half-written or missing
    return state


@pytest.mark.slow
def test_sigkill_at_random_points_always_leaves_a_resumable_run(data_dir, tmp_path):
    """Kills at 5 random moments (with a save every step, many fall inside a checkpoint
    write); each rerun resumes from a sound checkpoint, never redoes more than a save
    interval, and the finished run (two learning-rate phases) equals an uninterrupted one
    bit for bit."""
    phases, steps, save_every = "25,20", 45, 1
    flags = _flags(data_dir, tmp_path, phases, ["--save_step_interval", str(save_every)])
    rng = random.Random(7)
    bests, reached = set(), 0
    for kill in range(5):
        # On a terminal (a pty) the progress bar redraws after every step.
        terminal, child_side = pty.openpty()
        process = subprocess.Popen([sys.executable, "-u", "train.py"] + flags, cwd=REPO,
                                   stdout=child_side, stderr=child_side)
        os.close(child_side)
        output = b""
        deadline = time.time() + 120
        target = reached + rng.randint(3, 8)  # steps into this run before the kill
        while time.time() < deadline:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            output += chunk
            progress = [int(n) for n in re.findall(rb"\r\s*(\d+)/%d" % steps, output)]
            if progress and progress[-1] >= target:
                time.sleep(rng.uniform(0, 0.05))
                break
        process.send_signal(signal.SIGKILL)
        process.wait()
        os.close(terminal)
        progress = [int(n) for n in re.findall(rb"\r\s*(\d+)/%d" % steps, output)]
        state = _assert_train_dir_is_sound(tmp_path / "train")
        assert state is not None and state["latest"], output.decode()[-2000:]
        resume_step = int(state["latest"][-1].rsplit("-", 1)[1])
        # Steps done and then lost to the kill: at most one save interval (plus the step
        # whose progress line was not printed yet).
        assert resume_step >= max(progress, default=0) - save_every - 1
        assert resume_step >= reached  # never goes backwards
        reached = resume_step
        if state["best"]:
            bests.add(state["best"])
        for best in bests & set(state.get("best_history", [])):
            assert os.path.exists(best + ".index")
    assert _run(flags) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["start_step"] == reached and out["steps"] == steps and reached < steps
    assert os.path.exists(out["best_checkpoint"] + ".index")

    clean = tmp_path / "clean"
    assert _run(_flags(data_dir, clean, phases, ["--save_step_interval", str(save_every)])) == 0
    ours = model_weights(out["latest_checkpoint"])
    theirs = model_weights(json.loads((clean / "out.json").read_text())["latest_checkpoint"])
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_same_seed_gives_identical_weights_and_another_seed_does_not(data_dir, tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert _run(_flags(data_dir, tmp_path / name, 20, ["--seed", str(seed)])) == 0
        runs[name] = model_weights(json.loads((tmp_path / name / "out.json").read_text())
                              ["latest_checkpoint"])
    for key in runs["a"]:
        np.testing.assert_array_equal(runs["a"][key], runs["b"][key], err_msg=key)
    assert any(not np.array_equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


def test_full_disk_is_an_error_before_loading_data(tmp_path, capsys, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: usage(10, 10, 1000))
    # A data_dir that does not exist proves the check comes first.
    assert _run(_flags(tmp_path / "no_data", tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MiB free, but its checkpoints need about" in err[0]
    assert not (tmp_path / "train" / checkpoints.STATE_FILE).exists()


@pytest.mark.parametrize("where", ["/proc/kws_tf_train", "/sys/kws_tf_train"])
def test_read_only_train_dir_is_an_error_before_loading_data(tmp_path, capsys, where):
    # A data_dir that does not exist proves the check comes first.
    assert _run(_flags(tmp_path / "no_data", tmp_path, extra=["--train_dir", where])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and where in err[0] and "cannot write" in err[0]


def test_check_nans_stops_with_the_step_and_the_batchs_files(data_dir, tmp_path, capsys):
    assert _run(_flags(data_dir, tmp_path, 40, ["--learning_rate", "1e30",
                                                "--check_nans"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--check_nans: NaN or Inf" in err[0], err
    step = int(re.search(r"at step (\d+)", err[0]).group(1))
    assert 1 <= step <= 40
    files = err[0].split("files: ", 1)[1].split(", ")
    assert len(files) == 20
    assert all(f == "_silence_" or f.startswith(str(data_dir)) for f in files)
    assert not (tmp_path / "train" / f"ds_cnn_bf.ckpt-{step}.index").exists()


def test_batch_paths_names_the_items_of_each_training_batch(data_dir):
    config = FeatureConfig(window_size_ms=40, window_stride_ms=40, dct_coefficient_count=10)
    index = speech_commands.build_index(DataConfig(
        data_dir=str(data_dir), wanted_words=("yes", "no", "cat", "dog")))
    split = pipeline.load_splits(index, config, ("training",))["training"]
    label_of = {}
    for item in index.splits["training"]:
        label_of.setdefault(item.path or "_silence_", item.label)
    batch = 7  # does not divide the split: batches cross epoch boundaries
    stream = iter(split.train_dataset(batch, AugmentConfig(), seed=5, start_step=0))
    for step in range(3 * len(split) // batch):
        labels = next(stream)[1].numpy()
        paths = split.batch_paths(batch, 5, step)
        assert [label_of[p] for p in paths] == labels.tolist(), step
