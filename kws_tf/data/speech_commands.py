"""The Speech Commands index: which file goes to which split with which label.

This reproduces Hello Edge's ``input_data.py`` (``which_set`` and
``prepare_data_index``) so that accuracies are comparable: the same SHA-1
hash split, the same label order, and ``_silence_`` / ``_unknown_`` items
added per split from ``random.seed(59185)`` in the same order of calls. The
file list is sorted (Hello Edge used glob order, which depends on the file
system), so the unknown subset is the same on every machine.
"""
import dataclasses
import glob
import hashlib
import math
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor

from kws_tf.config import DEFAULT_RESAMPLER, SILENCE_LABEL, UNKNOWN_WORD_LABEL
from kws_tf.data.wav import probe_wav
from kws_tf.errors import KwsError

MAX_NUM_WAVS_PER_CLASS = 2 ** 27 - 1  # ~134M
SILENCE_INDEX = 0
UNKNOWN_WORD_INDEX = 1
BACKGROUND_NOISE_DIR_NAME = "_background_noise_"
RANDOM_SEED = 59185
SPLITS = ("training", "validation", "testing")


def which_set(filename, validation_percentage, testing_percentage):
    """Hello Edge's stable split: a speaker's clips (same name before `_nohash_`) share a split."""
    base_name = os.path.basename(filename)
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_value = int(hashlib.sha1(hash_name.encode("utf-8")).hexdigest(), 16)
    percentage_hash = ((hash_value % (MAX_NUM_WAVS_PER_CLASS + 1))
                       * (100.0 / MAX_NUM_WAVS_PER_CLASS))
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def prepare_words_list(wanted_words):
    """Label order: `_silence_`, `_unknown_`, then the wanted words."""
    return [SILENCE_LABEL, UNKNOWN_WORD_LABEL] + list(wanted_words)


def wanted_words_of(labels, where):
    """The --wanted_words of a model's label list (`_silence_`, `_unknown_`, then the words)."""
    if list(labels[:2]) != [SILENCE_LABEL, UNKNOWN_WORD_LABEL]:
        raise KwsError(f"{where}: its labels {labels} do not start with {SILENCE_LABEL}, "
                       f"{UNKNOWN_WORD_LABEL}, so they are not a Speech Commands label set")
    return ",".join(labels[2:])


@dataclasses.dataclass(frozen=True)
class Item:
    """One example: `path` is empty for silence; `standard` files decode in-graph."""

    path: str
    label: int
    standard: bool = True


@dataclasses.dataclass
class DataIndex:
    words_list: list
    splits: dict
    background_files: list
    bad_files: list  # (path, reason) pairs skipped under --skip_bad_files
    resampler: str = DEFAULT_RESAMPLER  # for the files of other rates

    def summary(self):
        counts = {name: len(items) for name, items in self.splits.items()}
        text = ", ".join(f"{name} {count}" for name, count in counts.items())
        if self.bad_files:
            text += f"; skipped {len(self.bad_files)} bad files (first: {self.bad_files[0][1]})"
        return text


def _read_list(data_dir, name):
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
        raise KwsError(f"--split lists needs {path}, which does not exist (use --split hash)")
    with open(path) as stream:
        return {os.path.normpath(line.strip()) for line in stream if line.strip()}


def _probe_all(paths, sample_rate, skip_bad_files):
    """Reads every header once, so a broken file stops the run before training starts."""
    def probe(path):
        try:
            return path, probe_wav(path), None
        except KwsError as error:
            return path, None, str(error)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(probe, paths))
    good, bad = {}, []
    for path, info, reason in results:
        if info is None:
            if not skip_bad_files:
                raise KwsError(f"{reason} (use --skip_bad_files to skip such files)")
            bad.append((path, reason))
        else:
            good[path] = info.is_standard(sample_rate)
    return good, bad


def build_index(config, sample_rate=16000):
    """Scans `config.data_dir` and returns the splits exactly as Hello Edge forms them."""
    config.validate()
    data_dir = config.data_dir
    if not os.path.isdir(data_dir):
        raise KwsError(f"--data_dir {data_dir} does not exist (set --data_url to download the "
                       "data set, or point --data_dir at an extracted one)")
    wanted_index = {word: index + 2 for index, word in enumerate(config.wanted_words)}
    paths = sorted(path for path in glob.glob(os.path.join(data_dir, "*", "*.wav"))
                   if os.path.basename(os.path.dirname(path)) != BACKGROUND_NOISE_DIR_NAME)
    if not paths:
        raise KwsError(f"--data_dir {data_dir} holds no <word>/*.wav files")
    standard, bad_files = _probe_all(paths, sample_rate, config.skip_bad_files)

    if config.split == "lists":
        lists = {"validation": _read_list(data_dir, "validation_list.txt"),
                 "testing": _read_list(data_dir, "testing_list.txt")}

    random.seed(RANDOM_SEED)
    splits = {"validation": [], "testing": [], "training": []}
    unknowns = {"validation": [], "testing": [], "training": []}
    found_words = {}
    for path in paths:
        if path not in standard:
            continue
        word = os.path.basename(os.path.dirname(path)).lower()
        found_words[word] = found_words.get(word, 0) + 1
        if config.split == "lists":
            relative = os.path.normpath(os.path.relpath(path, data_dir))
            set_name = next((name for name in ("validation", "testing")
                             if relative in lists[name]), "training")
        else:
            set_name = which_set(path, config.validation_percentage, config.testing_percentage)
        if word in wanted_index:
            splits[set_name].append(Item(path, wanted_index[word], standard[path]))
        else:
            unknowns[set_name].append(Item(path, UNKNOWN_WORD_INDEX, standard[path]))
    for word in config.wanted_words:
        if word not in found_words:
            raise KwsError(f"--wanted_words: no clips of {word!r} in --data_dir {data_dir} "
                           f"(found: {', '.join(sorted(found_words)) or 'none'})")
    if not splits["training"]:
        raise KwsError(f"--data_dir {data_dir}: no wanted-word clips fall in the training split")

    for set_name in ("validation", "testing", "training"):
        set_size = len(splits[set_name])
        silence_size = int(math.ceil(set_size * config.silence_percentage / 100))
        splits[set_name].extend(Item("", SILENCE_INDEX) for _ in range(silence_size))
        random.shuffle(unknowns[set_name])
        unknown_size = int(math.ceil(set_size * config.unknown_percentage / 100))
        splits[set_name].extend(unknowns[set_name][:unknown_size])
    for set_name in ("validation", "testing", "training"):
        random.shuffle(splits[set_name])

    return DataIndex(words_list=prepare_words_list(config.wanted_words),
                     splits={name: splits[name] for name in SPLITS},
                     background_files=_background_files(data_dir),
                     bad_files=bad_files, resampler=config.resampler)


def _background_files(data_dir):
    folder = os.path.join(data_dir, BACKGROUND_NOISE_DIR_NAME)
    if not os.path.isdir(folder):
        return []
    files = sorted(glob.glob(os.path.join(folder, "*.wav")))
    if not files:
        raise KwsError(f"{folder} holds no .wav files (remove the folder to train without noise)")
    return files
