"""Training-time augmentation of a batch of clips, drawn per clip from a stateless key.

Hello Edge's (the default, bit for bit): a time shift drawn from [-shift, shift), then with
probability ``background_frequency`` a random window of a random noise file at a gain drawn
from [0, background_volume), the sum clipped to [-1, 1].

Multi-condition options (off unless their flags are set; they draw from a key folded off the
batch's, so Hello Edge's draws stay the same):

- ``--reverb_probability P``: a clip is convolved with a room impulse response of the bank
  (kws_tf.data.rir) with probability P, after the shift and before the noise.
- ``--background_snr_db``: a clip draws one of the listed conditions (``clean``, a level in dB,
  or a ``low:high`` range drawn uniformly) and gets the noise window at that signal-to-noise
  ratio, measured against the RMS of the clip's active speech (``active_rms``). Silence clips
  have no speech to measure: they keep Hello Edge's volume rule. A mix that would clip is
  scaled down as a whole, so the ratio holds.
- ``--time_masks_number`` / ``--frequency_masks_number`` (SpecAugment, on the features): runs
  of up to ``--time_mask_max_size`` frames, or ``--frequency_mask_max_size`` coefficients, of
  each clip take the clip's mean of each coefficient (rounded as --feature_bits rounds), so a
  mask hides detail without adding a level the features never have.
"""
import numpy as np
import tensorflow as tf

from kws_tf import features
from kws_tf.config import parse_snr_conditions
from kws_tf.data import rir

ACTIVE_FRAME = 320        # 20 ms at 16 kHz: the frames speech activity is judged on
ACTIVE_FLOOR_DB = -40.0   # frames this far below the loudest one are not speech
_TINY = 1e-10


def active_rms(clips):
    """RMS over the frames of each clip within ACTIVE_FLOOR_DB of its loudest: [batch]."""
    samples = clips.shape[-1] // ACTIVE_FRAME * ACTIVE_FRAME
    frames = tf.reshape(clips[:, :samples], [tf.shape(clips)[0], -1, ACTIVE_FRAME])
    energy = tf.reduce_mean(tf.square(frames), axis=-1)
    floor = tf.reduce_max(energy, axis=-1, keepdims=True) * 10.0 ** (ACTIVE_FLOOR_DB / 10.0)
    active = tf.cast(energy >= tf.maximum(floor, _TINY), tf.float32)
    total = tf.reduce_sum(energy * active, axis=-1)
    return tf.sqrt(total / tf.maximum(tf.reduce_sum(active, axis=-1), 1.0))


def mix_at_snr(clips, windows, snr_db, silence_level=0.0, speech=None):
    """Each clip plus its noise window scaled to `snr_db` ([batch]) against its active speech
    (`speech`, when the caller has already measured it); a mix peaking above 1 is scaled down
    whole. Silent clips take `silence_level` as their speech level (0: they get no noise)."""
    speech = active_rms(clips) if speech is None else speech
    speech = tf.where(speech <= _TINY, silence_level, speech)
    noise = tf.sqrt(tf.reduce_mean(tf.square(windows), axis=-1))
    gain = speech / tf.maximum(noise, _TINY) * 10.0 ** (-snr_db / 20.0)
    mixed = clips + gain[:, tf.newaxis] * windows
    peak = tf.reduce_max(tf.abs(mixed), axis=-1, keepdims=True)
    return mixed / tf.maximum(peak, 1.0)


def reverberate(clips, responses):
    """Each clip convolved with its response ([batch, RIR_SAMPLES], rir.normalize'd), same
    length; the direct path stays in place."""
    samples = clips.shape[-1]
    size = 1 << (samples + rir.RIR_SAMPLES - 2).bit_length()
    spectrum = tf.signal.rfft(clips, [size]) * tf.signal.rfft(responses, [size])
    return tf.signal.irfft(spectrum, [size])[:, rir.DIRECT_DELAY:rir.DIRECT_DELAY + samples]


class Augmenter:
    """The augmentation of one training stream: `augment` settings, noise and rooms fixed."""

    def __init__(self, feature_config, augment, background=None, rooms=None):
        self.feature_config = feature_config
        self.samples = feature_config.desired_samples
        self.shift_samples = int(augment.time_shift_ms * feature_config.sample_rate / 1000)
        self.augment = augment
        self.background = background
        self.rooms = None if rooms is None or not augment.reverb_probability else \
            tf.constant(rooms, tf.float32)
        conditions = parse_snr_conditions(augment.background_snr_db)
        self.conditions = None
        if conditions:
            self.conditions = (tf.constant([c is None for c in conditions]),
                               tf.constant([c[0] if c else 0.0 for c in conditions], tf.float32),
                               tf.constant([c[1] if c else 0.0 for c in conditions], tf.float32))

    def __call__(self, clips, key):
        """The augmented batch: clips float [batch, samples], key a stateless seed pair."""
        keys = tf.random.experimental.stateless_split(key, 5)
        more = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(key, 1), 4)
        clips = self._shift(clips, keys[0])
        if self.rooms is not None:
            clips = self._reverberate(clips, more[0], more[1])
        if self.background is not None:
            clips = self._add_noise(clips, keys, more[2:])
        return clips

    def mask(self, feats, key):
        """SpecAugment's masks on a batch of features [batch, frames, coefficients]."""
        augment = self.augment
        if not (augment.time_masks_number or augment.frequency_masks_number):
            return feats
        keys = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(key, 2),
            2 * (augment.time_masks_number + augment.frequency_masks_number))
        fill = features.quantize_tf(tf.reduce_mean(feats, axis=1, keepdims=True),
                                    self.feature_config)
        runs = [(1, augment.time_mask_max_size)] * augment.time_masks_number + \
            [(2, augment.frequency_mask_max_size)] * augment.frequency_masks_number
        for i, (axis, max_size) in enumerate(runs):
            masked = _mask_run(tf.shape(feats)[0], tf.shape(feats)[axis], max_size,
                               keys[2 * i], keys[2 * i + 1])
            masked = masked[:, :, tf.newaxis] if axis == 1 else masked[:, tf.newaxis, :]
            feats = tf.where(masked, fill, feats)
        return feats

    def _shift(self, clips, key):
        # Per-row slices (map_fn) cost a third of element-wise gathers here.
        if self.shift_samples <= 0:
            return clips
        shift_samples, samples = self.shift_samples, self.samples
        # A shift s > 0 delays the audio (zeros in front), s < 0 advances it.
        shift = tf.random.stateless_uniform([tf.shape(clips)[0]], key, -shift_samples,
                                            shift_samples, dtype=tf.int32)
        padded = tf.pad(clips, [[0, 0], [shift_samples, shift_samples]])
        return tf.map_fn(lambda row: tf.slice(row[0], [shift_samples - row[1]], [samples]),
                         (padded, shift), fn_output_signature=tf.float32)

    def _reverberate(self, clips, use_key, room_key):
        batch_size = tf.shape(clips)[0]
        use = tf.random.stateless_uniform([batch_size], use_key) < \
            self.augment.reverb_probability
        which = tf.random.stateless_uniform([batch_size], room_key, 0, tf.shape(self.rooms)[0],
                                            dtype=tf.int32)
        wet = reverberate(clips, tf.gather(self.rooms, which))
        return tf.where(use[:, tf.newaxis], wet, clips)

    def _add_noise(self, clips, keys, snr_keys):
        batch_size = tf.shape(clips)[0]
        noise, starts, lengths = self.background
        which = tf.random.stateless_uniform([batch_size], keys[1], 0, len(starts),
                                            dtype=tf.int32)
        room = tf.cast(tf.gather(lengths, which) - self.samples + 1, tf.float64)
        offset = tf.cast(tf.random.stateless_uniform([batch_size], keys[2],
                                                     dtype=tf.float64) * room, tf.int64)
        window = tf.map_fn(lambda first: tf.slice(noise, [first], [self.samples]),
                           tf.gather(starts, which) + offset, fn_output_signature=tf.float32)
        use = tf.random.stateless_uniform([batch_size], keys[3]) < \
            self.augment.background_frequency
        gain = tf.random.stateless_uniform([batch_size], keys[4], 0.0,
                                           self.augment.background_volume)
        gain = tf.where(use, gain, 0.0)[:, tf.newaxis]
        by_volume = tf.clip_by_value(clips + gain * window, -1.0, 1.0)
        if self.conditions is None:
            return by_volume
        speech = active_rms(clips)
        clean, low, high = self.conditions
        pick = tf.random.stateless_uniform([batch_size], snr_keys[0], 0, len(low),
                                           dtype=tf.int32)
        snr = tf.gather(low, pick) + tf.random.stateless_uniform([batch_size], snr_keys[1]) * \
            (tf.gather(high, pick) - tf.gather(low, pick))
        by_snr = tf.where(tf.gather(clean, pick)[:, tf.newaxis], clips,
                          mix_at_snr(clips, window, snr, speech=speech))
        return tf.where((speech <= _TINY)[:, tf.newaxis], by_volume, by_snr)


def _mask_run(batch_size, length, max_size, size_key, start_key):
    """[batch, length] bools: per row a run of 0..max_size positions at a uniform start."""
    size = tf.random.stateless_uniform([batch_size], size_key, 0, max_size + 1, dtype=tf.int32)
    size = tf.minimum(size, length)
    start = tf.cast(tf.random.stateless_uniform([batch_size], start_key) *
                    tf.cast(length - size + 1, tf.float32), tf.int32)
    position = tf.range(length)[tf.newaxis, :]
    return (position >= start[:, tf.newaxis]) & (position < (start + size)[:, tf.newaxis])


def rooms_for(augment, seed, sample_rate, resampler):
    """The impulse responses --reverb_probability draws from: the simulated bank of `seed`
    plus --rir_dir's; None when reverberation is off."""
    if not augment.reverb_probability:
        return None
    banks = [rir.bank(seed, augment.rir_bank_size, sample_rate)] if augment.rir_bank_size else []
    if augment.rir_dir:
        banks.append(rir.load_dir(augment.rir_dir, sample_rate, resampler))
    return np.concatenate(banks)
