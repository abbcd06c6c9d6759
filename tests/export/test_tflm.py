"""TensorFlow Lite Micro: it runs every architecture of the zoo, int8, giving LiteRT's outputs
(the GRU's up to 15 codes apart); label_wav.py --runtime tflm; freeze.py's arena size; a model
TFLM cannot run is one error line.

The tflite-micro package has Linux x86-64 wheels only; elsewhere these tests skip, except those
of what happens without it.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras
from kws_tf import features
from kws_tf.commands import freeze, label_wav
from kws_tf.config import FeatureConfig
from kws_tf.data import pipeline
from kws_tf.data.wav import read_wav, write_wav
from kws_tf.export import interpreter, tflite
from kws_tf.models import build_model
from kws_tf.quant import restore
from tests.conftest import REPO, TINY_FEATURES, exit_code, make_dataset, train_tiny

CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=40, dct_coefficient_count=10)
# Small sizes of every architecture but ds_cnn_bf, which is the trained model.
SIZES = {"dnn": [32, 32], "cnn": [8, 10, 4, 1, 1, 8, 10, 4, 2, 1, 16, 32],
         "basic_lstm": [16], "lstm": [12, 16], "gru": [2, 16], "crnn": [8, 10, 4, 2, 2, 1, 16, 16],
         "ds_cnn": [2, 16, 10, 4, 2, 2, 16, 3, 3, 1, 1]}
ARCHITECTURES = ["ds_cnn_bf"] + sorted(SIZES)
# TFLM gives LiteRT's int8 outputs exactly, except for the GRU: TFLM's FULLY_CONNECTED rounds
# twice (gemmlowp's way) where LiteRT's rounds once, LiteRT's optimized QUANTIZE is a code off
# its reference kernel at times, and the GRU's recurrence carries such codes on to its output.
# Measured: 2 codes apart at most on the generated maps; up to 15, and one other top label, on
# the real clips (speech, which this tone-trained GRU was not calibrated for).
GRU_CODES_APART = {"generated": 2, "real": 15}
# Checks in a child process whether TFLM allocates a model in an arena of a given size (a too
# small arena can crash the Python interpreter instead of failing).
ALLOCATES = ("import sys\nfrom tflite_micro.python.tflite_micro import runtime\n"
             "runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), "
             "arena_size=int(sys.argv[2]))\n")


@pytest.fixture(scope="module")
def micro():
    return pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ds_cnn_bf trained for 40 steps on tones (yes, no; cat and dog are _unknown_)."""
    work = tmp_path_factory.mktemp("tflm")
    data = make_dataset(work / "data")
    train_tiny(data, work)
    best = json.loads((work / "train" / "checkpoint_state.json").read_text())["best"]
    wavs = sorted(path for path in data.glob("*/*.wav") if "_background_" not in str(path))
    feature_maps = np.stack([pipeline.clip_features(str(path), CONFIG) for path in wavs])
    labels = np.array([{"yes": 2, "no": 3}.get(path.parent.name, 1) for path in wavs])
    return {"best": best, "model": restore.load(best)[0], "wavs": wavs,
            "features": feature_maps, "labels": labels}


@pytest.fixture(scope="module")
def int8_model(trained):
    """architecture -> its int8 flatbuffer, converted when first asked for. Other models than
    the trained one are fitted briefly (seeded): untrained, some give 0.25 for every label."""
    cache = {}

    def convert(architecture):
        if architecture not in cache:
            model = trained["model"]
            if architecture != "ds_cnn_bf":
                keras.utils.set_random_seed(0)
                model = build_model(architecture, SIZES[architecture], CONFIG.shape, 4)
                model.compile(keras.optimizers.Adam(0.01),
                              keras.losses.SparseCategoricalCrossentropy(from_logits=True))
                model.fit(trained["features"], trained["labels"], batch_size=16, epochs=5,
                          verbose=0)
            cache[architecture] = tflite.convert(model, int8=True,
                                                 representative_features=trained["features"])
        return cache[architecture]

    return convert


def _generated_maps(trained):
    """Tone clips, silence and noise spread over the MFCC range: what the int8 input sees."""
    rng = np.random.default_rng(0)
    silence = features.mfcc(np.zeros((1, 16000), np.float32), CONFIG).numpy()
    noise = rng.uniform(-60, 20, (4,) + CONFIG.shape).astype(np.float32)
    return np.concatenate([trained["features"][::4], silence, noise])


def _int8_outputs(run, feature_maps):
    """The raw int8 outputs of `run` (LiteRT's or TFLM's interpreter) for each feature map,
    its input quantized as a microcontroller would."""
    source, sink = run.get_input_details()[0], run.get_output_details()[0]
    scale, zero_point = source["quantization"]
    outputs = []
    for feature_map in feature_maps:
        x = np.clip(np.round(feature_map / scale) + zero_point, -128, 127).astype(np.int8)
        run.set_tensor(source["index"], x[np.newaxis])
        run.invoke()
        outputs.append(run.get_tensor(sink["index"]).reshape(-1))
    return np.array(outputs)


def _assert_runs_as_litert(architecture, flatbuffer, feature_maps, inputs):
    litert = interpreter.create(flatbuffer)
    litert.allocate_tensors()
    expected = _int8_outputs(litert, feature_maps)
    ours = _int8_outputs(interpreter.MicroInterpreter(flatbuffer), feature_maps)
    assert ours.dtype == expected.dtype == np.int8 and ours.shape == (len(feature_maps), 4)
    assert len({tuple(row) for row in expected}) > 1  # outputs that depend on the input
    apart = np.abs(ours.astype(int) - expected).max()
    allowed = GRU_CODES_APART[inputs] if architecture == "gru" else 0
    assert apart <= allowed, (architecture, ours, expected)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tflm_gives_litert_int8_outputs_on_generated_maps(micro, trained, int8_model,
                                                          architecture):
    _assert_runs_as_litert(architecture, int8_model(architecture), _generated_maps(trained),
                           "generated")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tflm_gives_litert_int8_outputs_on_real_clips(micro, trained, int8_model, architecture,
                                                      fixtures_dir):
    clips = sorted((fixtures_dir / "audio").glob("*.wav"))
    feature_maps = np.stack([pipeline.clip_features(str(path), CONFIG) for path in clips])
    assert len(feature_maps) == 5
    _assert_runs_as_litert(architecture, int8_model(architecture), feature_maps, "real")


def _spectrum_model():
    """A float model that takes a spectrum of the features: RFFT2D, which TFLM lacks (LiteRT's
    wants powers of two)."""
    spectrum = tf.function(lambda mfcc: tf.nn.softmax(
        tf.reduce_mean(tf.abs(tf.signal.rfft2d(mfcc[:, :16, :8])), axis=1)[:, :4]))
    concrete = spectrum.get_concrete_function(tf.TensorSpec([1, 25, 10], tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


def _label_wav(argv, capsys):
    code = exit_code(label_wav.main, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_model_with_an_op_tflm_lacks_is_one_error_line(micro, trained, tmp_path, capsys):
    flatbuffer = _spectrum_model()
    with pytest.raises(interpreter.MicroCannotRun, match="builtin opcode 'RFFT2D'"):
        interpreter.MicroInterpreter(flatbuffer)
    with pytest.raises(interpreter.MicroCannotRun, match="RFFT2D"):
        interpreter.micro_arena(flatbuffer)
    graph = tmp_path / "spectrum.tflite"
    graph.write_bytes(flatbuffer)
    (tmp_path / "labels.txt").write_text("_silence_\n_unknown_\nyes\nno\n")
    argv = ["--graph", graph, "--wav", trained["wavs"][0]] + TINY_FEATURES
    assert _label_wav(argv, capsys)[::2] == (0, "")  # LiteRT runs it
    message = (f"error: --graph {graph}: TensorFlow Lite Micro cannot run this model (Didn't "
               "find op for builtin opcode 'RFFT2D'; Failed to get registration from op code "
               "RFFT2D)\n")
    assert _label_wav(argv + ["--runtime", "tflm"], capsys) == (2, "", message)
    # Through the real script: TFLM's own lines on the C stderr do not get through either.
    run = subprocess.run([sys.executable, REPO / "label_wav.py", "--runtime", "tflm"]
                         + [str(arg) for arg in argv], capture_output=True, text=True, cwd=REPO)
    assert (run.returncode, run.stdout, run.stderr) == (2, "", message)


def _freeze(trained, output, *extra):
    json_out = output.with_suffix(".json")
    assert exit_code(freeze.main, ["--checkpoint", trained["best"], "--output_file", output,
                                   "--json_out", json_out, *extra]) == 0
    return json.loads(json_out.read_text())


def _allocates(path, arena_size):
    return subprocess.run([sys.executable, "-c", ALLOCATES, path, str(arena_size)],
                          capture_output=True).returncode == 0


def test_label_wav_tflm_prints_litert_labels_and_scores(micro, trained, tmp_path, capsys):
    """Through freeze.py (int8, with its arena size) and label_wav.py on clips and a stream."""
    model = tmp_path / "kws_int8.tflite"
    figures = _freeze(trained, model, "--quantize", "int8", "--representative_samples", 40)
    arena = figures["tflm"]
    assert arena["tflite_micro"] == pytest.importorskip("tflite_micro").__version__
    assert 1024 <= arena["arena_bytes"] and 0 < arena["arena_used_bytes"]
    assert _allocates(model, arena["arena_bytes"]) and not _allocates(model,
                                                                       arena["arena_bytes"] - 1)
    assert "TensorFlow Lite Micro arena: " in capsys.readouterr().out

    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for path in trained["wavs"][::6]:
        write_wav(wavs / f"{path.parent.name}_{path.name}", read_wav(path))
    silence = np.zeros(8000, np.float32)
    write_wav(wavs / "stream.wav", np.concatenate([silence] + [
        np.concatenate([read_wav(path), silence]) for path in trained["wavs"][24::12]]))
    argv = ["--graph", model, "--wav", wavs, "--how_many_labels", 4]
    litert, tflm = _label_wav(argv, capsys), _label_wav(argv + ["--runtime", "tflm"], capsys)
    assert litert == tflm and tflm[0] == 0 and "windows of 1000 ms" in tflm[1]
    results = [json.loads(_label_wav(argv + ["--output", "json", "--runtime", runtime],
                                     capsys)[1]) for runtime in ("litert", "tflm")]
    assert (results[0]["model"], results[1]["model"]) == (
        "TFLite model", "TFLite model in TensorFlow Lite Micro")
    assert results[0]["results"] == results[1]["results"]


def test_float_freeze_reports_the_arena_too(micro, trained, tmp_path, capsys):
    model = tmp_path / "kws.tflite"
    arena = _freeze(trained, model)["tflm"]
    assert arena["arena_bytes"] >= 1024 and _allocates(model, arena["arena_bytes"])
    printed = capsys.readouterr().out
    assert f"TensorFlow Lite Micro arena: {arena['arena_bytes']:,} bytes" in printed


def test_without_tflite_micro_label_wav_says_so_and_freeze_goes_on(trained, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "tflite_micro.python.tflite_micro", None)
    model = tmp_path / "kws.tflite"
    arena = _freeze(trained, model)["tflm"]
    assert list(arena) == ["not_measured"]
    assert arena["not_measured"].startswith("the tflite-micro package does not import here (")
    printed = capsys.readouterr().out
    assert "TensorFlow Lite Micro arena: not measured (the tflite-micro package" in printed
    code, out, err = _label_wav(["--graph", model, "--wav", trained["wavs"][0], "--runtime",
                                 "tflm"], capsys)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("error: --runtime tflm: the tflite-micro package does not import here")
    code, out, err = _label_wav(["--graph", tmp_path / "kws.pb", "--wav", trained["wavs"][0],
                                 "--runtime", "tflm"], capsys)
    assert (code, err) == (2, f"error: --runtime tflm runs .tflite models, not --graph "
                              f"{tmp_path / 'kws.pb'}\n")
