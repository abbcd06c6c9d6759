"""The whole chain in C (wav -> MFCC -> integer graph -> label) against quant_test.py's
integer graph, on the host and on an emulated Cortex-M4.

The C front end computes in float32 where TensorFlow's kernels use double, so a feature that
lands within float32 rounding of a rounding boundary can come out one step apart: such clips
are counted and reported; every clip whose integer map is identical must give identical
logits.
"""
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from kws_tf import features
from kws_tf.commands import quant_test
from kws_tf.config import FeatureConfig
from kws_tf.data import pipeline
from kws_tf.export import hardware
from kws_tf.models import checkpoint
from tests.conftest import TINY_FEATURES, exit_code, make_dataset, train_tiny

pytestmark = pytest.mark.skipif(hardware.host_compiler() is None or not shutil.which("make"),
                                reason="no C compiler or make")
CORTEX_M4_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A tiny ds_cnn_bf, its quant_test.py export built for the host, and its clips."""
    work = tmp_path_factory.mktemp("chain")
    data = make_dataset(work / "data", speakers=20)
    train_tiny(data, work, steps=40)
    folder = work / "export"
    assert exit_code(quant_test.main, [
        "--checkpoint", work / "train", "--data_url=", "--data_dir", data, "--wanted_words",
        "yes,no", "--export_dir", folder, "--json_out", work / "quant.json"]
        + TINY_FEATURES) == 0
    subprocess.run(["make", "-s", "host"], cwd=folder, check=True, capture_output=True)
    prefix, _ = checkpoint.find(work / "train")
    info = checkpoint.read_info(prefix)
    wavs = sorted(str(path) for path in data.glob("*/*.wav") if "_background_" not in str(path))
    return {"folder": folder, "wavs": wavs, "figures": json.loads((work / "quant.json")
                                                                   .read_text()),
            "config": FeatureConfig(**info["features"])}


def _run(program, args, cwd):
    return subprocess.run([program, *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.splitlines()


def _python_maps(export):
    figures = export["figures"]
    maps = np.stack([pipeline.clip_features(path, export["config"]) for path in export["wavs"]])
    return features.quantize(maps, figures["input_bits"], figures["input_frac_bits"])


def _c_maps(export):
    lines = _run(export["folder"] / "kws_host", ["--features", *export["wavs"]], export["folder"])
    return np.array([[int(v) for v in line.split()[1:]] for line in lines]).reshape(
        len(export["wavs"]), *export["config"].shape)


def _reference_logits(export, maps):
    """The C integer graph's driver (bit-exact with the numpy graph) on Python's maps."""
    driver = hardware.compile_driver(str(export["folder"]))
    text = "\n".join(" ".join(map(str, m.ravel())) for m in maps)
    lines = subprocess.run([driver], input=text, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return [[int(v) for v in line.split()[2:]] for line in lines if line.startswith("fc1 acc")]


def test_host_chain_gives_the_integer_graphs_logits(export, capsys):
    python_maps, c_maps = _python_maps(export), _c_maps(export)
    same_map = [np.array_equal(p, c) for p, c in zip(python_maps, c_maps)]
    identical_values = np.mean(python_maps == c_maps)
    assert np.abs(python_maps - c_maps).max() <= 1  # one rounding step at most
    assert identical_values >= 0.999, identical_values
    lines = _run(export["folder"] / "kws_host", export["wavs"], export["folder"])
    logits = [[int(v) for v in line.split()[2:]] for line in lines]
    expected = _reference_logits(export, python_maps)
    for wav, same, ours, theirs in zip(export["wavs"], same_map, logits, expected):
        if same:
            assert ours == theirs, wav
    with capsys.disabled():
        print(f"\nC chain: {len(same_map)} clips, {sum(same_map)} with identical integer maps "
              f"({identical_values:.4%} of values identical), "
              f"{len(same_map) - sum(same_map)} with a value one rounding step apart")


@pytest.mark.slow
@pytest.mark.skipif(not all(shutil.which(tool) for tool in CORTEX_M4_TOOLS),
                    reason="no arm-none-eabi-gcc or qemu-system-arm")
def test_cortex_m4_image_prints_what_the_host_prints(export):
    folder, wavs = export["folder"], export["wavs"][::7]
    subprocess.run(["make", "-s", "cortex-m4"], cwd=folder, check=True, capture_output=True)
    run = subprocess.run(["make", "-s", "run-cortex-m4", f"WAVS={' '.join(wavs)}"], cwd=folder,
                         capture_output=True, text=True, timeout=300, check=True)
    assert run.stdout.splitlines() == _run(folder / "kws_host", wavs, folder)
    profiles = [line.split() for line in run.stderr.splitlines() if line.startswith("profile ")]
    assert len(profiles) == len(wavs)
    stages = dict(zip(profiles[0][2::2], map(int, profiles[0][3::2])))
    assert list(stages)[:2] == ["mfcc", "conv_1"] and min(stages.values()) > 0


def test_a_missing_or_odd_wav_is_one_error_line(export, tmp_path):
    stereo = tmp_path / "stereo.wav"
    from kws_tf.data.wav import write_wav

    write_wav(stereo, np.zeros(1600, np.float32), 8000)
    program = export["folder"] / "kws_host"
    run = subprocess.run([program, str(tmp_path / "missing.wav"), str(stereo),
                          export["wavs"][0]], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"error: {tmp_path / 'missing.wav'}: cannot open the file",
        f"error: {stereo}: not 16-bit PCM mono at the model's rate"]
    assert len(run.stdout.splitlines()) == 1 and pathlib.Path(export["wavs"][0]).name in run.stdout
