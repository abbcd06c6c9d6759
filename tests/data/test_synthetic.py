"""Tests for the espeak-ng synthetic Speech Commands generator."""
import json
import os
import re
import wave

import numpy as np
import pytest

from kws_tf.commands import synthetic as synthetic_command
from kws_tf.data import synthetic
from kws_tf.data.synthetic import driver, dsp, espeak_ng, flite, piper_tts, plan, vocabulary
from tests.conftest import tree_bytes

WORDS = ["yes", "no", "up", "marvin"]
UNKNOWN = ["hello", "window"]
CLIPS = 3
UNKNOWN_CLIPS = 2
# The default share of Flite speakers, on this machine.
DEFAULT_FLITE = synthetic.FLITE_SHARE if flite.available() else 0.0
DEFAULT_PIPER = (synthetic.PIPER_SHARE if piper_tts.installed() and piper_tts.default_voices()
                 else 0.0)
NAME_RE = re.compile(r"^(?P<speaker>[^/\\]+?)_nohash_(?P<n>\d+)\.wav$")


def _read(path):
    with wave.open(str(path), "rb") as w:
        params = (w.getframerate(), w.getnchannels(), w.getsampwidth())
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return params, data


def _clips(root, word):
    return sorted(p for p in os.listdir(os.path.join(root, word)))


def _frame_rms(x, frame=160):
    x = x.astype(np.float64) / 32768.0
    return np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2,
                           axis=1))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "data"
    summary = synthetic.generate(root, words=WORDS, clips_per_word=CLIPS,
                                 seed=1, noise_files=6, progress=False, **UNKNOWN_ARGS)
    return root, summary


UNKNOWN_ARGS = dict(unknown_words=UNKNOWN, unknown_clips_per_word=UNKNOWN_CLIPS)


def test_layout_and_names(dataset):
    root, summary = dataset
    assert sorted(os.listdir(root)) == sorted(WORDS + UNKNOWN + ["_background_noise_"])
    for word in UNKNOWN:
        assert len(_clips(root, word)) == UNKNOWN_CLIPS
    speakers_by_word = {}
    for word in WORDS:
        names = _clips(root, word)
        assert len(names) == CLIPS
        repeats = {}
        for name in names:
            m = NAME_RE.match(name)
            assert m, name
            speaker = m.group("speaker")
            assert "_nohash_" not in speaker and "/" not in speaker
            repeats.setdefault(speaker, []).append(int(m.group("n")))
        # <n> counts repeats of one speaker for one word: 0, 1, ...
        for ns in repeats.values():
            assert sorted(ns) == list(range(len(ns)))
        speakers_by_word[word] = set(repeats)
    # The same speaker strings recur across words (one speaker pool).
    assert set.intersection(*speakers_by_word.values())
    assert summary["clips_per_word"] == {**{w: CLIPS for w in WORDS},
                                         **{w: UNKNOWN_CLIPS for w in UNKNOWN}}
    assert summary["total_clips"] == CLIPS * len(WORDS) + UNKNOWN_CLIPS * len(UNKNOWN)
    assert summary["num_speakers"] >= len(set.union(*speakers_by_word.values()))
    assert summary["words"] == WORDS and summary["unknown_words"] == UNKNOWN
    defaults = {k: v for k, (v, _) in synthetic.KNOBS.items() if v is not None}
    assert summary["knobs"] == {**defaults, "flite": DEFAULT_FLITE, "piper": DEFAULT_PIPER}
    assert len(summary["noise_files"]) == 6
    # Nothing half-written is left behind.
    leftovers = [p for p in tree_bytes(root) if not p.endswith(".wav")]
    assert leftovers == []


def test_clip_format(dataset):
    root, _ = dataset
    for word in WORDS:
        for name in _clips(root, word):
            params, x = _read(root / word / name)
            assert params == (16000, 1, 2), name
            assert len(x) == 16000, name
            peak = np.abs(x.astype(np.int32)).max()
            assert peak > 0.02 * 32768, name     # not silent (gain >= -34 dB)
            assert peak < 32767, name            # not clipped
            assert np.any(x[:200] != 0) or np.any(x[-200:] != 0), name


def test_noise_files(dataset):
    root, summary = dataset
    folder = root / "_background_noise_"
    names = sorted(os.listdir(folder))
    assert names == sorted(summary["noise_files"])
    assert len(names) == 6
    assert {"white_noise.wav", "pink_noise.wav", "babble.wav"} <= set(names)
    for name in names:
        params, x = _read(folder / name)
        assert params == (16000, 1, 2)
        assert len(x) >= 30 * 16000, name
        assert np.sqrt(np.mean((x / 32768.0) ** 2)) > 0.01, name
        assert np.abs(x.astype(np.int32)).max() < 32767, name


def test_same_seed_is_byte_identical(dataset, tmp_path):
    root, _ = dataset
    # Using espeak-ng in this process first must not matter (workers start
    # from a clean driver), nor must a different worker count.
    espeak_ng._espeak().synth("marvin", "en+m3")
    synthetic.generate(tmp_path / "again", words=WORDS, clips_per_word=CLIPS,
                       seed=1, noise_files=6, workers=1, progress=False, **UNKNOWN_ARGS)
    first, second = tree_bytes(root), tree_bytes(tmp_path / "again")
    assert sorted(first) == sorted(second)
    for rel in first:
        assert first[rel] == second[rel], rel


def test_rerun_into_same_dir_is_unchanged(tmp_path):
    kwargs = dict(words=["go", "stop"], clips_per_word=2, seed=3,
                  noise_files=1, progress=False, unknown_words=["cat"])
    synthetic.generate(tmp_path / "d", **kwargs)
    before = tree_bytes(tmp_path / "d")
    synthetic.generate(tmp_path / "d", **kwargs)
    assert tree_bytes(tmp_path / "d") == before


def test_different_seed_differs(dataset, tmp_path):
    root, _ = dataset
    synthetic.generate(tmp_path / "other", words=WORDS, clips_per_word=CLIPS,
                       seed=2, noise_files=1, progress=False, **UNKNOWN_ARGS)
    first, other = tree_bytes(root), tree_bytes(tmp_path / "other")
    clips1 = {k: v for k, v in first.items() if "_background_noise_" not in k}
    clips2 = {k: v for k, v in other.items() if "_background_noise_" not in k}
    assert sorted(clips1.values()) != sorted(clips2.values())
    assert len(set(clips1.values()) & set(clips2.values())) == 0
    noise = os.path.join("_background_noise_", "white_noise.wav")
    assert first[noise] != other[noise]


def test_word_is_placed_at_random_positions(dataset):
    root, _ = dataset
    onsets = []
    for word in WORDS:
        for name in _clips(root, word):
            _, x = _read(root / word / name)
            rms = _frame_rms(x)
            loud = np.flatnonzero(rms > 0.3 * rms.max())
            onsets.append(loud[0] * 160)
            # The utterance itself is a short part of the second.
            assert loud[-1] - loud[0] < 95, name
    onsets = np.array(onsets)
    assert onsets.max() - onsets.min() > 4000
    assert np.std(onsets) > 1000
    assert len(set(onsets.tolist())) > len(onsets) // 2


def test_different_words_are_different_audio(dataset):
    root, _ = dataset
    # Same speaker setting, different words: clean espeak output differs.
    espeak = espeak_ng._espeak()
    clean = {w: espeak.synth(w, "en-us+m3", 170, 50, 50) for w in WORDS}
    for a in WORDS:
        for b in WORDS:
            if a < b:
                x, y = clean[a].astype(float), clean[b].astype(float)
                n = min(len(x), len(y))
                corr = np.dot(x[:n], y[:n]) / (
                    np.linalg.norm(x[:n]) * np.linalg.norm(y[:n]) + 1e-9)
                assert abs(corr) < 0.5, (a, b)
    # In the files: "marvin" (two syllables) lasts longer than "up".
    def duration(word):
        out = []
        for name in _clips(root, word):
            _, x = _read(root / word / name)
            rms = _frame_rms(x)
            loud = np.flatnonzero(rms > 0.1 * rms.max())
            out.append(loud[-1] - loud[0])
        return np.median(out)
    assert duration("marvin") > duration("up")
    # And no clip of one word equals a clip of another.
    audio = {}
    for word in WORDS:
        for name in _clips(root, word):
            audio.setdefault(_read(root / word / name)[1].tobytes(), word)
    assert len(audio) == len(WORDS) * CLIPS


def test_speaker_pool_has_no_nohash_and_is_varied():
    accents, variants = synthetic.available_voices()
    assert len(accents) == len(synthetic.ACCENTS)
    assert len(variants) >= 60
    pool = plan._speaker_pool(0, 300, accents, variants)
    names = [s["name"] for s in pool]
    assert len(set(names)) == 300
    for name in names:
        assert "_nohash_" not in name and "/" not in name and " " not in name
    assert len({s["voice"].split("+")[0] for s in pool}) == len(accents)
    assert len({s["voice"] for s in pool}) > 100


def test_all_listed_voices_load():
    espeak = espeak_ng._espeak()
    accents, variants = synthetic.available_voices()
    for accent, _, _ in accents:
        for variant in variants:
            assert espeak.set_voice(vocabulary._voice_name(accent, variant)), \
                (accent, variant)
    assert not espeak.set_voice("en+no-such-variant")


def test_resample_keeps_a_tone():
    t = np.arange(22050 * 2) / 22050.0
    x = np.sin(2 * np.pi * 440.0 * t)
    y = dsp.resample(x, 32000)
    ref = np.sin(2 * np.pi * 440.0 * np.arange(32000) / 16000.0)
    assert np.max(np.abs(y - ref)) < 1e-6


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize("flags, needle", [
    (["--clips_per_word", "0"], "--clips_per_word"),
    (["--clips_per_word", "-5"], "--clips_per_word"),
    (["--noise_files", "-1"], "--noise_files"),
    (["--seed", "-1"], "--seed"),
    (["--words", "yes,,no"], "--words"),
    (["--words", ""], "--words"),
    (["--words", "yes,yes"], "--words"),
    (["--words", "a/b"], "--words"),
    (["--words", "_background_noise_"], "--words"),
    (["--words", "yes,..."], "..."),
    (["--json_out", "/dev/null/x.json"], "--json_out"),
    (["--unknown_words", "cat,cat"], "--unknown_words"),
    (["--unknown_words", "a/b"], "--unknown_words"),
    (["--unknown_clips_per_word", "-1"], "--unknown_clips_per_word"),
    (["--reverb", "1.5"], "--reverb"),
    (["--warp", "0.9"], "--warp"),
    (["--noise", "-0.1"], "--noise"),
    (["--flite", "1.5"], "--flite"),
    (["--flite", "some"], "--flite"),
    (["--piper", "-0.1"], "--piper"),
])
def test_bad_flags_exit_2(tmp_path, capsys, flags, needle):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        synthetic_command.main(["--output_dir", str(out)] + flags)
    assert exit_.value.code == 2
    line = _error_line(capsys)
    assert needle in line
    # Nothing was generated.
    assert not out.exists() or not any(
        f.endswith(".wav") for _, _, fs in os.walk(out) for f in fs)


def test_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        synthetic_command.main(["--output_dir", str(blocker / "out"),
                        "--clips_per_word", "1", "--words", "yes"])
    assert exit_.value.code == 2
    line = _error_line(capsys)
    assert "--output_dir" in line and str(blocker) in line


def test_unknown_flag_is_rejected(tmp_path):
    with pytest.raises(SystemExit) as exc:
        synthetic_command.main(["--output_dir", str(tmp_path), "--bogus", "1"])
    assert exc.value.code == 2


def test_cli_json_out_and_progress(tmp_path, capsys):
    out, js = tmp_path / "out", tmp_path / "summary.json"
    rc = synthetic_command.main(["--output_dir", str(out), "--clips_per_word", "2",
                         "--words", "left,right", "--noise_files", "0", "--unknown_words", "",
                         "--seed", "5", "--json_out", str(js)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "clips 4/4" in err and "clips/s" in err
    summary = json.loads(js.read_text())
    assert summary["output_dir"] == str(out)
    assert summary["words"] == ["left", "right"]
    assert summary["clips_per_word"] == {"left": 2, "right": 2}
    assert summary["noise_files"] == []
    assert summary["num_speakers"] >= 1
    assert summary["seconds"] > 0 and summary["clips_per_second"] > 0
    assert sorted(os.listdir(out)) == ["left", "right"]


def test_default_words():
    assert len(synthetic.DEFAULT_WORDS) == 30
    assert synthetic.DEFAULT_WORDS[:10] == synthetic.HELLO_EDGE_WORDS == (
        "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
    # The keywords by default; the other twenty words lead the negatives.
    args = synthetic_command._parser().parse_args(["--output_dir", "x"])
    assert args.words.split(",") == list(synthetic.HELLO_EDGE_WORDS)
    assert synthetic.DEFAULT_UNKNOWN_WORDS[:20] == synthetic.DEFAULT_WORDS[10:]
    assert not set(synthetic.COMMON_WORDS) & set(synthetic.DEFAULT_WORDS)


def test_write_failure_in_a_worker_is_a_kws_error(tmp_path):
    kwargs = dict(words=["on"], clips_per_word=1, seed=4, noise_files=0,
                  progress=False, unknown_words=[])
    synthetic.generate(tmp_path / "d", **kwargs)
    (name,) = os.listdir(tmp_path / "d" / "on")
    target = tmp_path / "d" / "on" / name
    target.unlink()
    target.mkdir()  # a folder where the wav must go
    with pytest.raises(synthetic.KwsError, match=re.escape(name)):
        synthetic.generate(tmp_path / "d", **kwargs)
    assert not [f for f in os.listdir(tmp_path / "d" / "on")
                if f.endswith(".tmp")]


def test_custom_phrase_and_default_unknown_words(tmp_path):
    """A keyword no data set has: hey_kiwi is said "hey kiwi"; the default negatives are
    Speech Commands' other words and common English words, less the keywords."""
    assert vocabulary.spoken("hey_kiwi") == "hey kiwi"
    summary = synthetic.generate(tmp_path / "d", words=["hey_kiwi", "hello"], clips_per_word=2,
                                 seed=0, noise_files=0, progress=False,
                                 unknown_clips_per_word=1)
    assert "hello" not in summary["unknown_words"]
    unknown = [w for w in synthetic.DEFAULT_UNKNOWN_WORDS if w != "hello"]
    assert summary["unknown_words"] == unknown
    assert sorted(os.listdir(tmp_path / "d")) == sorted(["hey_kiwi", "hello", *unknown])
    assert summary["clips_per_word"]["hey_kiwi"] == 2
    assert summary["clips_per_word"]["window"] == 1

    def active(path):
        rms = _frame_rms(_read(path)[1])
        loud = np.flatnonzero(rms > 0.1 * rms.max())
        return loud[-1] - loud[0]
    kiwi = [active(p) for p in sorted((tmp_path / "d" / "hey_kiwi").iterdir())]
    hello = [active(p) for p in sorted((tmp_path / "d" / "hello").iterdir())]
    assert np.median(kiwi) > np.median(hello)  # two words last longer than one


def test_phonemes_match_homophones_only():
    assert espeak_ng._espeak().phonemes("know") == espeak_ng._espeak().phonemes("no")
    sounds = driver.phonemes(["no", "know", "go", "hey kiwi", "right", "write"])
    assert sounds[0] == sounds[1] and sounds[4] == sounds[5]
    assert len({sounds[0], sounds[2], sounds[3], sounds[4]}) == 4
    assert "'" not in sounds[3] and " " in sounds[3]  # stress left out, both words kept


def test_unknown_words_that_sound_like_a_keyword_are_left_out(tmp_path, capsys):
    """A clip of "know" labelled _unknown_ would teach that "no" is not a keyword."""
    out, js = tmp_path / "d", tmp_path / "s.json"
    assert synthetic_command.main(["--output_dir", str(out), "--words", "no,right",
                                   "--clips_per_word", "1", "--unknown_words",
                                   "know,write,hello", "--unknown_clips_per_word", "1",
                                   "--noise_files", "0", "--json_out", str(js)]) == 0
    summary = json.loads(js.read_text())
    assert summary["unknown_words"] == ["hello"]
    assert summary["homophones_left_out"] == {"know": "no", "write": "right"}
    assert sorted(os.listdir(out)) == ["hello", "no", "right"]
    assert "sound like a keyword: know (no), write (right)" in capsys.readouterr().err
    default = synthetic.generate(tmp_path / "e", words=["no"], clips_per_word=1,
                                 noise_files=0, progress=False, unknown_clips_per_word=0)
    assert default["unknown_words"] == [] and default["homophones_left_out"] == {}


def test_every_knob_changes_the_clips(tmp_path):
    """Turning one realism knob off changes the clips; all off still gives speech."""
    args = dict(words=["yes"], clips_per_word=4, seed=0, noise_files=0, progress=False,
                unknown_words=[])
    most = {name: (0.2 if name in ("warp", "timbre") else 1.0) for name in synthetic.KNOBS}
    most["flite"] = 0.5 if flite.available() else 0.0
    most["piper"] = DEFAULT_PIPER and 0.3
    synthetic.generate(tmp_path / "on", **args, **most)
    full = tree_bytes(tmp_path / "on")
    for name, (_, off) in synthetic.KNOBS.items():
        if most[name] == off:
            continue
        synthetic.generate(tmp_path / name, **args, **{**most, name: off})
        assert tree_bytes(tmp_path / name) != full, name
    plain = synthetic.generate(tmp_path / "plain", **args,
                               **{k: off for k, (_, off) in synthetic.KNOBS.items()})
    assert plain["total_clips"] == 4
