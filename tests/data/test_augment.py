import hashlib

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.config import AugmentConfig, FeatureConfig, parse_snr_conditions
from kws_tf.data import augment, rir
from kws_tf.errors import KwsError

CONFIG = FeatureConfig()
# sha256 of Hello Edge's augmentation of the inputs below, as kws-tf computed it before the
# SNR and reverberation options existed (pipeline.SplitData._augment at c5cb46b).
HELLO_EDGE_DIGEST = "eba72c004143a06d9255266716b8ef361d69a8435c861fe85ec7834242178977"


def _inputs():
    rng = np.random.default_rng(1234)
    clips = (rng.standard_normal((8, 16000)) * 0.1).astype(np.float32)
    noise = [(rng.standard_normal(n) * 0.3).astype(np.float32) for n in (20000, 16000, 40000)]
    starts = np.cumsum([0] + [len(x) for x in noise[:-1]]).astype(np.int64)
    lengths = np.array([len(x) for x in noise], np.int64)
    return clips, (tf.constant(np.concatenate(noise)), tf.constant(starts), tf.constant(lengths))


def _augmented(settings, clips=None, rooms=None):
    default_clips, background = _inputs()
    clips = default_clips if clips is None else clips
    augmenter = augment.Augmenter(FeatureConfig(), settings, background, rooms)
    return augmenter(tf.constant(clips), tf.constant([7, 11], tf.int64)).numpy()


def test_hello_edge_augmentation_is_bit_identical_to_before_the_new_options():
    rooms = rir.normalize(np.eye(1, 100)[0])[np.newaxis]
    for settings in (AugmentConfig(), AugmentConfig(rir_bank_size=7, rir_dir="unused")):
        digest = hashlib.sha256(_augmented(settings, rooms=rooms).tobytes()).hexdigest()
        assert digest == HELLO_EDGE_DIGEST


def test_active_rms_counts_only_the_frames_with_speech():
    clip = np.zeros((1, 16000), np.float32)
    clip[0, 3200:6400] = 0.5 * np.sin(np.arange(3200) * 0.3)
    expected = np.sqrt(np.mean(clip[0, 3200:6400] ** 2))
    np.testing.assert_allclose(augment.active_rms(tf.constant(clip)).numpy(), [expected],
                               rtol=1e-5)
    assert augment.active_rms(tf.zeros([1, 16000])).numpy()[0] == 0


@pytest.mark.parametrize("snr", [20.0, 0.0, -10.0])
def test_mix_at_snr_gives_the_ratio_against_the_active_speech(snr):
    rng = np.random.default_rng(0)
    clip = np.zeros((1, 16000), np.float32)
    clip[0, 4000:9000] = 0.05 * rng.standard_normal(5000)
    window = (0.2 * rng.standard_normal((1, 16000))).astype(np.float32)
    mixed = augment.mix_at_snr(tf.constant(clip), tf.constant(window), tf.constant([snr]))
    mixed = mixed.numpy()[0]
    # mixed = (clip + gain * window) / peak: the noise gain from where there is no speech,
    # then the peak (a mix that would clip is scaled down whole) from where there is.
    noise_gain = np.median(mixed[:4000] / window[0, :4000])
    speech = mixed - noise_gain * window[0]
    peak = np.median(clip[0, 4000:9000] / speech[4000:9000])
    speech_rms = augment.active_rms(tf.constant(clip)).numpy()[0] / peak
    measured = 20 * np.log10(speech_rms / np.sqrt(np.mean((noise_gain * window) ** 2)))
    assert abs(measured - snr) < 0.05
    assert np.max(np.abs(mixed)) <= 1.0


def test_silent_clips_get_noise_only_at_a_given_level():
    window = tf.constant(np.full((2, 16000), 0.5, np.float32))
    silent = tf.zeros([2, 16000])
    assert not np.any(augment.mix_at_snr(silent, window, tf.constant([0.0, 0.0])).numpy())
    mixed = augment.mix_at_snr(silent, window, tf.constant([0.0, 20.0]), 0.1).numpy()
    np.testing.assert_allclose(np.sqrt(np.mean(mixed ** 2, axis=1)), [0.1, 0.01], rtol=1e-5)


def test_reverberate_in_tensorflow_equals_numpy_and_keeps_a_delta_in_place():
    rooms = rir.simulate_bank(3, 2)
    clips = np.random.default_rng(1).standard_normal((2, 16000)).astype(np.float32)
    ours = augment.reverberate(tf.constant(clips), tf.constant(rooms)).numpy()
    for clip, room, row in zip(clips, rooms, ours):
        np.testing.assert_allclose(row, rir.reverberate(clip, room), atol=2e-4)
    delta = rir.normalize(np.eye(1, 50, 10)[0])
    impulse = np.eye(1, 16000, 500, dtype=np.float32)
    out = augment.reverberate(tf.constant(impulse), tf.constant(delta[np.newaxis])).numpy()
    np.testing.assert_allclose(out, impulse, atol=1e-5)


def test_snr_conditions_clean_only_leave_speech_clean_and_silence_to_the_volume_rule():
    clips, _ = _inputs()
    clips[0] = 0  # a silence item
    settings = AugmentConfig(time_shift_ms=0, background_frequency=1.0,
                             background_snr_db="clean")
    out = _augmented(settings, clips)
    np.testing.assert_array_equal(out[1:], clips[1:])
    assert np.any(out[0])
    noisy = _augmented(AugmentConfig(time_shift_ms=0, background_snr_db="-5:5"), clips)
    assert all(not np.array_equal(a, b) for a, b in zip(noisy[1:], clips[1:]))


def test_reverb_probability_reverberates_that_share_of_the_clips():
    clips = np.zeros((200, 16000), np.float32)
    clips[:, 1000] = 0.5
    rooms = rir.simulate_bank(0, 3)
    settings = AugmentConfig(time_shift_ms=0, background_frequency=0, reverb_probability=0.3)
    out = augment.Augmenter(FeatureConfig(), settings, None, rooms)(
        tf.constant(clips), tf.constant([1, 2], tf.int64)).numpy()
    wet = np.mean([not np.array_equal(a, b) for a, b in zip(out, clips)])
    assert 0.2 < wet < 0.4


def test_snr_lists_parse_and_bad_ones_name_the_flag():
    assert parse_snr_conditions("clean, 10,-5:5") == (None, (10.0, 10.0), (-5.0, 5.0))
    assert parse_snr_conditions("") == ()
    for bad in ("loud", "5:-5", "1:2:3", "10,,0"):
        with pytest.raises(KwsError, match="--background_snr_db"):
            parse_snr_conditions(bad)
    with pytest.raises(KwsError, match="--reverb_probability"):
        AugmentConfig(reverb_probability=1.5).validate()
    with pytest.raises(KwsError, match="needs rooms"):
        AugmentConfig(reverb_probability=0.5, rir_bank_size=0).validate()


def test_time_shift_is_hello_edges_pad_and_slice():
    ramp = np.arange(1, 16001, dtype=np.float32)[np.newaxis].repeat(8, 0) / 32768.0
    out = augment.Augmenter(CONFIG, AugmentConfig(100, 0, 0))(
        tf.constant(ramp), tf.constant([7, 1], tf.int64)).numpy()
    shifts = set()
    for row in out:
        # Delayed: zeros then 1, 2, ...; advanced: starts later in the ramp, zeros at the end.
        first = np.flatnonzero(row)[0]
        shift = first if first > 0 else -(round(row[0] * 32768.0) - 1)
        expected = np.zeros(16000, np.float32)
        if shift >= 0:
            expected[shift:] = ramp[0, :16000 - shift]
        else:
            expected[:16000 + shift] = ramp[0, -shift:]
        np.testing.assert_array_equal(row, expected)
        assert -1600 <= shift < 1600
        shifts.add(shift)
    assert len(shifts) == 8


def test_noise_is_a_window_of_one_noise_file_at_a_bounded_gain():
    noise = np.concatenate([np.full(20000, 0.5, np.float32),
                            np.linspace(-1, 1, 30000, dtype=np.float32)])
    background = (tf.constant(noise), tf.constant([0, 20000], tf.int64),
                  tf.constant([20000, 30000], tf.int64))
    out = augment.Augmenter(CONFIG, AugmentConfig(0, 0.5, 0.1), background)(
        tf.zeros([64, 16000]), tf.constant([3, 9], tf.int64)).numpy()
    silent = [row for row in out if not row.any()]
    assert 10 < len(silent) < 54  # background_frequency 0.5
    for row in out:
        if not row.any():
            continue
        constant = np.allclose(row, row[0])
        if constant:  # the first file: 0.5 * gain
            assert 0 < row[0] <= 0.05
        else:  # a window of the ramp: consecutive differences are gain * step
            step = np.diff(row)
            np.testing.assert_allclose(step, step.mean(), rtol=1e-2)  # float32 steps
            gain = step.mean() / (2 / 29999)
            assert 0 < gain <= 0.1


def _masked(settings, feats, config=CONFIG):
    augmenter = augment.Augmenter(config, settings)
    return augmenter.mask(tf.constant(feats), tf.constant([3, 5], tf.int64)).numpy()


def test_spec_augment_is_off_by_default_and_masks_runs_with_the_clips_mean():
    feats = np.random.default_rng(0).standard_normal((64, 49, 10)).astype(np.float32) + 3.0
    assert np.array_equal(_masked(AugmentConfig(), feats), feats)
    out = _masked(AugmentConfig(time_masks_number=1, time_mask_max_size=8), feats)
    changed = np.any(out != feats, axis=2)                        # [clip, frame]
    assert np.all(np.any(out != feats, axis=1) == np.any(changed, axis=1)[:, None])
    sizes = changed.sum(axis=1)
    assert sizes.max() <= 8 and len(set(sizes)) > 3                # 0..8 frames, drawn per clip
    for clip, row in zip(range(len(feats)), changed):
        frames = np.flatnonzero(row)
        if len(frames):
            assert np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))  # one run
            np.testing.assert_allclose(out[clip, frames], np.broadcast_to(
                feats[clip].mean(axis=0), (len(frames), 10)), rtol=1e-5)
    out = _masked(AugmentConfig(frequency_masks_number=2, frequency_mask_max_size=3), feats)
    coefficients = np.any(out != feats, axis=1)                    # [clip, coefficient]
    assert np.all(np.any(out != feats, axis=2) == np.any(coefficients, axis=1)[:, None])
    assert 0 < coefficients.sum(axis=1).max() <= 6
    again = _masked(AugmentConfig(frequency_masks_number=2, frequency_mask_max_size=3), feats)
    assert np.array_equal(out, again)                              # a pure function of the key


def test_spec_augment_fills_with_values_the_feature_bits_can_hold():
    config = FeatureConfig(feature_bits=6, feature_frac_bits=1)
    feats = np.round(np.random.default_rng(1).uniform(-30, 30, (16, 49, 10)) * 2) / 2
    out = _masked(AugmentConfig(time_masks_number=2), feats.astype(np.float32), config)
    assert np.any(out != feats)
    np.testing.assert_array_equal(out * 2, np.round(out * 2))


def test_spec_augment_sizes_must_not_be_negative():
    for flag in ("time_masks_number", "time_mask_max_size", "frequency_masks_number",
                 "frequency_mask_max_size"):
        with pytest.raises(KwsError, match=f"--{flag}"):
            AugmentConfig(**{flag: -1}).validate()
