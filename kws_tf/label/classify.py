"""One recording's result: the top labels of a clip, or the detections in a longer stream."""
import numpy as np

from kws_tf.label import recognize


def label_recording(model, labels, recording, how_many_labels, stream_settings):
    """A JSON-able result; a recording is streamed when it holds --minimum_count windows.

    So a "1 s" recording a few samples too long is still one clip (cut to the clip
    length, as Hello Edge's DecodeWav did) rather than a stream too short to detect in.
    """
    result = {"wav": recording.path, "duration_ms": recording.duration_ms}
    if recording.conversion:
        result["conversion"] = recording.conversion
    windows = len(_window_starts(model, recording, stream_settings["stride_ms"]))
    if windows > 1 and windows >= stream_settings["minimum_count"]:
        result.update(_stream(model, labels, recording, **stream_settings))
    else:
        result.update(_clip(model, labels, recording, how_many_labels))
    return result


def _clip(model, labels, recording, how_many_labels):
    """Hello Edge's label_wav: the `how_many_labels` best labels, highest first."""
    scores = model.probabilities([recording.samples])[0]
    best = np.argsort(-scores, kind="stable")[:how_many_labels]
    return {"mode": "clip",
            "top": [{"label": labels[i], "score": float(scores[i])} for i in best]}


def _stream(model, labels, recording, stride_ms, **recognizer_settings):
    """Windows of one clip every `stride_ms`, smoothed and thresholded (see recognize)."""
    clip = model.features.desired_samples
    starts = _window_starts(model, recording, stride_ms)
    scores = model.probabilities([recording.samples[start:start + clip] for start in starts])
    times_ms = [start * 1000.0 / recording.sample_rate for start in starts]
    found = recognize.detections(labels, times_ms, scores, **recognizer_settings)
    return {"mode": "stream", "windows": len(starts), "window_ms": clip * 1000.0 /
            recording.sample_rate, "stride_ms": starts.step * 1000.0 / recording.sample_rate,
            "detections": [{"time_ms": d.time_ms, "label": d.label, "score": d.score}
                           for d in found]}


def _window_starts(model, recording, stride_ms):
    """Sample offsets of the clip-long windows that fit in the recording."""
    stride = int(recording.sample_rate * stride_ms / 1000)
    return range(0, len(recording.samples) - model.features.desired_samples + 1, stride)
