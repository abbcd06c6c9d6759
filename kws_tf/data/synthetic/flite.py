"""Flite (CMU's Festival-Lite) through its C API with ctypes, one instance per process.

Flite's voices are built from recordings of people (a diphone voice and three statistical
parametric ones), so their consonants are not rule-made as espeak-ng's are.  The library is
the system's ``libflite`` (Debian/Ubuntu package ``libflite1``), loaded on first use.
"""
import ctypes
import ctypes.util
import functools

import numpy as np

from kws_tf.errors import KwsError

VOICES = ("kal16", "awb", "rms", "slt")  # all 16 kHz
MISSING = ("the Flite library is not installed (Debian/Ubuntu: apt install libflite1; "
           "macOS: brew install flite)")
_STEMS = ("flite", "flite_usenglish", "flite_cmulex") + tuple("flite_cmu_us_" + v
                                                              for v in VOICES)


class _Wave(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("sample_rate", ctypes.c_int),
                ("num_samples", ctypes.c_int), ("num_channels", ctypes.c_int),
                ("samples", ctypes.POINTER(ctypes.c_short))]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("features", ctypes.c_void_p)]


@functools.lru_cache(maxsize=None)
def _path(stem):
    """find_library's answer, once per process and the processes it forks (each call runs
    ldconfig: about 3 ms)."""
    return ctypes.util.find_library(stem)


def available():
    """Whether the system has libflite and its four English voices (nothing is loaded)."""
    return all(_path(stem) for stem in _STEMS)


def _load(stem):
    path = _path(stem)
    if path is None:
        raise KwsError("--flite: lib%s is missing: %s" % (stem, MISSING))
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


class _Flite:
    """libflite and its four English voices, loaded once."""

    def __init__(self):
        lib = _load("flite")
        for stem in ("flite_usenglish", "flite_cmulex"):
            _load(stem)
        lib.flite_init()
        lib.flite_text_to_wave.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.flite_text_to_wave.restype = ctypes.POINTER(_Wave)
        lib.feat_set_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float]
        lib.feat_set_float.restype = None
        lib.delete_wave.argtypes = [ctypes.POINTER(_Wave)]
        lib.delete_wave.restype = None
        self._lib = lib
        self._voices = {}
        for name in VOICES:
            register = getattr(_load("flite_cmu_us_" + name), "register_cmu_us_" + name)
            register.argtypes = [ctypes.c_char_p]
            register.restype = ctypes.POINTER(_Voice)
            self._voices[name] = register(None)
        self.sample_rate = 16000

    def synth(self, text, voice, stretch=1.0, f0=None):
        """Speaks ``text`` in ``voice`` (one of ``VOICES``), ``stretch`` times as long, its
        pitch around ``f0`` Hz; int16 samples at 16 kHz."""
        features = self._voices[voice].contents.features
        self._lib.feat_set_float(features, b"duration_stretch", float(stretch))
        if f0:
            self._lib.feat_set_float(features, b"int_f0_target_mean", float(f0))
        wave = self._lib.flite_text_to_wave(text.encode("utf-8"), self._voices[voice])
        if not wave:
            raise KwsError("flite failed on %r" % text)
        w = wave.contents
        if w.sample_rate != self.sample_rate or w.num_channels != 1:
            raise KwsError("flite voice %s gives %d Hz, %d channels"
                           % (voice, w.sample_rate, w.num_channels))
        audio = np.ctypeslib.as_array(w.samples, shape=(w.num_samples,)).copy() \
            if w.num_samples else np.zeros(0, np.int16)
        self._lib.delete_wave(wave)
        return audio


_FLITE = None


def _flite():
    """This process's flite, loaded on first use."""
    global _FLITE
    if _FLITE is None:
        _FLITE = _Flite()
    return _FLITE
