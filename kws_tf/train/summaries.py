"""TensorBoard summaries of training: scalars and confusion-matrix images."""
import os

import numpy as np
import tensorflow as tf

CELL_PIXELS = 12


def confusion_image(confusion):
    """A [1, H, W, 1] uint8 heat map: each cell is the row-normalised count (white = all)."""
    confusion = np.asarray(confusion, np.float64)
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    pixels = np.kron(normalised, np.ones((CELL_PIXELS, CELL_PIXELS)))
    return (pixels * 255).round().astype(np.uint8)[np.newaxis, :, :, np.newaxis]


class Writers:
    """<summaries_dir>/train and /validation, as Hello Edge laid them out (test goes to
    validation's folder under its own tag)."""

    def __init__(self, summaries_dir, enabled=True):
        self.enabled = enabled
        if enabled:
            self.train = tf.summary.create_file_writer(os.path.join(summaries_dir, "train"))
            self.eval = tf.summary.create_file_writer(os.path.join(summaries_dir, "validation"))

    def train_step(self, step, loss, accuracy, learning_rate):
        if self.enabled:
            with self.train.as_default(step=step):
                tf.summary.scalar("cross_entropy", loss)
                tf.summary.scalar("accuracy", accuracy)
                tf.summary.scalar("learning_rate", learning_rate)

    def scalars(self, step, values):
        """Named scalars of the validation at `step` (a curriculum's stage)."""
        if self.enabled:
            with self.eval.as_default(step=step):
                for name, value in values.items():
                    tf.summary.scalar(name, value)

    def _eval(self, tag, step, accuracy, confusion):
        if self.enabled:
            with self.eval.as_default(step=step):
                tf.summary.scalar(f"{tag}_accuracy", accuracy)
                tf.summary.image(f"{tag}_confusion_matrix", confusion_image(confusion))
            self.eval.flush()

    def validation(self, step, accuracy, confusion):
        self._eval("validation", step, accuracy, confusion)

    def test(self, step, accuracy, confusion):
        self._eval("test", step, accuracy, confusion)
