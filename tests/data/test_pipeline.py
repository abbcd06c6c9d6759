import numpy as np
import pytest
import tensorflow as tf

from kws_tf.config import AugmentConfig, DataConfig, FeatureConfig
from kws_tf import features
from kws_tf.data import pipeline, speech_commands as sc
from kws_tf.data.wav import write_wav
from tests.conftest import make_dataset, tone

CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)
NO_AUGMENT = AugmentConfig(time_shift_ms=0, background_frequency=0, background_volume=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("pipeline"), speakers=30)
    index = sc.build_index(DataConfig(data_dir=str(root), wanted_words=("yes", "no")))
    return index, pipeline.load_splits(index, CONFIG)


def _take(dataset, batches):
    return [(f.numpy(), l.numpy()) for f, l in dataset.take(batches)]


def test_eval_batches_are_the_decoded_files_in_index_order(data):
    index, splits = data
    items = index.splits["validation"]
    got = _take(splits["validation"].eval_dataset(batch_size=7), 100)
    feats = np.concatenate([f for f, _ in got])
    labels = np.concatenate([l for _, l in got])
    assert feats.shape == (len(items), 49, 10)
    np.testing.assert_array_equal(labels, [item.label for item in items])
    for row, item in zip(feats, items):
        audio = (tf.audio.decode_wav(tf.io.read_file(item.path), 1, 16000).audio[:, 0].numpy()
                 if item.path else np.zeros(16000, np.float32))
        np.testing.assert_allclose(row, features.mfcc(audio[None], CONFIG).numpy()[0], atol=1e-5)


def test_training_stream_is_reproducible_and_resumable(data):
    _, splits = data
    train = splits["training"]
    augment = AugmentConfig()
    first = _take(train.train_dataset(16, augment, seed=3), 8)
    again = _take(train.train_dataset(16, augment, seed=3), 8)
    resumed = _take(train.train_dataset(16, augment, seed=3, start_step=5), 3)
    other = _take(train.train_dataset(16, augment, seed=4), 8)
    for (f1, l1), (f2, l2) in zip(first, again):
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(l1, l2)
    for (f1, l1), (f2, l2) in zip(first[5:], resumed):
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(l1, l2)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))
    assert first[0][0].shape == (16, 49, 10)


def test_every_epoch_visits_each_clip_once(data):
    _, splits = data
    train = splits["training"]
    size = len(train)
    batch = 1
    got = _take(train.train_dataset(batch, NO_AUGMENT, seed=0), 2 * size)
    reference = {f.tobytes() for f, _ in _take(train.eval_dataset(1), size)}
    for epoch in range(2):
        seen = [f.tobytes() for f, _ in got[epoch * size:(epoch + 1) * size]]
        assert sorted(seen) == sorted(f.tobytes() for f, _ in _take(train.eval_dataset(1), size))
        assert set(seen) == reference
    assert [f.tobytes() for f, _ in got[:size]] != [f.tobytes() for f, _ in got[size:]]


def test_augmentation_shifts_and_mixes_noise(data):
    _, splits = data
    train = splits["training"]
    clean = {f.tobytes() for f, _ in _take(train.eval_dataset(1), len(train))}
    shifted = _take(train.train_dataset(1, AugmentConfig(100, 0, 0), seed=1), 40)
    assert sum(f.tobytes() not in clean for f, _ in shifted) > 30
    noisy = _take(train.train_dataset(1, AugmentConfig(0, 1.0, 0.5), seed=1), 40)
    silence = [f for f, l in noisy if l[0] == sc.SILENCE_INDEX]
    zero_silence = features.mfcc(np.zeros((1, 16000), np.float32), CONFIG).numpy()
    assert silence and all(not np.allclose(f, zero_silence) for f in silence)


def test_files_needing_conversion_are_converted(tmp_path):
    root = make_dataset(tmp_path, words=("yes", "no"), speakers=20, noise=False)
    # Same speaker id as an existing standard clip, but stereo at 44.1 kHz.
    sample = tone(300, 1.0, 44100, amplitude=0.3)
    path = root / "yes" / "00000004_nohash_7.wav"
    import wave
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        stereo = np.repeat((sample * 32767).astype("<i2")[:, None], 2, axis=1)
        out.writeframes(stereo.tobytes())
    index = sc.build_index(DataConfig(data_dir=str(root), wanted_words=("yes", "no"),
                                         silence_percentage=0, unknown_percentage=0))
    item = next(i for items in index.splits.values() for i in items if i.path == str(path))
    assert not item.standard
    audio = pipeline.load_audio([item], CONFIG)[0] / 32768.0
    expected = tone(300, 1.0, 16000, amplitude=0.3)
    # Same pitch and loudness after resampling and down-mixing.
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) - 300) <= 2
    assert abs(np.abs(audio[2000:14000]).max() - 0.3) < 0.03
    assert len(audio) == len(expected)


def test_background_noise_shorter_than_a_clip_is_tiled(tmp_path):
    write_wav(tmp_path / "short.wav", np.full(4000, 0.25, np.float32))
    noise, starts, lengths = pipeline.load_background([str(tmp_path / "short.wav")], CONFIG)
    assert lengths[0] >= 16000 and np.allclose(noise, 0.25, atol=1e-4)
