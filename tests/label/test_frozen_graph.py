import json
import wave

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.errors import KwsError
from kws_tf.label.frozen_graph import FrozenGraphModel
from tests.label import FEATURES, LABELS, clip, frozen_graph_bytes, label_wav, write_model


def _session_scores(graph_path, wav_paths):
    """What Hello Edge's label_wav computed: the file's bytes into wav_data:0."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph_path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return np.concatenate([session.run("labels_softmax:0", {"wav_data:0": path.read_bytes()})
                               for path in wav_paths])


def test_hello_edge_graphs_give_the_scores_of_a_direct_session_run(fixtures_dir, capsys):
    clips = sorted((fixtures_dir / "audio").glob("*.wav"))
    graphs = sorted((fixtures_dir / "hello_edge").glob("*_S.pb"))
    assert len(clips) == 5 and len(graphs) == 7
    labels = (fixtures_dir / "hello_edge" / "labels.txt").read_text().split("\n")
    for graph in graphs:
        code, out, _ = label_wav(["--graph", graph, "--wav", fixtures_dir / "audio",
                                  "--how_many_labels", "12", "--output", "json"], capsys)
        assert code == 0
        results = json.loads(out)["results"]
        assert [result["wav"] for result in results] == [str(path) for path in clips]
        ours = np.array([[{top["label"]: top["score"] for top in result["top"]}[label]
                          for label in labels] for result in results], np.float32)
        np.testing.assert_array_equal(ours, _session_scores(graph, clips), err_msg=graph.name)


def test_the_graph_fixes_the_clip_length_and_feature_settings(tmp_path):
    model = FrozenGraphModel(write_model(tmp_path, "tone.pb", frozen_graph_bytes(8000)),
                             "wav_data:0", "labels_softmax:0", {})
    assert model.output_count == len(LABELS)
    assert model.features.desired_samples == 8000 and model.features.clip_duration_ms == 500
    assert (model.features.window_size_ms, model.features.window_stride_ms,
            model.features.dct_coefficient_count) == (40, 20, 10)


def test_flags_must_agree_with_the_graph(tmp_path):
    path = write_model(tmp_path, "tone.pb", frozen_graph_bytes())
    agreeing = {"window_size_ms": 40.0, "dct_coefficient_count": 10, "clip_duration_ms": 1000.0}
    assert FrozenGraphModel(path, "wav_data:0", "labels_softmax:0", agreeing).features == FEATURES
    with pytest.raises(KwsError, match=r"--window_stride_ms 10 disagrees with --graph .*tone.pb, "
                                       r"which uses 20"):
        FrozenGraphModel(path, "wav_data:0", "labels_softmax:0", {"window_stride_ms": 10.0})


def _write_stereo_24bit(path, samples, rate):
    """A 24-bit stereo wav (right channel at half level), which DecodeWav cannot read."""
    frames = np.stack([samples, samples * 0.5], axis=1)
    ints = np.clip(np.round(frames * 2 ** 23), -2 ** 23, 2 ** 23 - 1).astype("<i4")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(3)
        out.setframerate(rate)
        out.writeframes(ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes())


def test_other_rates_channels_and_depths_are_converted_for_the_graph(tmp_path, capsys):
    graph = write_model(tmp_path, "tone.pb", frozen_graph_bytes())
    t = np.arange(44100) / 44100
    _write_stereo_24bit(tmp_path / "low_44k.wav", 0.4 * np.sin(2 * np.pi * 500 * t), 44100)
    code, out, err = label_wav(["--graph", graph, "--wav", tmp_path / "low_44k.wav",
                                "--how_many_labels", "1"], capsys)
    assert code == 0
    assert out.startswith("low (score = 0.99")
    assert "low_44k.wav: 44100 Hz 2 channels 24-bit PCM read as 16000 Hz mono" in err


@pytest.mark.parametrize("flag, name, message", [
    ("--input_name", "decoded_sample_data:0", "a float32 tensor .* feeds wav file bytes"),
    ("--input_name", "nothing:0", "no such tensor in --graph"),
    ("--output_name", "labels_softmax:7", "no such tensor in --graph"),
])
def test_tensor_names_are_checked(tmp_path, flag, name, message):
    names = {"--input_name": "wav_data:0", "--output_name": "labels_softmax:0", flag: name}
    with pytest.raises(KwsError, match=f"{flag} {name}: {message}"):
        FrozenGraphModel(write_model(tmp_path, "tone.pb", frozen_graph_bytes()),
                         names["--input_name"], names["--output_name"], {})


def test_several_clips_are_scored_in_one_call(tmp_path):
    model = FrozenGraphModel(write_model(tmp_path, "tone.pb", frozen_graph_bytes()),
                             "wav_data:0", "labels_softmax:0", {})
    scores = model.probabilities([clip("_silence_"), clip("low"), clip("high", amplitude=0.05)])
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2]
