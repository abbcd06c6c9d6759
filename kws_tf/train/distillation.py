"""Knowledge distillation (Hinton et al., 2015): the model learns from teachers' soft labels.

With --teacher_checkpoints, each training clip's loss is (1 - w) times the usual cross-entropy
plus w times T^2 times the KL divergence from the teachers' temperature-T softmax (their
probabilities averaged) to the model's; w is --distillation_weight, T --distillation_temperature,
and T^2 keeps the soft term's gradients the size of the hard one's. The teachers are checkpoints
trained on the same labels and features, of any architecture (several seeds of the same model
make an ensemble, whose averaged probabilities a single small model can learn). They run in
inference mode on the very batch the model trains on, augmentation included.
"""
import dataclasses

import tensorflow as tf

from kws_tf.config import Settings, setting
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint
from kws_tf.quant import restore


def _paths(text):
    return tuple(path.strip() for path in text.split(",") if path.strip())


@dataclasses.dataclass(frozen=True)
class DistillationConfig(Settings):
    teacher_checkpoints: tuple = setting(
        (), "Comma-separated checkpoints (prefixes, or train_dirs: their best) whose averaged "
            "probabilities the model also learns from (knowledge distillation; same labels and "
            "features, any architecture; docs/training.md).",
        parse=_paths, text=",".join)
    distillation_weight: float = setting(
        0.5, "Weight of the teachers' soft labels in the loss (0-1; the labels get the rest).",
        type=float)
    distillation_temperature: float = setting(
        2.0, "Softmax temperature of the teachers and the model in the soft term.", type=float)

    def validate(self):
        if not 0.0 <= self.distillation_weight <= 1.0:
            raise KwsError(f"--distillation_weight must be within 0-1, got "
                           f"{self.distillation_weight}")
        if self.distillation_temperature <= 0:
            raise KwsError(f"--distillation_temperature must be positive, got "
                           f"{self.distillation_temperature}")
        return self


def load_teachers(config, run_info):
    """The teacher models, each checked to share the labels and features of `run_info` (the
    run's sidecar)."""
    teachers = []
    for path in config.teacher_checkpoints:
        prefix, _ = checkpoint.find(path, "--teacher_checkpoints")
        info = checkpoint.read_info(prefix)
        checkpoint.check_same_model(info, run_info, f"--teacher_checkpoints {path}",
                                    ("labels", "features"))
        teacher = restore.build_and_restore(prefix, info)
        teacher.trainable = False
        teachers.append(teacher)
    return teachers


def per_example_loss(config, teachers, batch, logits, hard_loss):
    """Each clip's loss: `hard_loss` (its cross-entropy) mixed with the soft term."""
    if not teachers:
        return hard_loss
    temperature = config.distillation_temperature
    soft = tf.add_n([tf.nn.softmax(t(batch, training=False) / temperature)
                     for t in teachers]) / len(teachers)
    log_student = tf.nn.log_softmax(logits / temperature)
    kl = tf.reduce_sum(soft * (tf.math.log(tf.maximum(soft, 1e-12)) - log_student), axis=-1)
    weight = config.distillation_weight
    return (1.0 - weight) * hard_loss + weight * temperature ** 2 * kl
