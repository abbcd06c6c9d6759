"""Tests for the wav reader: every format it converts, every error it reports, and fuzzing.

Every file is built here, in tmp_path, with the `wave` module or raw struct bytes.
"""
import struct
import sys
import wave

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from kws_tf.data import wav as wav_module
from kws_tf.data.wav import WavInfo, decode_wav_bytes, probe_wav, read_wav
from kws_tf.errors import KwsError

GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def chunk(chunk_id, payload, pad=True):
    out = chunk_id + struct.pack("<I", len(payload)) + payload
    return out + b"\0" if pad and len(payload) % 2 else out


def fmt_chunk(tag=1, channels=1, rate=16000, bits=16, extensible=False, guid_tail=GUID_TAIL,
              cb_size=None):
    block_align = channels * bits // 8
    payload = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate,
                          rate * block_align, block_align, bits)
    if extensible:
        payload += struct.pack("<HHIH", 22, bits, 0, tag) + guid_tail
    elif cb_size is not None:
        payload += struct.pack("<H", cb_size)
    return chunk(b"fmt ", payload)


def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def encode(samples, tag=1, bits=16):
    """Float samples, [frames] or [frames, channels], as the bytes of a data chunk."""
    samples = np.asarray(samples, np.float64)
    if tag == 3:
        return samples.astype("<f4" if bits == 32 else "<f8").tobytes()
    scale = 2.0 ** (bits - 1)
    ints = np.clip(np.round(samples * scale), -scale, scale - 1).astype(np.int64)
    if bits == 8:
        return (ints + 128).astype(np.uint8).tobytes()
    if bits == 24:
        return ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return ints.astype("<i2" if bits == 16 else "<i4").tobytes()


def wav(samples, rate=16000, tag=1, bits=16, extensible=False):
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    return riff(fmt_chunk(tag, channels, rate, bits, extensible),
                chunk(b"data", encode(samples, tag, bits)))


def sine(frequency=440.0, rate=16000, seconds=0.25, amplitude=0.5):
    t = np.arange(int(round(rate * seconds))) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def save(tmp_path, data, name="clip.wav"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def tf_decode(path):
    """tf.audio.decode_wav's [samples, channels], or None where it refuses the file."""
    try:
        return tf.audio.decode_wav(tf.io.read_file(str(path))).audio.numpy()
    except tf.errors.InvalidArgumentError:
        return None


def dominant_frequency(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.argmax(spectrum) * rate / len(samples)


PCM16 = np.array([0, 1, -1, 12345, -12345, 32767, -32768, 2, -2, 100], np.int16)
DATA16 = chunk(b"data", PCM16.astype("<i2").tobytes())


# --- the standard format, and why the others need converting -----------------------------

def test_standard_16bit_mono_is_read_exactly_like_tf_decode_wav(tmp_path):
    path = tmp_path / "standard.wav"
    ints = np.concatenate([PCM16, (sine() * 32767).astype(np.int16)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(ints.astype("<i2").tobytes())
    audio = read_wav(path)
    expected = tf.audio.decode_wav(tf.io.read_file(str(path))).audio[:, 0].numpy()
    assert audio.dtype == np.float32
    np.testing.assert_array_equal(audio, expected)
    info = probe_wav(path)
    assert info == WavInfo(str(path), 1, 1, 16000, 16, len(ints), False, True)
    assert info.is_standard(16000)
    assert not info.is_standard(8000)


NON_STANDARD = {
    "8-bit": lambda: wav(sine(), bits=8),
    "24-bit": lambda: wav(sine(), bits=24),
    "32-bit int": lambda: wav(sine(), bits=32),
    "32-bit float": lambda: wav(sine(), tag=3, bits=32),
    "64-bit float": lambda: wav(sine(), tag=3, bits=64),
    "extensible 16-bit": lambda: wav(sine(), extensible=True),
    "stereo": lambda: wav(np.stack([sine(), sine(1000)], axis=1)),
    "44.1 kHz": lambda: wav(sine(rate=44100), rate=44100),
    "8 kHz": lambda: wav(sine(rate=8000), rate=8000),
    "LIST before fmt": lambda: riff(chunk(b"LIST", b"INFOISFT\x04\0\0\0test"), fmt_chunk(), DATA16),
    "odd-sized chunk": lambda: riff(fmt_chunk(), chunk(b"note", b"odd"), DATA16),
}


@pytest.mark.parametrize("kind", NON_STANDARD)
def test_non_standard_files_are_flagged_and_tf_cannot_read_them(tmp_path, kind):
    path = save(tmp_path, NON_STANDARD[kind]())
    assert not probe_wav(path).is_standard(16000)
    ours, theirs = read_wav(path, 16000), tf_decode(path)
    # decode_wav refuses the file, or gets other samples (first channel only, wrong rate).
    assert theirs is None or theirs.shape[0] != len(ours) or not np.array_equal(theirs[:, 0], ours)


# --- conversions ---------------------------------------------------------------------------

@pytest.mark.parametrize("tag,bits,extensible,tolerance", [
    (1, 8, False, 1 / 128), (1, 16, False, 1 / 32768), (1, 24, False, 1e-6),
    (1, 32, False, 1e-7), (3, 32, False, 1e-7), (3, 64, False, 1e-7),
    (1, 16, True, 1 / 32768), (1, 24, True, 1e-6), (3, 32, True, 1e-7),
])
def test_sample_formats_read_back_the_signal(tmp_path, tag, bits, extensible, tolerance):
    signal = sine(440, amplitude=0.9)
    path = save(tmp_path, wav(signal, tag=tag, bits=bits, extensible=extensible))
    info = probe_wav(path)
    assert (info.format_tag, info.bits_per_sample, info.extensible) == (tag, bits, extensible)
    assert (info.channels, info.sample_rate, info.num_frames) == (1, 16000, len(signal))
    audio = read_wav(path)
    assert audio.dtype == np.float32 and audio.shape == signal.shape
    np.testing.assert_allclose(audio, signal, rtol=0, atol=tolerance)


def test_pcm_full_scale_maps_to_minus_one_and_just_below_one(tmp_path):
    for bits, extremes in [(8, [0, 255]), (24, [b"\x00\x00\x80", b"\xff\xff\x7f"])]:
        raw = bytes(extremes) if bits == 8 else b"".join(extremes)
        audio = read_wav(save(tmp_path, riff(fmt_chunk(bits=bits), chunk(b"data", raw))))
        np.testing.assert_array_equal(audio, [-1.0, 1.0 - 2.0 ** (1 - bits)])


def test_float_samples_are_clipped_and_non_finite_ones_made_safe(tmp_path):
    raw = np.array([0.25, 2.0, -3.0, np.nan, np.inf, -np.inf], "<f4").tobytes()
    audio = read_wav(save(tmp_path, riff(fmt_chunk(tag=3, bits=32), chunk(b"data", raw))))
    np.testing.assert_array_equal(audio, [0.25, 1.0, -1.0, 0.0, 1.0, -1.0])


def test_channels_are_averaged(tmp_path):
    stereo = np.stack([sine(440), sine(1000, amplitude=0.3)], axis=1)
    ints = np.round(stereo * 32768).astype(np.int16)
    audio = read_wav(save(tmp_path, riff(fmt_chunk(channels=2),
                                         chunk(b"data", ints.astype("<i2").tobytes()))))
    np.testing.assert_allclose(audio, ints.mean(axis=1) / 32768, rtol=0, atol=1e-7)

    three = np.stack([sine(300), sine(500), -sine(300)], axis=1)
    audio = read_wav(save(tmp_path, wav(three, bits=24), "three.wav"))
    np.testing.assert_allclose(audio, three.mean(axis=1), rtol=0, atol=1e-6)


def _tfio_loads():
    """Whether tensorflow-io is installed and its resampling op loads on this TensorFlow."""
    try:
        wav_module.resample(np.zeros(800, np.float32), 8000, 16000, "probe", "tfio")
    except KwsError:
        return False
    return True


needs_tfio = pytest.mark.skipif(not _tfio_loads(), reason="tensorflow-io's ops do not load here "
                                "(not installed, or built for another TensorFlow)")


@pytest.mark.parametrize("rate", [44100, 8000, 48000])
def test_other_rates_are_resampled_keeping_length_and_frequency(tmp_path, rate):
    signal = sine(1000, rate=rate, seconds=0.5)
    path = save(tmp_path, wav(signal, rate=rate))
    assert probe_wav(path).sample_rate == rate
    audio = read_wav(path, 16000)
    assert audio.dtype == np.float32
    assert len(audio) == round(len(signal) * 16000 / rate)
    assert abs(dominant_frequency(audio, 16000) - 1000) <= 16000 / len(audio)
    middle = audio[len(audio) // 4: 3 * len(audio) // 4]
    assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("rate", [44100, 8000])
def test_soxr_resampling_keeps_the_timing(tmp_path, rate):
    """An impulse at 0.1 s comes out at output sample 1600 (no filter delay)."""
    impulse = np.zeros(rate // 5)
    impulse[rate // 10] = 0.5
    audio = read_wav(save(tmp_path, wav(impulse, rate=rate)), 16000)
    assert abs(int(np.argmax(np.abs(audio))) - 1600) <= 1


@needs_tfio
@pytest.mark.parametrize("rate,delay", [(44100, 32), (8000, 64)])
def test_tfio_resampling_delay_is_as_documented(tmp_path, rate, delay):
    """tfio delays by ~32 samples at the lower rate (see resample); this pins the number."""
    impulse = np.zeros(rate // 5)
    impulse[rate // 10] = 0.5  # at 0.1 s, i.e. output sample 1600 without delay
    audio = read_wav(save(tmp_path, wav(impulse, rate=rate)), 16000, "tfio")
    assert abs(int(np.argmax(np.abs(audio))) - (1600 + delay)) <= 1


def test_tfio_resampling_without_tensorflow_io_names_the_file(tmp_path, monkeypatch):
    path = save(tmp_path, wav(sine(rate=8000), rate=8000))
    monkeypatch.setitem(sys.modules, "tensorflow_io", None)  # makes the import fail
    wav_module._tfio_resampler.cache_clear()  # else an earlier test's resampler is reused
    with pytest.raises(KwsError, match="--resampler tfio needs tensorflow-io") as caught:
        read_wav(path, 16000, "tfio")
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
    np.testing.assert_array_equal(read_wav(path, 8000), decode_wav_bytes(path.read_bytes(), 8000))
    assert len(read_wav(path, 16000)) == 2 * len(read_wav(path, 8000))  # soxr needs no tfio
    monkeypatch.undo()
    wav_module._tfio_resampler.cache_clear()


def test_unknown_resampler_is_refused(tmp_path):
    path = save(tmp_path, wav(sine(rate=8000), rate=8000))
    with pytest.raises(KwsError, match="--resampler 'sinc' is not one of soxr, tfio"):
        read_wav(path, 16000, "sinc")


# --- chunk layouts -------------------------------------------------------------------------

LIST_INFO = chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 14) + b"Lavf58.76.100\0")
LAYOUTS = {  # name: (file bytes, whether tf.audio.decode_wav reads it)
    "LIST between fmt and data": (riff(fmt_chunk(), LIST_INFO, DATA16), True),
    "LIST after data": (riff(fmt_chunk(), DATA16, LIST_INFO), True),
    "JUNK before fmt": (riff(chunk(b"JUNK", bytes(28)), fmt_chunk(), DATA16), True),
    "fact chunk": (riff(fmt_chunk(), chunk(b"fact", struct.pack("<I", 10)), DATA16), True),
    "18-byte fmt chunk": (riff(fmt_chunk(cb_size=0), DATA16), True),
    "LIST before fmt": (riff(LIST_INFO, fmt_chunk(), DATA16), False),
    "odd chunk + pad byte before data": (riff(fmt_chunk(), chunk(b"note", b"odd"), DATA16), False),
    "odd chunk + pad byte after data": (riff(fmt_chunk(), DATA16, chunk(b"note", b"odd")), False),
    "odd chunk + pad byte before fmt": (riff(chunk(b"JUNK", b"odd"), fmt_chunk(), DATA16), False),
    "data before fmt": (riff(DATA16, fmt_chunk()), False),
    "trailing bytes": (riff(fmt_chunk(), DATA16) + b"\0\0\0", False),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_extra_chunks_are_skipped(tmp_path, layout):
    data, tf_reads_it = LAYOUTS[layout]
    path = save(tmp_path, data)
    np.testing.assert_array_equal(read_wav(path), PCM16 / np.float32(32768))
    assert probe_wav(path).num_frames == len(PCM16)
    assert probe_wav(path).is_standard(16000) == tf_reads_it
    theirs = tf_decode(path)
    assert (theirs is not None and np.array_equal(theirs[:, 0], read_wav(path))) == tf_reads_it


# --- errors --------------------------------------------------------------------------------

ERRORS = {  # name: (file bytes, None for no file, what the message says)
    "missing file": (None, "no such file"),
    "empty file": (b"", "empty file"),
    "text": (b"hello, this is not audio at all", "not a wav file (no RIFF/WAVE header)"),
    "AVI": (b"RIFF\x04\0\0\0AVI LIST\0\0\0\0", "not a wav file (no RIFF/WAVE header)"),
    "short": (b"RIFF", "not a wav file (no RIFF/WAVE header)"),
    "header only": (riff(), "no fmt chunk"),
    "no fmt": (riff(DATA16), "no fmt chunk"),
    "no data": (riff(fmt_chunk(), LIST_INFO), "no data chunk"),
    "MP3": (riff(fmt_chunk(tag=0x55, bits=0), DATA16),
            "unsupported wav encoding (format tag 0x0055, MP3)"),
    "unknown tag": (riff(fmt_chunk(tag=0x1234), DATA16),
                    "unsupported wav encoding (format tag 0x1234)"),
    "extensible A-law": (riff(fmt_chunk(tag=6, bits=8, extensible=True), DATA16),
                         "unsupported wav encoding (format tag 0x0006, A-law)"),
    "extensible unknown GUID": (riff(fmt_chunk(extensible=True, guid_tail=bytes(14)), DATA16),
                                "unsupported wav encoding (WAVE_FORMAT_EXTENSIBLE sub-format"),
    "short extensible": (riff(chunk(b"fmt ", struct.pack("<HHIIHH", 0xFFFE, 1, 16000, 32000, 2,
                                                         16)), DATA16), "malformed fmt chunk"),
    "short fmt": (riff(chunk(b"fmt ", bytes(8)), DATA16), "malformed fmt chunk"),
    "0 channels": (riff(fmt_chunk(channels=0), DATA16), "no audio channels"),
    "0 sample rate": (riff(fmt_chunk(rate=0), DATA16), "sample rate is 0"),
    "absurd sample rate": (riff(fmt_chunk(rate=10), DATA16), "unsupported sample rate (10 Hz"),
    "12-bit PCM": (riff(fmt_chunk(bits=12), DATA16), "unsupported bit depth (12-bit PCM)"),
    "16-bit float": (riff(fmt_chunk(tag=3, bits=16), DATA16),
                     "unsupported bit depth (16-bit float)"),
    "truncated": (riff(fmt_chunk(), b"data" + struct.pack("<I", 32000) + bytes(1200)),
                  "truncated (header says 32000 bytes of audio, file holds 1200)"),
    "cut in a chunk": (riff(fmt_chunk(), LIST_INFO)[:-4],
                       "truncated (the 'LIST' chunk header says 26 bytes, file holds 22)"),
    "empty data chunk": (riff(fmt_chunk(), chunk(b"data", b"")), "no audio samples"),
    "less than a frame": (riff(fmt_chunk(channels=2), chunk(b"data", b"\1\2")), "no audio samples"),
}


def assert_one_line_error(error, name, expected):
    message = str(error)
    assert message.startswith(f"{name}: ") and expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", ERRORS)
def test_errors_are_one_line_and_name_the_file(tmp_path, case):
    data, expected = ERRORS[case]
    path = tmp_path / f"{case}.wav"
    if data is not None:
        path.write_bytes(data)
    for read in (probe_wav, read_wav):
        with pytest.raises(KwsError) as caught:
            read(path)
        assert_one_line_error(caught.value, str(path), expected)
    if data is not None:
        with pytest.raises(KwsError) as caught:
            decode_wav_bytes(data, name="upload 7")
        assert_one_line_error(caught.value, "upload 7", expected)


def test_truncated_message_is_exact(tmp_path):
    path = save(tmp_path, ERRORS["truncated"][0])
    with pytest.raises(KwsError) as caught:
        probe_wav(path)
    assert str(caught.value) == (f"{path}: truncated (header says 32000 bytes of audio, "
                                 "file holds 1200)")


def test_a_directory_is_not_a_wav_file(tmp_path):
    for read in (probe_wav, read_wav):
        with pytest.raises(KwsError) as caught:
            read(tmp_path)
        assert_one_line_error(caught.value, str(tmp_path), "is a directory")


# --- fuzzing -------------------------------------------------------------------------------

STEREO = np.stack([sine(seconds=0.01), sine(900, seconds=0.01)], axis=1)
VALID = [  # what the fuzz tests mutate: plain 16-bit mono, and 24-bit stereo with an odd chunk
    wav(sine(seconds=0.02)),
    riff(fmt_chunk(channels=2, bits=24), chunk(b"LIST", b"INFOodd"),
         chunk(b"data", encode(STEREO, bits=24))),
]


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzz.wav"


def check_valid_result_or_kws_error(data, path):
    """The contract: a valid result or a one-line KwsError, and the three readers agree."""
    path.write_bytes(data)
    name = str(path)
    try:
        info, probe_error = probe_wav(path), None
    except KwsError as error:
        info, probe_error = None, str(error)
        assert_one_line_error(error, name, "")
    try:
        audio = decode_wav_bytes(data, 16000, name)
    except KwsError as error:
        audio = None
        assert_one_line_error(error, name, "")
        # Same header parser: the same verdict, except that only decoding resamples.
        assert str(error) == probe_error if info is None else "resampl" in str(error)
    if info is not None:
        assert info.channels >= 1 and info.sample_rate >= 1 and info.num_frames >= 1
        assert info.format_tag in (1, 3)
    if audio is not None:
        assert info is not None
        assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) > 0
        assert np.all(np.abs(audio) <= 1.0)
    if info is not None and info.is_standard(16000):
        theirs = tf_decode(path)
        assert theirs is not None and np.array_equal(theirs[:, 0], audio)


PREFIXES = [b"", b"RIFF\0\0\0\0WAVE", b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0", VALID[0][:44]]


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_path, prefix, tail):
    check_valid_result_or_kws_error(prefix + tail, fuzz_path)


@settings(max_examples=100, deadline=None)
@given(base=st.sampled_from(VALID),
       edits=st.lists(st.tuples(st.one_of(st.integers(0, 80), st.integers(0, 1000)),
                                st.integers(0, 255)), max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 1000)))
def test_fuzz_mutated_wavs(fuzz_path, base, edits, cut):
    data = bytearray(base)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[:cut]
    check_valid_result_or_kws_error(bytes(data), fuzz_path)
