import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf import features
from kws_tf.errors import KwsError
from kws_tf.label.tflite_model import TfliteModel
from kws_tf.data.wav import write_wav
from tests.label import FEATURES, LABELS, clip, keras_model, label_wav, tflite_bytes, write_model

CLIPS = [clip("_silence_"), clip("low", amplitude=0.05), clip("high", 0.7, amplitude=0.5),
         clip("low", 1.3)]


def _reference(softmax_model):
    """The float Keras model on the clips' MFCCs (padded or cut to the clip, as DecodeWav)."""
    audio = np.stack([features.pad_or_trim(c, FEATURES.desired_samples) for c in CLIPS])
    return keras_model(softmax_model)(features.mfcc(audio, FEATURES)).numpy()


def test_a_float_model_ending_in_logits_gets_a_softmax(tmp_path):
    model = TfliteModel(write_model(tmp_path, "tone.tflite", tflite_bytes()), {})
    assert model.features == FEATURES and model.output_count == 3
    expected = tf.nn.softmax(_reference(softmax_model=False)).numpy()
    np.testing.assert_allclose(model.probabilities(CLIPS), expected, atol=1e-5)


def test_an_int8_model_is_fed_quantized_features_and_its_output_dequantized(tmp_path):
    model = TfliteModel(write_model(tmp_path, "tone.tflite", tflite_bytes(True, int8=True)), {})
    scores = model.probabilities(CLIPS)
    assert scores.dtype == np.float32
    assert list(np.argmax(scores, axis=1)) == [0, 1, 2, 1]
    np.testing.assert_allclose(scores, _reference(softmax_model=True), atol=0.02)


def test_without_metadata_the_feature_flags_describe_the_input(tmp_path, capsys):
    path = write_model(tmp_path, "bare.tflite", tflite_bytes(True, metadata=False))
    with pytest.raises(KwsError, match=r"takes input \[1, 49, 10\], but the feature settings "
                                       r"give 98 frames x 40 coefficients .* give the model's"):
        TfliteModel(path, {})
    flags = ["--window_size_ms", "40", "--window_stride_ms", "20", "--dct_coefficient_count", "10"]
    wav = tmp_path / "high.wav"
    write_wav(wav, clip("high"))
    code, out, err = label_wav(["--graph", path, "--wav", wav, "--how_many_labels", "1"] + flags,
                               capsys)
    assert (code, err) == (0, "") and out.startswith("high (score = 0.99")


def test_labels_come_from_the_metadata_when_no_labels_file_is_beside_it(tmp_path, capsys):
    path = write_model(tmp_path, "tone.tflite", tflite_bytes(), labels=False)
    wav = tmp_path / "low.wav"
    write_wav(wav, clip("low"))
    code, out, _ = label_wav(["--graph", path, "--wav", wav, "--output", "json"], capsys)
    figures = json.loads(out)
    assert code == 0 and figures["labels_file"] == "" and figures["labels"] == LABELS
    assert figures["results"][0]["top"][0]["label"] == "low"


def test_flags_must_agree_with_the_metadata(tmp_path):
    path = write_model(tmp_path, "tone.tflite", tflite_bytes())
    with pytest.raises(KwsError, match=r"--dct_coefficient_count 13 disagrees with the metadata "
                                       r"of --graph .*tone.tflite, which uses 10"):
        TfliteModel(path, {"dct_coefficient_count": 13})


def test_a_file_that_is_not_a_tflite_model_is_named(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(KwsError, match=f"--graph {path}: not a TFLite model"):
        TfliteModel(str(path), {})
    with pytest.raises(KwsError, match=f"--graph {tmp_path / 'missing.tflite'}: no such file"):
        TfliteModel(str(tmp_path / "missing.tflite"), {})
