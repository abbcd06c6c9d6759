"""Data parameters (Saxena et al., 2019): a learned temperature per class and per training clip.

During training only, a clip's logits are divided by sigma = sigma_class + sigma_clip, both
learned by their own plain SGD (sparse: a step changes only the batch's clips and classes)
with weight decay on log sigma. A clip the model finds hard gets a high temperature, which
flattens its softmax and so weighs it less, until the model is ready for it: a curriculum the
data sets itself. Both start at 0.5 (sigma = 1: training starts as without them), are kept in
[SIGMA_MIN, SIGMA_MAX] and saved with the run's checkpoints; inference and every export never
see them.
"""
import dataclasses
import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from kws_tf import cli
from kws_tf.config import Settings, setting
from kws_tf.errors import KwsError

SIGMA_START = 0.5
SIGMA_MIN, SIGMA_MAX = 0.05, 20.0


@dataclasses.dataclass(frozen=True)
class DataParametersConfig(Settings):
    data_parameters: bool = setting(
        False, "Learn a temperature per class and per training clip that scales the logits "
               "during training only (data parameters; docs/robustness.md).",
        action="store_true")
    data_parameters_lr: float = setting(
        0.1, "Learning rate of the data parameters' SGD.", type=float)
    data_parameters_wd: float = setting(
        1e-4, "Weight decay on the log of the data parameters.", type=float)

    def validate(self):
        if self.data_parameters_lr <= 0:
            raise KwsError(f"--data_parameters_lr must be positive, got "
                           f"{self.data_parameters_lr}")
        if self.data_parameters_wd < 0:
            raise KwsError(f"--data_parameters_wd must not be negative, got "
                           f"{self.data_parameters_wd}")
        return self


class DataParameters(tf.Module):
    """log sigma per class and per clip, with their optimizer."""

    def __init__(self, config, class_count, clip_count):
        super().__init__(name="data_parameters")
        start = math.log(SIGMA_START)
        self.config = config
        self.log_class = tf.Variable(tf.fill([class_count], start), name="log_sigma_class")
        self.log_clip = tf.Variable(tf.fill([clip_count], start), name="log_sigma_clip")
        self.optimizer = keras.optimizers.SGD(learning_rate=config.data_parameters_lr)
        self.optimizer.build([self.log_class, self.log_clip])

    def scale(self, logits, labels, indices):
        """The logits divided by each clip's temperature, and the weight decay to add."""
        log_class = tf.gather(self.log_class, labels)
        log_clip = tf.gather(self.log_clip, indices)
        sigma = tf.exp(log_class) + tf.exp(log_clip)
        decay = 0.5 * self.config.data_parameters_wd * (tf.reduce_sum(tf.square(log_class))
                                                        + tf.reduce_sum(tf.square(log_clip)))
        return logits / sigma[:, tf.newaxis], decay

    def apply(self, gradients):
        """One SGD step on the data parameters, then their clamp."""
        self.optimizer.apply_gradients(zip(gradients, [self.log_class, self.log_clip]))
        for variable in (self.log_class, self.log_clip):
            variable.assign(tf.clip_by_value(variable, math.log(SIGMA_MIN),
                                             math.log(SIGMA_MAX)))

    def write(self, path, labels, clip_paths, clip_labels):
        """The learned temperatures as JSON: per class, and per clip hardest first."""
        class_sigma = np.exp(self.log_class.numpy())
        clip_sigma = np.exp(self.log_clip.numpy())
        order = np.argsort(-clip_sigma, kind="stable")
        cli.write_json(path, {
            "classes": {label: float(s) for label, s in zip(labels, class_sigma)},
            "clips": [{"path": clip_paths[i], "label": labels[clip_labels[i]],
                       "temperature": float(clip_sigma[i])} for i in order]})
        return path
