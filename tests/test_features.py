import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.config import FeatureConfig
from kws_tf import features
from kws_tf.commands import features as features_command
from kws_tf.errors import KwsError
from tests.conftest import tone

HELLO_EDGE = FeatureConfig(window_size_ms=40, window_stride_ms=20,
                                    dct_coefficient_count=10)


def _decode(path):
    return tf.audio.decode_wav(tf.io.read_file(str(path)), desired_channels=1,
                               desired_samples=16000).audio[:, 0].numpy()


def test_matches_the_mfcc_node_of_hello_edges_ds_cnn_graph(fixtures_dir):
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((fixtures_dir / "hello_edge" / "DS_CNN_S.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    clips = sorted((fixtures_dir / "audio").glob("*.wav"))
    assert len(clips) >= 5
    with tf.compat.v1.Session(graph=graph) as session:
        reference = np.concatenate([session.run("Mfcc:0", {"wav_data:0": clip.read_bytes()})
                                    for clip in clips])
    ours = features.mfcc(np.stack([_decode(c) for c in clips]), HELLO_EDGE).numpy()
    assert ours.shape == reference.shape == (len(clips), 49, 10)
    assert np.abs(ours - reference).max() < 1e-4


def test_a_batch_gives_the_same_features_as_single_clips():
    clips = np.stack([tone(f, amplitude=a) for f, a in [(300, .5), (1200, .1), (3000, .9)]])
    batched = features.mfcc(clips, HELLO_EDGE).numpy()
    single = np.concatenate([features.mfcc(c[None], HELLO_EDGE).numpy() for c in clips])
    np.testing.assert_array_equal(batched, single)


@pytest.mark.parametrize("window, stride, dct, shape", [
    (40, 20, 10, (49, 10)), (40, 40, 10, (25, 10)), (30, 10, 40, (98, 40))])
def test_frame_counts_are_hello_edges(window, stride, dct, shape):
    config = FeatureConfig(window_size_ms=window, window_stride_ms=stride,
                                    dct_coefficient_count=dct)
    assert config.shape == shape
    assert features.mfcc(np.zeros((2, 16000), np.float32), config).shape == (2,) + shape


@pytest.mark.parametrize("overrides, flag", [
    ({"window_size_ms": 1200}, "--window_size_ms"), ({"window_stride_ms": 0}, "--window_stride_ms"),
    ({"dct_coefficient_count": 41}, "--dct_coefficient_count"),
    ({"sample_rate": 0}, "--sample_rate"), ({"feature_bits": 1}, "--feature_bits"),
    ({"feature_bits": 17}, "--feature_bits"), ({"feature_type": "mel"}, "--feature_type"),
    ({"feature_type": "log_mel", "mel_bands": 0}, "--mel_bands"),
    ({"mel_bands": 64}, "--mel_bands")])
def test_impossible_settings_name_the_flag(overrides, flag):
    with pytest.raises(KwsError, match=flag):
        FeatureConfig(**overrides).validate()


def _mfcc_dct(log_mel, count):
    """The Mfcc op's DCT (mfcc_dct.cc): sqrt(2 / C) cos(pi i (j + 0.5) / C), no special row."""
    channels = log_mel.shape[-1]
    i, j = np.meshgrid(np.arange(count), np.arange(channels), indexing="ij")
    dct = np.sqrt(2.0 / channels) * np.cos(i * np.pi / channels * (j + 0.5))
    return log_mel.astype(np.float64) @ dct.T


@pytest.mark.parametrize("window, stride", [(30, 10), (40, 20)])
def test_the_dct_of_log_mel_is_the_mfcc_ops_output(window, stride):
    """Two implementations of the filterbank and log (ours, numpy-built; TF's Mfcc kernel)
    agree: the Mfcc op's DCT of our 40 log mel bands gives its MFCCs."""
    clips = np.stack([tone(300, amplitude=0.5),
                      tone(1250, amplitude=0.05) + tone(3100, amplitude=0.2),
                      np.random.default_rng(0).uniform(-0.3, 0.3, 16000).astype(np.float32),
                      np.zeros(16000, np.float32)])
    mfcc_config = FeatureConfig(window_size_ms=window, window_stride_ms=stride)
    log_mel_config = FeatureConfig(window_size_ms=window, window_stride_ms=stride,
                                   feature_type="log_mel")
    log_mel = features.compute(clips, log_mel_config).numpy()
    assert log_mel.shape == (4,) + log_mel_config.shape == (4, mfcc_config.shape[0], 40)
    reference = features.compute(clips, mfcc_config).numpy()
    assert np.abs(_mfcc_dct(log_mel, 40) - reference).max() < 2e-4
    assert log_mel[3].max() == pytest.approx(np.log(1e-12))  # silence: the op's floor


def test_log_mel_bands_cover_the_mfcc_range():
    """64 bands: every band takes weight from some bin; a bin's weights sum to one (below the
    top band's centre, past which only its falling side remains)."""
    weights = features.mel_filterbank(16000, 257, 64)
    assert weights.shape == (257, 64)
    assert (weights.sum(axis=0) > 0).all()
    sums = weights.sum(axis=1)[weights.sum(axis=1) > 0]
    assert np.allclose(sums[:-4], 1.0) and (np.diff(sums[-5:]) < 0).all()
    config = FeatureConfig(feature_type="log_mel", mel_bands=64)
    assert config.shape == (98, 64)
    assert features.compute(np.zeros((1, 16000), np.float32), config).shape == (1, 98, 64)


def test_choose_frac_bits_and_quantize():
    assert features.choose_frac_bits(123.6, 6) == -2      # 123.6 / 4 = 30.9 fits in 31
    assert features.choose_frac_bits(31.0, 6) == 0
    assert features.choose_frac_bits(0.9, 6) == 5         # 0.9 * 32 = 28.8
    assert features.choose_frac_bits(15.5, 6) == 1
    q = features.quantize([-200.0, -123.6, 0.5, 1.5, 2.5, 31.9], 6, -2)
    np.testing.assert_array_equal(q, [-32, -31, 0, 0, 1, 8])
    assert q.dtype == np.int32


@pytest.mark.parametrize("bits, frac_bits", [(6, 0), (6, -2), (8, 1)])
def test_feature_bits_give_the_integer_graphs_input_at_the_mfcc_scale(bits, frac_bits):
    config = FeatureConfig(window_size_ms=40, window_stride_ms=20,
                                    dct_coefficient_count=10)
    rounded = FeatureConfig(**{**config.__dict__, "feature_bits": bits,
                                        "feature_frac_bits": frac_bits}).validate()
    clips = np.stack([tone(440), tone(1200, amplitude=0.05), np.zeros(16000, np.float32)])
    exact = features.mfcc(clips, config).numpy()
    maps = features.mfcc(clips, rounded).numpy()
    integers = features.quantize(exact, bits, frac_bits)
    np.testing.assert_array_equal(maps * 2.0 ** frac_bits, integers)
    assert integers.min() == -2 ** (bits - 1)  # silence's first coefficient saturates
    assert not np.array_equal(maps, exact)


def _run(capsys, argv):
    code = None
    try:
        code = features_command.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr()


def test_cli_prints_frames_as_rows(tmp_path, capsys, fixtures_dir):
    wav = fixtures_dir / "audio" / "yes_1000ms.wav"
    flags = ["--wav", str(wav), "--window_size_ms", "40", "--window_stride_ms", "20",
             "--dct_coefficient_count", "10"]
    code, out = _run(capsys, flags)
    assert code == 0
    rows = [line for line in out.out.splitlines() if not line.startswith("#")]
    printed = np.array([[float(v) for v in row.split()] for row in rows])
    expected = features.mfcc(_decode(wav)[None], HELLO_EDGE).numpy()[0]
    assert printed.shape == (49, 10)
    np.testing.assert_allclose(printed, expected, atol=1e-4)

    code, out = _run(capsys, flags + ["--quantize_bits", "6", "--output_file",
                                      str(tmp_path / "q.npy"), "--json_out",
                                      str(tmp_path / "q.json")])
    assert code == 0
    saved = np.load(tmp_path / "q.npy")
    report = json.loads((tmp_path / "q.json").read_text())
    assert saved.dtype == np.int32 and saved.min() >= -32 and saved.max() <= 31
    frac_bits = report["input_frac_bits"]
    np.testing.assert_array_equal(saved, features.quantize(expected, 6, frac_bits))
    assert np.abs(saved).max() > 16  # the chosen scale uses the range


def test_cli_errors_are_one_line(tmp_path, capsys):
    code, out = _run(capsys, ["--wav", str(tmp_path / "missing.wav")])
    assert code == 2
    assert out.err.count("\n") == 1 and "missing.wav" in out.err
    code, out = _run(capsys, ["--wav", "x.wav", "--windo_stride_ms", "20"])
    assert code == 2 and "--windo_stride_ms" in out.err
