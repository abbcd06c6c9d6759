"""espeak-ng through its C API (``speak_lib.h``) with ctypes, one instance per process.

The library and its data come from the ``espeakng-loader`` wheel.  It is loaded on first use
only, so a process that merely plans or drives the rendering never holds espeak-ng state.
"""
import ctypes

import numpy as np

from kws_tf.errors import KwsError

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_SSML = 0x10
_ESPEAK_RATE, _ESPEAK_VOLUME, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 2, 3, 4
_EE_OK = 0


class _EspeakVoice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int),
                ("spare", ctypes.c_void_p)]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_void_p)


class _Espeak:
    """espeak-ng loaded into this process, synchronous mode, audio to a list."""

    def __init__(self):
        import espeakng_loader
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int,
                                          ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.argtypes = []
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_EspeakVoice)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int,
                                            ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetVoiceByFile.argtypes = [ctypes.c_char_p]
        lib.espeak_ng_SetVoiceByFile.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                              ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._lib = lib
        # Breath noise in espeak-ng's wavegen uses the C library's rand().
        self._libc = ctypes.CDLL(None)
        # Without DONT_EXIT espeak-ng calls exit() when its data is missing.
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 1000,
            espeakng_loader.get_data_path().encode(),
            _ESPEAK_INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise KwsError("espeak-ng failed to initialise with data %s"
                           % espeakng_loader.get_data_path())
        self.sample_rate = rate
        self._chunks = []
        self._callback = _SYNTH_CALLBACK(self._on_audio)  # keep a reference
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples, events):
        if wav and num_samples > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * num_samples))
        return 0  # 0 = continue synthesis

    def set_voice(self, name):
        """Selects e.g. "en-us+f3"; an unknown variant is an error, not ignored."""
        if self._lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            return False
        if "+" in name:
            # espeak-ng silently drops a variant it cannot find; check it.
            ident = self._lib.espeak_GetCurrentVoice().contents.identifier
            variant = name.split("+", 1)[1]
            return ident is not None and ident.decode().endswith("+" + variant)
        return True

    def phonemes(self, text, voice="en-us"):
        """espeak-ng's phonemes of ``text`` in ``voice``, without stress marks, so that words
        which sound the same (``no``, ``know``) give the same string."""
        if not self.set_voice(voice):
            raise KwsError("espeak-ng has no voice %r" % voice)
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        rest = ctypes.c_void_p(ctypes.addressof(buf))
        clauses = []
        while rest.value:  # one clause per call; espeak-ng sets rest to NULL at the end
            clauses.append(self._lib.espeak_TextToPhonemes(ctypes.byref(rest),
                                                           _ESPEAK_CHARS_UTF8, 0).decode())
        return " ".join(clauses).translate(str.maketrans("", "", "',"))

    def synth(self, text, voice, rate=175, pitch=50, pitch_range=50,
              volume=80, seed=0, ssml=False, voice_file=None):
        """Speaks ``text`` (SSML markup when ``ssml``) in ``voice``, or in the voice that
        file ``voice_file`` (an absolute path, no "+") describes; returns int16 samples
        at ``self.sample_rate``."""
        if voice_file:
            if self._lib.espeak_ng_SetVoiceByFile(voice_file.encode()) != _EE_OK:
                raise KwsError("espeak-ng cannot load voice file %s" % voice_file)
        elif not self.set_voice(voice):
            raise KwsError("espeak-ng has no voice %r" % voice)
        lib = self._lib
        lib.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_ESPEAK_RANGE, int(pitch_range), 0)
        lib.espeak_SetParameter(_ESPEAK_VOLUME, int(volume), 0)
        lib.espeak_ng_SetRandSeed(int(seed) & 0x7fffffff)
        self._libc.srand(ctypes.c_uint(int(seed) & 0xffffffff))
        self._chunks = []
        data = text.encode("utf-8")
        err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0,
                               _ESPEAK_CHARS_UTF8 | (_ESPEAK_SSML if ssml else 0),
                               None, None)
        if err != _EE_OK:
            raise KwsError("espeak-ng failed (error %d) on %r" % (err, text))
        audio = np.frombuffer(b"".join(self._chunks), dtype="<i2")
        self._chunks = []
        return audio


_ESPEAK = None


def _espeak():
    """This process's espeak-ng, loaded on first use."""
    global _ESPEAK
    if _ESPEAK is None:
        _ESPEAK = _Espeak()
    return _ESPEAK
