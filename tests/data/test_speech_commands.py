import collections
import math
import os

import pytest

from kws_tf.config import DataConfig, parse_wanted_words
from kws_tf.data import speech_commands as sc
from kws_tf.errors import KwsError
from tests.conftest import make_dataset


@pytest.mark.parametrize("name, expected", [
    # From Speech Commands v0.02's own validation_list.txt / testing_list.txt, which
    # were made with the same rule at 10 % / 10 %: Hello Edge puts them there too.
    ("right/a69b9b3e_nohash_0.wav", "validation"),
    ("right/439c84f4_nohash_1.wav", "validation"),
    ("right/bb05582b_nohash_3.wav", "testing"),
    ("right/97f4c236_nohash_2.wav", "testing"),
])
def test_which_set_matches_hello_edge_on_known_names(name, expected):
    assert sc.which_set(name, 10, 10) == expected


def test_which_set_ignores_everything_from_nohash():
    for n in range(5):
        assert (sc.which_set(f"/x/yes/a69b9b3e_nohash_{n}.wav", 10, 10)
                == sc.which_set("no/a69b9b3e_nohash_0.wav", 10, 10))


def test_which_set_percentages_move_the_boundaries():
    names = [f"w/{i:08x}_nohash_0.wav" for i in range(2000)]
    counts = collections.Counter(sc.which_set(n, 20, 30) for n in names)
    assert abs(counts["validation"] / 2000 - 0.2) < 0.03
    assert abs(counts["testing"] / 2000 - 0.3) < 0.03
    assert all(sc.which_set(n, 0, 0) == "training" for n in names[:50])


def _index(root, **overrides):
    config = DataConfig(data_dir=str(root), wanted_words=("yes", "no"), **overrides)
    return sc.build_index(config)


def test_index_labels_silence_and_unknown_like_hello_edge(tmp_path):
    root = make_dataset(tmp_path, speakers=60)
    index = _index(root)
    assert index.words_list == ["_silence_", "_unknown_", "yes", "no"]
    assert [os.path.basename(p) for p in index.background_files] == ["white.wav"]
    for name, items in index.splits.items():
        wanted = [i for i in items if i.label >= 2]
        silence = [i for i in items if i.label == 0]
        unknown = [i for i in items if i.label == 1]
        assert len(silence) == math.ceil(len(wanted) * 0.1)
        assert len(unknown) == min(math.ceil(len(wanted) * 0.1),
                                   sum(sc.which_set(p, 10, 10) == name
                                       for p in map(str, root.glob("[cd]*/*.wav"))))
        assert all(i.path == "" for i in silence)
        for item in wanted + unknown:
            assert sc.which_set(item.path, 10, 10) == name
            word = os.path.basename(os.path.dirname(item.path))
            assert item.label == {"yes": 2, "no": 3}.get(word, 1)
    # Fixed seed and sorted files: building twice gives the same order.
    assert _index(root).splits == index.splits


def test_lists_split_uses_the_data_sets_own_lists(tmp_path):
    root = make_dataset(tmp_path, speakers=10)
    (root / "validation_list.txt").write_text(
        "yes/00000001_nohash_0.wav\nno/00000002_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("yes/00000003_nohash_0.wav\n")
    index = _index(root, split="lists", silence_percentage=0, unknown_percentage=0)
    names = {s: sorted(os.path.relpath(i.path, root) for i in items)
             for s, items in index.splits.items()}
    assert names["validation"] == ["no/00000002_nohash_0.wav", "yes/00000001_nohash_0.wav"]
    assert names["testing"] == ["yes/00000003_nohash_0.wav"]
    assert len(names["training"]) == 20 - 3


def test_lists_split_without_lists_is_a_clear_error(tmp_path):
    root = make_dataset(tmp_path, speakers=3)
    with pytest.raises(KwsError, match="validation_list.txt"):
        _index(root, split="lists")


@pytest.mark.parametrize("setup, message", [
    (lambda root: None, "does not exist"),
    (lambda root: root.mkdir(), "holds no <word>/\\*.wav"),
    (lambda root: (root / "yes").mkdir(parents=True), "holds no <word>/\\*.wav"),
])
def test_missing_or_empty_data_dir(tmp_path, setup, message):
    root = tmp_path / "data"
    setup(root)
    with pytest.raises(KwsError, match=message):
        _index(root)


def test_wanted_word_without_clips(tmp_path):
    root = make_dataset(tmp_path, words=("yes", "cat"), speakers=3)
    (root / "no").mkdir()
    with pytest.raises(KwsError, match="no clips of 'no'"):
        _index(root)


def test_empty_background_folder_is_an_error(tmp_path):
    root = make_dataset(tmp_path, speakers=20, noise=False)
    (root / "_background_noise_").mkdir()
    with pytest.raises(KwsError, match="_background_noise_ holds no .wav"):
        _index(root)


def test_bad_file_is_named_or_skipped_and_counted(tmp_path):
    root = make_dataset(tmp_path, speakers=20)
    bad = root / "yes" / "deadbeef_nohash_0.wav"
    bad.write_bytes(b"this is not a wav file at all")
    with pytest.raises(KwsError, match="deadbeef_nohash_0.wav.*--skip_bad_files"):
        _index(root)
    index = _index(root, skip_bad_files=True)
    assert [path for path, _ in index.bad_files] == [str(bad)]
    assert "skipped 1 bad files" in index.summary()
    assert all(item.path != str(bad) for items in index.splits.values() for item in items)


@pytest.mark.parametrize("text, message", [
    ("", "comma-separated"), ("yes,,no", "comma-separated"), ("yes,yes", "more than once"),
    ("yes,_unknown_", "added automatically")])
def test_wanted_words_flag_errors(text, message):
    with pytest.raises(KwsError, match=message):
        parse_wanted_words(text)


@pytest.mark.parametrize("overrides, flag", [
    ({"validation_percentage": 60, "testing_percentage": 40}, "leave no training"),
    ({"validation_percentage": -1}, "--validation_percentage"),
    ({"silence_percentage": -5}, "--silence_percentage"),
])
def test_inconsistent_percentages(tmp_path, overrides, flag):
    with pytest.raises(KwsError, match=flag):
        DataConfig(data_dir=str(tmp_path), **overrides).validate()
