import json
import re
import subprocess
import sys

import numpy as np
import pytest

from kws_tf.data.wav import read_wav, write_wav
from tests.conftest import REPO
from tests.label import LABELS, clip, frozen_graph_bytes, label_wav, tflite_bytes, write_model

SCORE_LINE = re.compile(r"^(\S+) \(score = (\d\.\d{5})\)$")


@pytest.fixture
def tone_graph(tmp_path):
    return write_model(tmp_path, "tone.pb", frozen_graph_bytes())


@pytest.fixture
def wavs(tmp_path):
    folder = tmp_path / "wavs"
    folder.mkdir()
    for label, name in [("low", "low.wav"), ("high", "high.wav"), ("_silence_", "silence.wav")]:
        write_wav(folder / name, clip(label))
    (folder / "notes.txt").write_text("not a wav, and not listed")
    return folder


def test_a_clip_gives_hello_edges_lines_best_first(tone_graph, wavs, capsys):
    code, out, err = label_wav(["--graph", tone_graph, "--wav", wavs / "low.wav"], capsys)
    assert (code, err) == (0, "")
    lines = [SCORE_LINE.match(line).groups() for line in out.splitlines()]
    assert [label for label, _ in lines] == ["low", "high", "_silence_"]
    scores = [float(score) for _, score in lines]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.99


@pytest.mark.parametrize("how_many, lines", [("1", 1), ("3", 3), ("10", 3)])
def test_how_many_labels(tone_graph, wavs, capsys, how_many, lines):
    code, out, _ = label_wav(["--graph", tone_graph, "--wav", wavs / "high.wav",
                              "--how_many_labels", how_many], capsys)
    assert code == 0 and len(out.splitlines()) == lines and out.startswith("high (score")


def test_files_and_folders_give_one_block_per_file(tone_graph, wavs, capsys):
    code, out, _ = label_wav(["--graph", tone_graph, "--wav", wavs, wavs / "low.wav",
                              "--how_many_labels", "1"], capsys)
    assert code == 0
    blocks = [block.splitlines() for block in out.strip().split("\n\n")]
    assert blocks == [[f"# {wavs / name}", SCORE_LINE.match(block[1]).group(0)]
                      for name, block in zip(["high.wav", "low.wav", "silence.wav", "low.wav"],
                                             blocks)]
    assert [SCORE_LINE.match(block[1]).group(1) for block in blocks] == [
        "high", "low", "_silence_", "low"]


def test_json_output_and_json_out_hold_the_same_results(tone_graph, wavs, tmp_path, capsys):
    json_out = tmp_path / "out" / "labels.json"
    code, out, _ = label_wav(["--graph", tone_graph, "--wav", wavs, "--output", "json",
                              "--json_out", json_out], capsys)
    assert code == 0
    printed = json.loads(out)
    assert printed == json.loads(json_out.read_text())
    assert printed["labels"] == LABELS and printed["model"] == "frozen graph"
    assert printed["labels_file"] == str(tmp_path / "tone_labels.txt")
    assert printed["features"]["window_stride_ms"] == 20
    assert [(r["wav"], r["mode"], r["top"][0]["label"]) for r in printed["results"]] == [
        (str(wavs / "high.wav"), "clip", "high"), (str(wavs / "low.wav"), "clip", "low"),
        (str(wavs / "silence.wav"), "clip", "_silence_")]


def _long_recording(path, parts):
    """Writes the parts one after the other; returns where each keyword starts (ms)."""
    starts, position = [], 0
    for label, samples in parts:
        if label != "_silence_":
            starts.append((label, position * 1000 / 16000))
        position += len(samples)
    write_wav(path, np.concatenate([samples for _, samples in parts]))
    return starts


def _assert_found(result, starts, tolerance_ms=300):
    found = [(d["label"], d["time_ms"]) for d in result["detections"]]
    assert [label for label, _ in found] == [label for label, _ in starts], found
    for (_, time), (_, start) in zip(found, starts):
        assert abs(time - start) <= tolerance_ms, found


@pytest.mark.parametrize("model", ["tone.pb", "tone.tflite"])
def test_a_long_recording_is_scanned_for_keywords(tmp_path, capsys, model):
    content = frozen_graph_bytes() if model.endswith(".pb") else tflite_bytes()
    graph = write_model(tmp_path, model, content)
    silence = clip("_silence_")
    starts = _long_recording(tmp_path / "long.wav", [
        ("_silence_", silence), ("low", clip("low")), ("_silence_", clip("_silence_", 1.5)),
        ("high", clip("high", amplitude=0.1)), ("_silence_", clip("_silence_", 1.5)),
        ("low", clip("low", 0.8)), ("_silence_", silence)])
    code, out, _ = label_wav(["--graph", graph, "--wav", tmp_path / "long.wav",
                              "--output", "json"], capsys)
    assert code == 0
    result = json.loads(out)["results"][0]
    assert result["mode"] == "stream" and result["windows"] == 1 + (7800 - 1000) // 30
    _assert_found(result, starts)
    code, out, _ = label_wav(["--graph", graph, "--wav", tmp_path / "long.wav"], capsys)
    lines = out.splitlines()
    assert lines[0] == f"# {tmp_path / 'long.wav'}: 7800 ms, 227 windows of 1000 ms every 30 ms"
    assert [re.match(r"^\d+ ms: (\S+) \(score = \d\.\d{5}\)$", line).group(1)
            for line in lines[1:]] == ["low", "high", "low"]


def test_hello_edges_ds_cnn_finds_yes_and_no_in_a_long_recording(fixtures_dir, tmp_path, capsys):
    audio = fixtures_dir / "audio"
    yes, no = read_wav(audio / "yes_1000ms.wav"), read_wav(audio / "no_1000ms.wav")
    silence = np.zeros(16000, np.float32)
    starts = _long_recording(tmp_path / "yes_no_yes.wav", [
        ("_silence_", silence), ("yes", yes), ("_silence_", silence), ("no", no),
        ("_silence_", silence), ("yes", yes), ("_silence_", silence)])
    code, out, _ = label_wav(["--graph", fixtures_dir / "hello_edge" / "DS_CNN_S.pb",
                              "--wav", tmp_path / "yes_no_yes.wav", "--output", "json"], capsys)
    assert code == 0
    _assert_found(json.loads(out)["results"][0], starts)


def test_a_clip_a_little_longer_than_the_model_is_still_one_clip(tone_graph, tmp_path, capsys):
    write_wav(tmp_path / "long_clip.wav", clip("low", 1.05))    # 2 windows: fewer than 3
    code, out, _ = label_wav(["--graph", tone_graph, "--wav", tmp_path / "long_clip.wav"],
                             capsys)
    assert code == 0 and out.startswith("low (score = 0.99")


def _bad_inputs(tmp_path):
    """name -> (argv after --graph tone.pb, expected error message)."""
    (tmp_path / "text.wav").write_text("hello")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "two_labels.txt").write_text("a\nb\n")
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "model.pb").write_bytes(frozen_graph_bytes())
    write_wav(tmp_path / "ok.wav", clip("low"))
    rate = bytearray((tmp_path / "ok.wav").read_bytes())
    rate[24:28] = (500).to_bytes(4, "little")
    (tmp_path / "500hz.wav").write_bytes(bytes(rate))
    ok = ["--wav", tmp_path / "ok.wav"]
    return {
        "not a wav": (["--wav", tmp_path / "text.wav"],
                      f"{tmp_path / 'text.wav'}: not a wav file"),
        "empty wav": (["--wav", tmp_path / "ok.wav", tmp_path / "empty.wav"],
                      f"{tmp_path / 'empty.wav'}: empty file"),
        "missing wav": (["--wav", tmp_path / "none.wav"], f"{tmp_path / 'none.wav'}: no such file"),
        "unusable rate": (["--wav", tmp_path / "500hz.wav"],
                          f"{tmp_path / '500hz.wav'}: unsupported sample rate (500 Hz"),
        "missing graph": (ok + ["--graph", tmp_path / "none.pb"],
                          f"--graph {tmp_path / 'none.pb'}: no such file"),
        "not a graph": (ok + ["--graph", tmp_path / "text.wav"],
                        f"--graph {tmp_path / 'text.wav'}: not a binary TensorFlow GraphDef"),
        "labels count": (ok + ["--labels", tmp_path / "two_labels.txt"],
                         f"--labels {tmp_path / 'two_labels.txt'}: 2 labels, but --graph "
                         f"{tmp_path / 'tone.pb'} gives 3 scores"),
        "missing labels": (ok + ["--labels", tmp_path / "none.txt"],
                           f"--labels {tmp_path / 'none.txt'}: no such file"),
        "no labels beside": (ok + ["--graph", tmp_path / "alone" / "model.pb"],
                             f"--graph {tmp_path / 'alone' / 'model.pb'}: no labels file beside "
                             f"it (looked for {tmp_path / 'alone' / 'model_labels.txt'} and "
                             f"{tmp_path / 'alone' / 'labels.txt'}); give --labels"),
        "unknown flag": (ok + ["--wav_file", "x"], "unrecognized arguments: --wav_file x"),
        "bad stride": (ok + ["--stride_ms", "0"], "--stride_ms must be positive, got 0"),
    }


@pytest.mark.parametrize("case", ["not a wav", "empty wav", "missing wav", "unusable rate",
                                  "missing graph", "not a graph", "labels count",
                                  "missing labels", "no labels beside", "unknown flag",
                                  "bad stride"])
def test_bad_input_is_one_error_line_naming_it(tone_graph, tmp_path, capsys, case):
    argv, message = _bad_inputs(tmp_path)[case]
    code, out, err = label_wav(["--graph", tone_graph] + argv, capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


@pytest.mark.parametrize("case", ["not a wav", "labels count"])
def test_the_script_prints_only_the_error_line(tone_graph, tmp_path, case):
    """Through the real script: no traceback and no TensorFlow log lines on stderr."""
    argv, message = _bad_inputs(tmp_path)[case]
    run = subprocess.run([sys.executable, REPO / "label_wav.py", "--graph", tone_graph] + argv,
                         capture_output=True, text=True, cwd=REPO)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert message in run.stderr
