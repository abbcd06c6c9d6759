"""Curriculum multi-condition training (ConvMixer's): stages of growing noise, then reverb.

A stage is an augmentation: its noise conditions (--background_snr_db's syntax) and its
reverberation probability. The run moves on to the next stage when the stage's progress
criterion, validation accuracy minus the validation loss normalised by that of a uniform
guess (log of the label count), has not improved for --curriculum_patience evaluations; the
next stage starts from the weights of the best evaluation of the stage that ends. The last
stage runs to the end of the schedule. The state (stage, its best criterion and weights, the
evaluations since) is saved with each latest checkpoint, so a resumed run continues in the
stage it was in.
"""
import dataclasses
import math
import os

from kws_tf.config import Settings, setting
from kws_tf.errors import KwsError

# (noise conditions, reverb probability) per stage: clean; down to 0 dB; -5; -10; reverberant.
SNR_STAGES = (("clean", 0.0),
              ("clean,20,10,5,0", 0.0),
              ("clean,20,10,5,0,-5", 0.0),
              ("clean,20,10,5,0,-5,-10", 0.0),
              ("clean,20,10,5,0,-5,-10", 0.5))
CURRICULA = ("none", "snr")


@dataclasses.dataclass(frozen=True)
class CurriculumConfig(Settings):
    curriculum: str = setting(
        "none", "'snr': train in stages of growing difficulty (clean; down to 0 dB; -5 dB; "
                "-10 dB; then half the clips reverberant), each from the best weights of the "
                "one before (docs/robustness.md).", choices=CURRICULA)
    curriculum_patience: int = setting(
        3, "Move to the next curriculum stage after this many evaluations without progress.",
        type=int)

    def validate(self):
        if self.curriculum not in CURRICULA:
            raise KwsError(f"--curriculum must be one of {', '.join(CURRICULA)}, got "
                           f"{self.curriculum!r}")
        if self.curriculum_patience < 1:
            raise KwsError(f"--curriculum_patience must be at least 1, got "
                           f"{self.curriculum_patience}")
        return self

    @property
    def enabled(self):
        return self.curriculum != "none"

    def check_augment(self, augment):
        """The curriculum sets the noise and reverb itself; flags that also set them clash."""
        if self.enabled and augment.background_snr_db:
            raise KwsError("--curriculum snr sets the signal-to-noise ratios itself; drop "
                           "--background_snr_db")
        if self.enabled and augment.reverb_probability:
            raise KwsError("--curriculum snr sets --reverb_probability itself (0.5 in its last "
                           "stage); drop it")


def stage_augment(augment, stage):
    """`augment` with the noise and reverberation of curriculum stage `stage`."""
    conditions, reverb = SNR_STAGES[stage]
    return dataclasses.replace(augment, background_snr_db=conditions,
                               reverb_probability=reverb)


def criterion(accuracy, loss, label_count):
    """The progress measure: accuracy minus the loss over that of a uniform guess."""
    return accuracy - loss / math.log(max(label_count, 2))


class Curriculum:
    """The stage and its bookkeeping; `state` is what a checkpoint keeps of it."""

    def __init__(self, config, train_dir, state=None):
        self.config = config
        self.folder = os.path.join(train_dir, "curriculum")
        self.state = dict(state or {"stage": 0, "best": None, "best_weights": None,
                                    "stale": 0})

    @property
    def stage(self):
        return self.state["stage"]

    @property
    def last_stage(self):
        return self.stage == len(SNR_STAGES) - 1

    def weights_prefix(self, step):
        return os.path.join(self.folder, f"stage{self.stage}.ckpt-{step}")

    def update(self, value, step):
        """Records an evaluation; returns "best" (keep these weights as `weights_prefix(step)`),
        "next" (move on, from `state["best_weights"]`) or "stay"."""
        if self.state["best"] is None or value > self.state["best"]:
            self.state.update(best=value, best_weights=self.weights_prefix(step), stale=0)
            return "best"
        self.state["stale"] += 1
        if self.state["stale"] >= self.config.curriculum_patience and not self.last_stage:
            return "next"
        return "stay"

    def advance(self):
        """Moves to the next stage; returns the weights it starts from."""
        start = self.state["best_weights"]
        self.state = {"stage": self.stage + 1, "best": None, "best_weights": None, "stale": 0}
        return start
