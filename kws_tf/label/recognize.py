"""Keyword detections in a stream of per-window scores, as TensorFlow's RecognizeCommands.

A model scores one clip; in a long recording it is run on a window slid along the audio.
Single windows flicker, so scores are averaged over the last `average_window_ms`, and a
label becomes the current command when its average exceeds `detection_threshold`, it is
not already the current command, and either the current command is `_silence_` (or there
is none yet) or `suppression_ms` have passed since the current command began. At least
`minimum_count` windows must be in the average.

`_silence_` and `_unknown_` take part (a silence between two "yes" lets the second count)
but are not reported as detections; a model whose labels lack them has every label
reported. Without `_silence_` a word repeated with only silence between counts once,
as in TensorFlow.
"""
import collections
import dataclasses

import numpy as np

SILENCE, UNKNOWN = "_silence_", "_unknown_"
BACKGROUND = (SILENCE, UNKNOWN)
# label_wav's defaults: averaging and suppression as TensorFlow's streaming accuracy test.
DEFAULTS = {"average_window_ms": 500.0, "detection_threshold": 0.7, "suppression_ms": 1500.0,
            "minimum_count": 3}


@dataclasses.dataclass(frozen=True)
class Detection:
    time_ms: float      # start of the window whose averaged scores triggered it
    label: str
    score: float        # the label's averaged score


class RecognizeCommands:
    """Fed one window's scores at a time, in time order; see the module docstring."""

    def __init__(self, labels, average_window_ms=DEFAULTS["average_window_ms"],
                 detection_threshold=DEFAULTS["detection_threshold"],
                 suppression_ms=DEFAULTS["suppression_ms"],
                 minimum_count=DEFAULTS["minimum_count"]):
        self.labels = list(labels)
        self.average_window_ms = average_window_ms
        self.detection_threshold = detection_threshold
        self.suppression_ms = suppression_ms
        self.minimum_count = minimum_count
        self._recent = collections.deque()  # (time_ms, scores)
        self._command, self._command_time = None, None  # the current command, when it began

    def process(self, time_ms, scores):
        """Adds the scores of the window starting at `time_ms`; returns a Detection or None."""
        self._recent.append((time_ms, np.asarray(scores, np.float64)))
        while self._recent[0][0] < time_ms - self.average_window_ms:
            self._recent.popleft()
        if len(self._recent) < self.minimum_count:
            return None
        average = np.mean([row for _, row in self._recent], axis=0)
        top = int(np.argmax(average))
        label, score = self.labels[top], float(average[top])
        suppressed = (self._command not in (None, SILENCE)
                      and time_ms - self._command_time <= self.suppression_ms)
        if score <= self.detection_threshold or label == self._command or suppressed:
            return None
        self._command, self._command_time = label, time_ms
        return None if label in BACKGROUND else Detection(time_ms, label, score)


def detections(labels, times_ms, scores, **settings):
    """All detections in a stream given the start time and scores of each window."""
    recognizer = RecognizeCommands(labels, **settings)
    found = (recognizer.process(time, row) for time, row in zip(times_ms, scores))
    return [detection for detection in found if detection is not None]
