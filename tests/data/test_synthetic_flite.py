"""Tests for the Flite speakers of the synthetic data set (skipped where Flite is missing)."""
import os

import numpy as np
import pytest

from kws_tf.commands import synthetic as synthetic_command
from kws_tf.data import synthetic
from kws_tf.data.synthetic import flite
from kws_tf.errors import KwsError
from tests.conftest import tree_bytes

needs_flite = pytest.mark.skipif(not flite.available(),
                                 reason="the Flite library (libflite1) is not installed")
ARGS = dict(words=["go", "up"], clips_per_word=6, seed=3, noise_files=0, progress=False,
            unknown_words=["cat"], unknown_clips_per_word=2)


@needs_flite
@pytest.mark.parametrize("voice", flite.VOICES)
def test_each_voice_speaks_and_follows_stretch_and_pitch(voice):
    engine = flite._flite()
    slow, fast = engine.synth("seven.", voice, 1.4), engine.synth("seven.", voice, 0.8)
    assert slow.dtype == np.int16 and 0.2 * 16000 < fast.size < slow.size < 1.6 * 16000
    assert np.abs(fast.astype(np.int32)).max() > 1000
    if voice != "rms":  # rms keeps its own pitch
        assert not np.array_equal(engine.synth("seven.", voice, 1.0, 90),
                                  engine.synth("seven.", voice, 1.0, 200))


@needs_flite
def test_flite_speakers_are_in_the_set_and_deterministic(tmp_path):
    summary = synthetic.generate(tmp_path / "a", flite=0.5, **ARGS)
    names = [n for w in ("go", "up", "cat") for n in os.listdir(tmp_path / "a" / w)]
    assert any(n.startswith("fl-") for n in names) and any(not n.startswith("fl-")
                                                          for n in names)
    assert summary["knobs"]["flite"] == 0.5 and summary["total_clips"] == 14
    synthetic.generate(tmp_path / "b", flite=0.5, workers=1, **ARGS)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_no_flite_keeps_the_espeak_ng_speakers(tmp_path):
    """--flite 0 writes what the generator wrote before Flite speakers existed."""
    synthetic.generate(tmp_path, flite=0, **ARGS)
    names = [n for w in ("go", "up", "cat") for n in os.listdir(tmp_path / w)]
    assert len(names) == 14 and not any(n.startswith("fl-") for n in names)


def test_missing_flite(tmp_path, monkeypatch, capsys):
    """By default a machine without Flite gets espeak-ng speakers and a note; asking for
    Flite there is an error naming the flag."""
    monkeypatch.setattr(flite, "available", lambda: False)
    with pytest.raises(KwsError, match=r"--flite 0\.3: the Flite library is not installed"):
        synthetic.generate(tmp_path / "asked", flite=0.3, **ARGS)
    assert not (tmp_path / "asked" / "go").exists()
    assert synthetic.generate(tmp_path / "default", **ARGS)["knobs"]["flite"] == 0.0
    capsys.readouterr()
    assert synthetic_command.main(["--output_dir", str(tmp_path / "cli"), "--words", "go",
                                   "--clips_per_word", "2", "--unknown_words", "",
                                   "--noise_files", "0"]) == 0
    err = capsys.readouterr().err
    assert "note: no Flite speakers" in err and "wrote 2 clips" in err
