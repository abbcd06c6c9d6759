"""A data set with every kind of bad or odd file mixed in, through train.py."""
import json

import numpy as np
import pytest

from kws_tf.commands import train as train_command
from tests.conftest import make_dataset, tone
from tests.data.test_wav import chunk, encode, fmt_chunk, riff

FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "40", "--dct_coefficient_count", "10"]
# name -> bytes of the file; all are "yes" clips of one speaker.
CONVERTED = {
    "8bit_nohash_0.wav": riff(fmt_chunk(bits=8), chunk(b"data", encode(tone(440), bits=8))),
    "rate44k_nohash_0.wav": riff(fmt_chunk(rate=44100),
                                 chunk(b"data", encode(tone(440, sample_rate=44100)))),
    "stereo_nohash_0.wav": riff(fmt_chunk(channels=2), chunk(b"data", encode(
        np.stack([tone(440), tone(440)], axis=1)))),
    "short_nohash_0.wav": riff(fmt_chunk(), chunk(b"data", encode(tone(440, seconds=0.3)))),
    "long_nohash_0.wav": riff(fmt_chunk(), chunk(b"data", encode(tone(440, seconds=5.0)))),
}
BAD = {
    "corrupt_nohash_0.wav": b"RIFF\x10\0\0\0WAVEfmt \xff\xff\xff\xff garbage",
    "empty_nohash_0.wav": b"",
    "truncated_nohash_0.wav": riff(fmt_chunk(), chunk(b"data", encode(tone(440))))[:3000],
    "notwav_nohash_0.wav": b"ID3\x03\0\0\0\0\0\x0fan mp3, not a wav",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("bad") / "data", speakers=30)
    for name, data in {**CONVERTED, **BAD}.items():
        (root / "yes" / f"f00d{name}").write_bytes(data)
    return root


def _train(data_dir, work, extra=()):
    argv = ["--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
            "--train_dir", str(work / "train"), "--summaries_dir", str(work / "logs"),
            "--how_many_training_steps", "4", "--learning_rate", "0.01",
            "--eval_step_interval", "4", "--batch_size", "10", "--validation_percentage", "30",
            "--testing_percentage", "30", "--json_out", str(work / "out.json")] + FEATURES
    try:
        return train_command.main(argv + list(extra))
    except SystemExit as exit_:
        return exit_.code


def test_bad_files_stop_training_before_it_starts_naming_one(data_dir, tmp_path, capsys):
    assert _train(data_dir, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert any(name in err[0] for name in BAD) and "--skip_bad_files" in err[0], err
    assert not (tmp_path / "train" / "checkpoint_state.json").exists()


def test_skip_bad_files_skips_and_counts_exactly_the_undecodable_ones(data_dir, tmp_path,
                                                                      capsys):
    assert _train(data_dir, tmp_path, ["--skip_bad_files"]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["bad_files"] == len(BAD)
    assert f"skipped {len(BAD)} bad files" in capsys.readouterr().err


def test_odd_formats_are_converted_padded_or_trimmed_to_one_clip(data_dir):
    """Each converted file gives a 1-s 16-kHz clip holding the 440-Hz tone."""
    from kws_tf.data.pipeline import load_audio
    from kws_tf.data.speech_commands import Item
    from kws_tf.config import FeatureConfig

    config = FeatureConfig()
    paths = [str(data_dir / "yes" / f"f00d{name}") for name in CONVERTED]
    audio = load_audio([Item(path, 2, standard=False) for path in paths], config)
    assert audio.shape == (len(paths), 16000)
    for name, clip in zip(CONVERTED, audio.astype(np.float32) / 32768):
        heard = clip[:4800] if name.startswith("short") else clip
        spectrum = np.abs(np.fft.rfft(heard))
        peak_hz = np.argmax(spectrum) * 16000 / len(heard)
        assert abs(peak_hz - 440) < 10, name
        if name.startswith("short"):
            assert np.all(clip[4900:] == 0), "padded with zeros at the end"
