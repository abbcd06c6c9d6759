import numpy as np
import pytest

from kws_tf.label.recognize import RecognizeCommands, detections

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def _scores(label, score=0.9, labels=LABELS):
    row = np.full(len(labels), (1 - score) / (len(labels) - 1))
    row[labels.index(label)] = score
    return row


def _stream(segments, step_ms=30, labels=LABELS):
    """(times, scores) for segments of (label, duration_ms), one window every step_ms."""
    times, rows = [], []
    for label, duration in segments:
        for _ in range(duration // step_ms):
            times.append(len(times) * step_ms)
            rows.append(_scores(label, labels=labels))
    return times, np.array(rows)


def _found(segments, labels=LABELS, **settings):
    times, rows = _stream(segments, labels=labels)
    return [(d.label, d.time_ms) for d in detections(labels, times, rows, **settings)]


def test_keywords_separated_by_silence_are_found_in_order_where_they_start():
    found = _found([("_silence_", 1000), ("yes", 600), ("_silence_", 2000), ("no", 600),
                    ("_silence_", 2000), ("yes", 600), ("_silence_", 1000)])
    assert [label for label, _ in found] == ["yes", "no", "yes"]
    # Averaged over 500 ms, a keyword wins once it fills most of the averaged windows.
    for (_, time), start in zip(found, (1000, 3600, 6200)):
        assert start + 300 <= time <= start + 500


def test_silence_and_unknown_count_but_are_not_reported():
    assert _found([("_silence_", 1000), ("_unknown_", 2000), ("_silence_", 2000)]) == []
    # _unknown_ became the command at 60 ms (the third window), so "no" waits until
    # suppression_ms have passed since then.
    assert _found([("_unknown_", 1000), ("no", 500)], suppression_ms=1500) == []
    assert _found([("_unknown_", 1000), ("no", 1000)], suppression_ms=1500) == [("no", 1590)]


def test_suppression_hides_a_second_keyword_that_follows_too_soon():
    segments = [("_silence_", 600), ("yes", 600), ("no", 900), ("_silence_", 600)]
    assert [label for label, _ in _found(segments, suppression_ms=1500)] == ["yes"]
    assert [label for label, _ in _found(segments, suppression_ms=300)] == ["yes", "no"]


def test_a_repeated_keyword_needs_a_silence_between():
    assert [label for label, _ in _found([("yes", 3000), ("yes", 3000)])] == ["yes"]
    found = _found([("yes", 1000), ("_silence_", 2000), ("yes", 1000)])
    assert [label for label, _ in found] == ["yes", "yes"]


def test_scores_are_averaged_over_the_window_and_thresholded():
    recognizer = RecognizeCommands(LABELS, average_window_ms=100, detection_threshold=0.7,
                                   minimum_count=3)
    assert recognizer.process(0, _scores("yes", 0.9)) is None      # too few windows
    assert recognizer.process(30, _scores("yes", 0.9)) is None
    assert recognizer.process(60, _scores("yes", 0.25)) is None     # average 0.68
    found = recognizer.process(90, _scores("yes", 0.95))
    assert found.label == "yes" and found.time_ms == 90
    assert found.score == pytest.approx(np.mean([0.9, 0.9, 0.25, 0.95]))
    # 200 ms later only windows from the last 100 ms are averaged.
    assert recognizer.process(290, _scores("no", 0.9)) is None


def test_labels_without_silence_and_unknown_are_all_reported():
    labels = ["low", "high"]
    found = _found([("low", 1000), ("high", 2000), ("low", 2000)], labels=labels)
    assert [label for label, _ in found] == ["low", "high", "low"]
