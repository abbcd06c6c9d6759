"""Reading and writing wav files.

``tf.audio.decode_wav`` (what Hello Edge's graphs use) reads only 16-bit PCM;
this module reads everything else users have (8/24/32-bit PCM, float, stereo,
other rates, WAVE_FORMAT_EXTENSIBLE, extra chunks) and converts it to what the
pipeline expects. Broken files raise ``KwsError`` with a one-line message that
names the file, so a bad clip among 100k says which one it is.

``probe_wav`` reads only the chunk headers (it runs on every file at index
time) and tells whether ``tf.audio.decode_wav`` can decode a file as is
(``WavInfo.is_standard``); ``read_wav`` / ``decode_wav_bytes`` convert the rest.
"""
import atexit
import dataclasses
import functools
import os
import struct
import wave

import numpy as np

from kws_tf.config import DEFAULT_RESAMPLER, RESAMPLERS
from kws_tf.errors import KwsError

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_SUPPORTED_BITS = {PCM: (8, 16, 24, 32), IEEE_FLOAT: (32, 64)}
# Names for the compressed encodings people actually meet, for the error message.
_TAG_NAMES = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
              0x0031: "GSM 6.10", 0x0050: "MPEG", 0x0055: "MP3", 0x0161: "WMA"}
# An EXTENSIBLE sub-format GUID is the format tag followed by these 14 bytes.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
# The only chunks tf.audio.decode_wav skips before "fmt " (it rejects e.g. LIST there).
_TF_SKIPS_BEFORE_FMT = {b"JUNK", b"bext", b"iXML", b"qlty", b"mext", b"levl", b"link", b"axml"}
# Beyond these, a "rate" is a corrupt header, and resampling it could need absurd memory.
_MIN_RATE, _MAX_RATE = 1000, 1_000_000

_RIFF = struct.Struct("<4sI4s")
_CHUNK = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")


@dataclasses.dataclass(frozen=True)
class WavInfo:
    """What the header of a wav file says, checked against the bytes present."""
    path: str
    format_tag: int        # PCM or IEEE_FLOAT (an EXTENSIBLE header's sub-format)
    channels: int
    sample_rate: int
    bits_per_sample: int
    num_frames: int        # samples per channel actually present in the data chunk
    extensible: bool       # the header used WAVE_FORMAT_EXTENSIBLE (0xFFFE)
    # tf.audio.decode_wav decodes the file, to the samples read_wav sees (see _tf_readable).
    tf_readable: bool = False

    def is_standard(self, sample_rate):
        """True when tf.audio.decode_wav reads this file exactly as read_wav would.

        That is plain 16-bit PCM mono at `sample_rate` in a chunk layout that
        decode_wav parses. decode_wav refuses EXTENSIBLE headers even for
        16-bit PCM, so those are never standard.
        """
        return self.tf_readable and self.channels == 1 and self.sample_rate == sample_rate


def probe_wav(path):
    """Reads and checks the header of the wav file at `path`; returns its WavInfo.

    Only chunk headers are read (not the audio), so probing a whole data set is
    cheap. Raises KwsError for anything read_wav could not decode.
    """
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as stream:
            def read(offset, count):
                stream.seek(offset)
                return stream.read(count)

            return _parse(read, os.fstat(stream.fileno()).st_size, name)[0]
    except OSError as error:
        raise _os_error(name, error) from None


def read_wav(path, sample_rate=16000, resampler=DEFAULT_RESAMPLER):
    """The audio of the wav file at `path`: float32 mono in [-1, 1] at `sample_rate`
    (other rates converted by `resampler`, one of RESAMPLERS)."""
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise _os_error(name, error) from None
    return decode_wav_bytes(data, sample_rate, name, resampler)


def decode_wav_bytes(data, sample_rate=16000, name="<bytes>", resampler=DEFAULT_RESAMPLER):
    """Like read_wav, for wav bytes already in memory; `name` goes in error messages.

    16-bit PCM is scaled exactly as tf.audio.decode_wav does (x / 32768);
    n-bit PCM by 2^(n-1) likewise (8-bit is unsigned: (x - 128) / 128), float
    is clipped to [-1, 1]; channels are averaged; other rates are resampled.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    data = bytes(data)
    info, offset = _parse(lambda start, count: data[start:start + count], len(data), name)
    frame_bytes = info.channels * info.bits_per_sample // 8
    samples = _to_float(data[offset:offset + info.num_frames * frame_bytes], info)
    if info.channels > 1:
        samples = samples.reshape(-1, info.channels).mean(axis=1)
    samples = samples.astype(np.float32)
    if info.sample_rate != sample_rate:
        samples = resample(samples, info.sample_rate, sample_rate, name, resampler)
    return samples


def write_wav(path, samples, sample_rate=16000):
    """Writes mono 16-bit PCM to a path or binary file. Floats in [-1, 1) are scaled by 32768."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        samples = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)
    with wave.open(path if hasattr(path, "write") else str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(samples.astype("<i2").tobytes())


def _os_error(name, error):
    if isinstance(error, FileNotFoundError):
        return KwsError(f"{name}: no such file")
    if isinstance(error, IsADirectoryError):
        return KwsError(f"{name}: is a directory, not a wav file")
    return KwsError(f"{name}: cannot read ({error.strerror or error})")


def _parse(read, size, name):
    """Walks the RIFF chunks; returns (WavInfo, offset of the audio bytes).

    `read(offset, count)` returns up to `count` bytes at `offset` of a
    `size`-byte file, so files (seek + read) and bytes share this code.
    Chunks have a pad byte after an odd size; the RIFF size field is ignored
    (writers often get it wrong, and decode_wav ignores it too).
    """
    def fail(message):
        return KwsError(f"{name}: {message}")

    if size == 0:
        raise fail("empty file")
    head = read(0, _RIFF.size)
    if len(head) < _RIFF.size or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        raise fail("not a wav file (no RIFF/WAVE header)")
    chunks = []                     # (id, size) of every complete chunk, in order
    fmt = data = cut = None
    offset = _RIFF.size
    while offset + _CHUNK.size <= size:
        chunk_id, chunk_size = _CHUNK.unpack(read(offset, _CHUNK.size))
        start = offset + _CHUNK.size
        if start + chunk_size > size:
            if chunk_id == b"data" and data is None:
                raise fail(f"truncated (header says {chunk_size} bytes of audio, "
                           f"file holds {size - start})")
            cut = (chunk_id, chunk_size, size - start)
            break                   # a cut-off or garbage chunk: nothing after it is usable
        chunks.append((chunk_id, chunk_size))
        if chunk_id == b"fmt " and fmt is None:
            fmt = read(start, min(chunk_size, 40))
        elif chunk_id == b"data" and data is None:
            data = (start, chunk_size)
        offset = start + chunk_size + (chunk_size & 1)
    if fmt is None or data is None:
        if cut is not None:
            chunk_id, chunk_size, held = cut
            raise fail(f"truncated (the {ascii(chunk_id.decode('latin-1'))} chunk header says "
                       f"{chunk_size} bytes, file holds {held})")
        raise fail("no fmt chunk" if fmt is None else "no data chunk")

    if len(fmt) < _FMT.size:
        raise fail(f"malformed fmt chunk ({len(fmt)} bytes, need at least {_FMT.size})")
    header_tag, channels, rate, byte_rate, block_align, bits = _FMT.unpack_from(fmt)
    tag = header_tag
    if header_tag == EXTENSIBLE:
        if len(fmt) < 40:
            raise fail(f"malformed fmt chunk (WAVE_FORMAT_EXTENSIBLE needs 40 bytes, "
                       f"got {len(fmt)})")
        guid = fmt[24:40]
        tag = int.from_bytes(guid[:2], "little")
        if guid[2:] != _GUID_TAIL:
            raise fail(f"unsupported wav encoding (WAVE_FORMAT_EXTENSIBLE sub-format {guid.hex()})")
    if tag not in _SUPPORTED_BITS:
        known = f", {_TAG_NAMES[tag]}" if tag in _TAG_NAMES else ""
        raise fail(f"unsupported wav encoding (format tag 0x{tag:04X}{known})")
    if channels == 0:
        raise fail("no audio channels (the fmt chunk says 0)")
    if rate == 0:
        raise fail("sample rate is 0")
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise fail(f"unsupported sample rate ({rate} Hz; expected {_MIN_RATE} to {_MAX_RATE})")
    if bits not in _SUPPORTED_BITS[tag]:
        kind = "PCM" if tag == PCM else "float"
        raise fail(f"unsupported bit depth ({bits}-bit {kind})")
    data_offset, data_size = data
    frame_bytes = channels * bits // 8
    num_frames = data_size // frame_bytes
    if num_frames == 0:
        raise fail("no audio samples")
    tf_readable = _tf_readable(chunks, offset == size, len(fmt), header_tag, bits,
                               frame_bytes == block_align, byte_rate == block_align * rate,
                               data_size % frame_bytes == 0)
    info = WavInfo(name, tag, channels, rate, bits, num_frames, header_tag == EXTENSIBLE,
                   tf_readable)
    return info, data_offset


def _tf_readable(chunks, walked_to_end, fmt_size, header_tag, bits, block_align_ok,
                 byte_rate_ok, whole_frames):
    """Whether tf.audio.decode_wav decodes the file to the samples we read.

    It mirrors the checks of TensorFlow's wav_io.cc (tested against
    tf.audio.decode_wav): fmt first (only JUNK-like chunks before it), a 16- or
    18-byte fmt chunk with tag 1 (so no EXTENSIBLE), 16 bits, consistent block
    align and byte rate, exactly one data chunk. decode_wav skips chunks
    without their pad byte and fails on bytes left after the last chunk, so we
    also ask for even chunk sizes and a walk that ends exactly at the end of
    the file. This is on the safe side: a few odd files that decode_wav would
    read (a truncated chunk after the audio, say) are just converted instead.
    """
    ids = [chunk_id for chunk_id, _ in chunks]
    before_fmt = ids[:ids.index(b"fmt ")]
    return (all(chunk_id in _TF_SKIPS_BEFORE_FMT for chunk_id in before_fmt)
            and ids.count(b"data") == 1 and b"data" not in before_fmt
            and all(chunk_size % 2 == 0 for _, chunk_size in chunks) and walked_to_end
            and fmt_size in (16, 18) and header_tag == PCM and bits == 16
            and block_align_ok and byte_rate_ok and whole_frames)


def _to_float(raw, info):
    """Interleaved samples as float64 in [-1, 1] (PCM: [-1, 1))."""
    bits = info.bits_per_sample
    if info.format_tag == IEEE_FLOAT:
        samples = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float64)
        return np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    if bits == 8:  # 8-bit wav is unsigned, centred on 128
        return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    if bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        b[:, 2] = b[:, 2].astype(np.int8)  # the top byte carries the sign
        samples = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    else:
        samples = np.frombuffer(raw, "<i2" if bits == 16 else "<i4")
    return samples.astype(np.float64) / 2.0 ** (bits - 1)


def resample(samples, rate_in, rate_out, name, resampler=DEFAULT_RESAMPLER):
    """Mono float32 audio from `rate_in` to `rate_out` Hz, clipped to [-1, 1].

    soxr (libsoxr's "HQ" polyphase filter) keeps the timing: its output is aligned with the
    input and has round(n * rate_out / rate_in) samples. tensorflow-io's speex resampler
    (`resampler` "tfio", tests/data/test_wav.py pins its figures) keeps frequency and amplitude
    too, gives floor(n * rate_out / rate_in) samples, but delays the output by its filter's
    latency, 32 samples at the lower of the two rates (tensorflow/io#1392): 44.1 -> 16 kHz
    starts 31.9 output samples (2 ms) late, 8 -> 16 kHz 64 (4 ms) late.
    """
    if resampler not in RESAMPLERS:
        raise KwsError(f"--resampler {resampler!r} is not one of {', '.join(RESAMPLERS)}")
    if resampler == "soxr":
        import soxr

        resampled = soxr.resample(samples, int(rate_in), int(rate_out), quality="HQ")
    else:
        try:
            resampled = _tfio_resampler()(samples[:, np.newaxis], int(rate_in), int(rate_out))
            resampled = np.asarray(resampled, np.float32)[:, 0]
        except Exception as error:  # ImportError, or any failure inside the op
            reason = (str(error).strip().splitlines() or [""])[0] or type(error).__name__
            raise KwsError(f"{name}: resampling {rate_in} Hz to {rate_out} Hz with --resampler "
                           "tfio needs tensorflow-io whose ops load on this TensorFlow "
                           f"(pip install kws-tf[tfio]; {reason})") from error
    if len(resampled) == 0:
        raise KwsError(f"{name}: too short to resample ({len(samples)} samples at {rate_in} Hz)")
    return np.clip(np.asarray(resampled, np.float32), -1.0, 1.0)


@functools.lru_cache(maxsize=None)
def _tfio_resampler():
    """tfio.audio.resample traced once: called eagerly it re-traces every time (2-10x slower)."""
    import tensorflow as tf
    import tensorflow_io as tfio

    spec = [tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([], tf.int64),
            tf.TensorSpec([], tf.int64)]
    # Dropped before interpreter teardown, which otherwise makes TensorFlow print an
    # "Exception ignored in AtomicFunction.__del__" traceback at exit.
    atexit.register(_tfio_resampler.cache_clear)
    resample = tf.function(lambda audio, rate_in, rate_out: tfio.audio.resample(
        audio, rate_in=rate_in, rate_out=rate_out), input_signature=spec)
    # Tracing it logs an AutoGraph "Using a while_loop for converting IO>AudioResample"
    # warning that means nothing to users: trace now, with TensorFlow's logger quiet.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        resample.get_concrete_function()
    finally:
        logger.setLevel(level)
    return resample
