"""tf.data pipelines from a DataIndex to batches of (MFCC features, label).

Every clip of a split is decoded once (in parallel) into an in-memory int16
array; epochs then draw from memory. The training stream is a pure function
of (seed, step): epoch e visits the clips in a permutation drawn from
(seed, e), and the clips of the batch of step s get their time shifts and
noise from (seed, s) through stateless random ops. So the same seed gives the same
batches and augmentation however many threads run the map calls, and a run
resumed at step s sees exactly the batches an uninterrupted run would.

Augmentation (kws_tf.data.augment) follows Hello Edge's ``get_data`` for
training only, with noise at a signal-to-noise ratio and reverberation as
options. Silence items are zeros (plus noise in training). Augmentation and
features run on whole batches (one AudioSpectrogram/Mfcc call per batch),
several batches in parallel.
"""

import numpy as np
import tensorflow as tf

from kws_tf import features
from kws_tf.config import DEFAULT_RESAMPLER
from kws_tf.data import speech_commands
from kws_tf.data.augment import Augmenter
from kws_tf.data.wav import read_wav
from kws_tf.errors import KwsError

AUTOTUNE = tf.data.AUTOTUNE
_DECODE_BATCH = 256


def _to_int16(audio):
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def _decode_standard(paths, desired_samples):
    """16-bit PCM files through tf.audio.decode_wav, in parallel: [len(paths), samples] int16."""
    def decode(path):
        wav = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1,
                                  desired_samples=desired_samples)
        return tf.cast(tf.round(wav.audio[:, 0] * 32768.0), tf.int16)

    dataset = (tf.data.Dataset.from_tensor_slices(paths)
               .map(decode, num_parallel_calls=AUTOTUNE)
               .batch(_DECODE_BATCH))
    out = np.zeros((len(paths), desired_samples), np.int16)
    try:
        for start, batch in zip(range(0, len(paths), _DECODE_BATCH), dataset):
            out[start:start + len(batch)] = batch.numpy()
    except tf.errors.OpError:
        _raise_for_bad_file(paths, desired_samples)
        raise
    return out


def _raise_for_bad_file(paths, desired_samples):
    """Finds which file made the parallel decode fail, to name it in the error."""
    for path in paths:
        try:
            tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1,
                                desired_samples=desired_samples)
        except tf.errors.OpError as error:
            raise KwsError(f"{path}: cannot decode ({error.message.splitlines()[0]})") from None


def load_audio(items, config, resampler=DEFAULT_RESAMPLER):
    """Decodes the clips of `items` once: returns int16 [len(items), desired_samples].

    Silence items stay zero; files that tf.audio.decode_wav cannot read exactly
    (other rates, bit depths, channel counts) go through read_wav's conversion.
    """
    samples = config.desired_samples
    audio = np.zeros((len(items), samples), np.int16)
    standard = [i for i, item in enumerate(items) if item.path and item.standard]
    if standard:
        audio[standard] = _decode_standard([items[i].path for i in standard], samples)
    for i, item in enumerate(items):
        if item.path and not item.standard:
            clip = read_wav(item.path, config.sample_rate, resampler)
            audio[i] = _to_int16(features.pad_or_trim(clip, samples))
    return audio


def load_background(paths, config, resampler=DEFAULT_RESAMPLER):
    """All noise files end to end, with the start and length of each.

    Files shorter than a clip are tiled to a clip's length so that any of them
    can supply a full window.
    """
    pieces = []
    for path in paths:
        noise = read_wav(path, config.sample_rate, resampler)
        if len(noise) < config.desired_samples:
            noise = np.tile(noise, -(-config.desired_samples // len(noise)))
        pieces.append(noise.astype(np.float32))
    starts = np.cumsum([0] + [len(piece) for piece in pieces[:-1]]).astype(np.int64)
    lengths = np.array([len(piece) for piece in pieces], np.int64)
    return np.concatenate(pieces), starts, lengths


def _epoch_order(size, seed, epoch):
    """The shuffled item order of one epoch: a pure function of (seed, epoch)."""
    keys = tf.random.stateless_uniform([size], seed=tf.stack([tf.constant(seed, tf.int64),
                                                              tf.cast(epoch, tf.int64)]))
    return tf.argsort(keys)


class SplitData:
    """The decoded clips and labels of one split, with its noise, ready to batch."""

    def __init__(self, items, feature_config, background=None, resampler=DEFAULT_RESAMPLER):
        self.feature_config = feature_config
        self.labels = np.array([item.label for item in items], np.int32)
        self.paths = [item.path or speech_commands.SILENCE_LABEL for item in items]
        self.audio = load_audio(items, feature_config, resampler)
        self.background = background

    def __len__(self):
        return len(self.labels)

    def eval_dataset(self, batch_size):
        """Every clip once, in index order, unaugmented; features are cached after one pass."""
        config = self.feature_config
        dataset = tf.data.Dataset.from_tensor_slices((self.audio, self.labels)).batch(batch_size)
        return (dataset.map(lambda audio, label: (features.compute(
                    tf.cast(audio, tf.float32) / 32768.0, config), label),
                    num_parallel_calls=AUTOTUNE)
                .cache().prefetch(AUTOTUNE))

    def train_dataset(self, batch_size, augment, seed, start_step=0, rooms=None,
                      with_index=False):
        """Endless shuffled, augmented batches; `start_step` resumes the stream mid-way.
        `rooms`: the impulse responses of --reverb_probability; `with_index` adds each clip's
        index in the split (for per-clip data parameters)."""
        config = self.feature_config
        size = len(self)
        if size == 0:
            raise KwsError("the training split is empty")
        audio = tf.constant(self.audio)
        labels = tf.constant(self.labels)
        first_epoch, offset = divmod(start_step * batch_size, size)
        seed = int(seed)

        def epoch_order(epoch):
            return tf.data.Dataset.from_tensor_slices(_epoch_order(size, seed, epoch))

        augmenter = Augmenter(config, augment, self.background, rooms)

        def batch(step, indices):
            clips = tf.cast(tf.gather(audio, indices), tf.float32) / 32768.0
            key = tf.stack([tf.constant(seed, tf.int64), step])
            feats = augmenter.mask(features.compute(augmenter(clips, key), config), key)
            pair = feats, tf.gather(labels, indices)
            return pair + (tf.cast(indices, tf.int32),) if with_index else pair

        return (tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
                .flat_map(epoch_order)
                .skip(offset)
                .batch(batch_size, drop_remainder=True)
                .enumerate(start=start_step)
                .map(batch, num_parallel_calls=AUTOTUNE)
                .prefetch(AUTOTUNE))

    def batch_paths(self, batch_size, seed, step):
        """The files of train_dataset's batch number `step` (for error messages)."""
        size = len(self)
        first = step * batch_size
        epochs = range(first // size, (first + batch_size - 1) // size + 1)
        order = np.concatenate([_epoch_order(size, int(seed), epoch).numpy() for epoch in epochs])
        start = first - epochs[0] * size
        return [self.paths[i] for i in order[start:start + batch_size]]


def load_splits(index, feature_config, splits=("training", "validation", "testing")):
    """SplitData for each requested split; training gets the background noise."""
    background = None
    if index.background_files:
        noise, starts, lengths = load_background(index.background_files, feature_config,
                                                 index.resampler)
        background = (tf.constant(noise), tf.constant(starts), tf.constant(lengths))
    return {name: SplitData(index.splits[name], feature_config,
                            background if name == "training" else None, index.resampler)
            for name in splits}


def clip_features(path, config, resampler=DEFAULT_RESAMPLER):
    """Feature map [frames, dct] of one wav file (any format the reader converts)."""
    audio = read_wav(path, config.sample_rate, resampler)
    audio = features.pad_or_trim(audio, config.desired_samples)
    return features.compute(audio[np.newaxis, :], config).numpy()[0]
