"""Shared test fixtures: the ../shared fixtures (skipped when absent) and tiny data sets."""
import os
import pathlib

import numpy as np
import pytest

import kws_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from kws_tf.data.wav import write_wav

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    """Simulated room banks go to a folder of the test session, not the user's cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("KWS_TF_CACHE", str(tmp_path_factory.mktemp("kws_tf_cache")))
    yield
    patch.undo()


@pytest.fixture
def fixtures_dir():
    """../shared/fixtures, or a clean skip in a user's clone that lacks it."""
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present (a user's clone)")
    return FIXTURES


def tone(frequency, seconds=1.0, sample_rate=16000, amplitude=0.5, phase=0.0):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


def make_dataset(root, words=("yes", "no", "cat", "dog"), speakers=12, clips_per_speaker=1,
                 noise=True, sample_rate=16000):
    """A tiny Speech-Commands-layout tree: each word is a tone of its own pitch.

    Speakers are named like the real data set (hex ids) so the hash split
    spreads them over the three partitions.
    """
    root = pathlib.Path(root)
    for word_index, word in enumerate(words):
        folder = root / word
        folder.mkdir(parents=True, exist_ok=True)
        for speaker in range(speakers):
            for n in range(clips_per_speaker):
                samples = tone(300 + 150 * word_index, 0.5 + 0.05 * n, sample_rate,
                               amplitude=0.1 + 0.02 * speaker, phase=speaker)
                write_wav(folder / f"{speaker:08x}_nohash_{n}.wav", samples, sample_rate)
    if noise:
        (root / "_background_noise_").mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        write_wav(root / "_background_noise_" / "white.wav",
                  rng.uniform(-0.5, 0.5, 3 * sample_rate), sample_rate)
    return root


@pytest.fixture
def tiny_dataset(tmp_path):
    return make_dataset(tmp_path / "data")


TINY_FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40",
                 "--dct_coefficient_count", "10"]


def exit_code(main, argv):
    """Runs a command's main in-process: its exit status (0, or SystemExit's code)."""
    try:
        return main([str(arg) for arg in argv])
    except SystemExit as exit_:
        return exit_.code


def train_tiny(data_dir, work, steps=40, extra=()):
    """train.py on a make_dataset tree, words yes and no, batch 20: its --json_out figures.
    Checkpoints go to work/train, TensorBoard logs to work/logs."""
    import json

    from kws_tf.commands import train as train_command

    out = pathlib.Path(work) / "train.json"
    assert exit_code(train_command.main, [
        "--data_url=", "--data_dir", data_dir, "--wanted_words", "yes,no",
        "--train_dir", pathlib.Path(work) / "train", "--summaries_dir",
        pathlib.Path(work) / "logs", "--how_many_training_steps", steps,
        "--learning_rate", "0.01", "--eval_step_interval", "20", "--save_step_interval", "20",
        "--batch_size", "20", "--json_out", out] + TINY_FEATURES + list(extra)) == 0
    return json.loads(out.read_text())


def model_weights(prefix):
    """{name: value} of the model's variables in checkpoint `prefix` (not the optimizer's)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith("model/")}


def tree_bytes(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out
