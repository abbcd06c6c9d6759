"""The recordings named by --wav: files and folders, read and converted for the model."""
import dataclasses
import os

import numpy as np

from kws_tf.config import DEFAULT_RESAMPLER
from kws_tf.data import wav
from kws_tf.errors import KwsError


@dataclasses.dataclass(frozen=True)
class Recording:
    path: str
    samples: np.ndarray     # float32 mono in [-1, 1] at the model's rate
    sample_rate: int
    conversion: str         # what was changed to get there ("" for none)

    @property
    def duration_ms(self):
        return len(self.samples) * 1000.0 / self.sample_rate


def wav_paths(items):
    """The files of --wav: files as given, each folder as its *.wav files in name order.

    Every file's header is checked first, so a bad file stops the run before any
    output rather than halfway through a folder.
    """
    paths = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(entry.path for entry in os.scandir(item)
                           if entry.is_file() and entry.name.lower().endswith(".wav"))
            if not found:
                raise KwsError(f"--wav {item}: no .wav files in this folder")
            paths.extend(found)
        else:
            paths.append(item)
    for path in paths:
        wav.probe_wav(path)
    return paths


def read_recording(path, sample_rate, resampler=DEFAULT_RESAMPLER):
    """The audio of `path` as the model needs it; other rates, channels, depths are converted."""
    info = wav.probe_wav(path)
    samples = wav.read_wav(path, sample_rate, resampler)
    conversion = ""
    if not (info.channels == 1 and info.sample_rate == sample_rate
            and info.format_tag == wav.PCM and info.bits_per_sample == 16):
        kind = "float" if info.format_tag == wav.IEEE_FLOAT else "PCM"
        channels = "mono" if info.channels == 1 else f"{info.channels} channels"
        conversion = (f"{info.sample_rate} Hz {channels} {info.bits_per_sample}-bit {kind} "
                      f"read as {sample_rate} Hz mono")
    return Recording(path, samples, sample_rate, conversion)
