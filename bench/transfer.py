"""Transfer from synthetic to real speech: train on synthetic speech only, score real voices.

Each experiment writes a synthetic set (``python -m kws_tf.data.synthetic``), trains the
demo's DS_CNN_S recipe on it (``train.py``: DEMO_FEATURES, 600,300 steps at 0.002,0.0005,
--unknown_percentage 30; with --teacher_seeds, first teachers of that recipe, whose averaged
probabilities every model then learns from as well) and labels every clip of --real_dir (a
Speech Commands layout of real recordings, e.g. real_dev) with the best checkpoint; the
defaults are ``make demo``'s set (800 clips of each keyword, 48 of each other word) and
recipe. Keyword accuracy is the share of the
keyword clips given their own label; unknown accuracy the share of the other words' clips
labelled _unknown_; both come with counts, since a small real set moves a point per clip.
Their mean (balanced) does not move when a model merely trades one for the other.

Experiments (``--runs``, comma-separated):
  full          the 12-class demo task (Hello Edge's ten keywords) with --synthetic_flags
  no_<knob>     the same with one realism knob of the generator off (the ablation), e.g.
                no_reverb; knobs: see ``kws_tf.data.synthetic.KNOBS``
  baseline      every knob off
  custom        --custom_words (default marvin,sheila,happy,house) as if no data set had
                them: synthesised with common English words as the negatives, scored
                against every other word of --real_dir

    python bench/transfer.py --real_dir real_dev --checkpoint TRAIN_DIR  (score only)
    python bench/transfer.py --real_dir real_dev [--runs full,no_reverb,custom]
        [--clips_per_word 800] [--synthetic_flags "..."] [--train_flags "..."]
        [--teacher_seeds 1,2,3] [--work_dir DIR] [--json_out F]
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kws_tf import cli  # noqa: E402
from kws_tf.data.synthetic import COMMON_WORDS, HELLO_EDGE_WORDS, KNOBS  # noqa: E402
from kws_tf.errors import KwsError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = ["--window_size_ms", "40", "--window_stride_ms", "20", "--dct_coefficient_count", "10"]
DS_CNN_S = ["--model_architecture", "ds_cnn", "--model_size_info"] + (
    "5 64 10 4 2 2 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1".split())


def _parser():
    parser = cli.ArgumentParser(prog="bench/transfer.py", description=__doc__.split("\n")[0])
    parser.add_argument("--real_dir", required=True,
                        help="Real recordings in the Speech Commands layout (<word>/*.wav).")
    parser.add_argument("--runs", default="full,custom",
                        help="Comma-separated experiments: full, baseline, no_<knob>, custom.")
    parser.add_argument("--clips_per_word", type=int, default=800,
                        help="Clips of each keyword (make demo's).")
    parser.add_argument("--unknown_clips_per_word", type=int, default=48,
                        help="Clips of each other word (make demo's).")
    parser.add_argument("--seed", type=int, default=0, help="The synthetic set's seed.")
    parser.add_argument("--train_seeds", default="0",
                        help="Comma-separated train.py --seed values: each experiment trains "
                             "once per seed on the same set (runs of one recipe differ by "
                             "several clips, so compare means over seeds).")
    parser.add_argument("--teacher_seeds", default="",
                        help="Comma-separated train.py --seed values of teachers: each "
                             "experiment first trains them, then every --train_seeds model "
                             "learns from their averaged probabilities as well "
                             "(--teacher_checkpoints), e.g. 1,2,3 as make demo "
                             "DEMO_TEACHERS=\"1 2 3\"; default none: models trained alone, "
                             "as make demo's.")
    parser.add_argument("--synthetic_flags", default="",
                        help="More flags for python -m kws_tf.data.synthetic (every run).")
    parser.add_argument("--train_flags", default="",
                        help="More flags for train.py (every run), e.g. \"--time_masks_number 2\".")
    parser.add_argument("--custom_words", default="marvin,sheila,happy,house",
                        help="The custom run's keywords (words of --real_dir).")
    parser.add_argument("--how_many_training_steps", default="600,300")
    parser.add_argument("--learning_rate", default="0.002,0.0005")
    parser.add_argument("--unknown_percentage", default="30",
                        help="train.py's --unknown_percentage (the demo's).")
    parser.add_argument("--checkpoint", default="",
                        help="Only score this checkpoint (or train_dir) on --real_dir.")
    parser.add_argument("--work_dir", default="",
                        help="Where sets and checkpoints go (default: a temporary folder).")
    cli.add_json_out(parser)
    return parser


def _run(argv, log):
    """Runs a command of this repository, its output to `log`; seconds taken."""
    begin = time.monotonic()
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
    with open(log, "w") as stream:
        rc = subprocess.call([sys.executable] + argv, cwd=ROOT, env=env, stdout=stream,
                             stderr=subprocess.STDOUT)
    if rc:
        raise KwsError(f"{' '.join(argv[:2])} failed (status {rc}); see {log}")
    return time.monotonic() - begin


def _synthetic_flags(args, name):
    """The generator flags of experiment `name`."""
    flags = shlex.split(args.synthetic_flags)
    if name == "baseline":
        knobs = list(KNOBS)
    elif name.startswith("no_"):
        knobs = [name[3:]]
    else:
        knobs = []
    for knob in knobs:
        flags += ["--" + knob, str(KNOBS[knob][1])]
    if name == "custom":  # negatives as a user has them: common words, none of --real_dir's
        flags += ["--words", args.custom_words, "--unknown_words", ",".join(COMMON_WORDS)]
    return flags


def _experiment(args, name, work, train_seeds, teacher_seeds):
    """Generates one experiment's set, trains the teachers of `teacher_seeds` on it, then a
    model once per seed of `train_seeds` that learns from them too, and scores each."""
    keywords = (args.custom_words if name == "custom" else ",".join(HELLO_EDGE_WORDS)).split(",")
    data = os.path.join(work, name, "data")
    gen_json = os.path.join(work, name, "synthetic.json")
    os.makedirs(os.path.join(work, name), exist_ok=True)
    _run(["-m", "kws_tf.data.synthetic", "--output_dir", data, "--clips_per_word",
          str(args.clips_per_word), "--unknown_clips_per_word", str(args.unknown_clips_per_word),
          "--seed", str(args.seed), "--json_out", gen_json]
         + _synthetic_flags(args, name), os.path.join(work, name, "synthetic.log"))
    with open(gen_json) as stream:
        generated = json.load(stream)
    teacher_dirs = {seed: os.path.join(work, name, f"teacher{seed}") for seed in teacher_seeds}
    teachers = {seed: _train_and_score(args, name, data, keywords, seed, where, generated,
                                       role="teacher seed")
                for seed, where in teacher_dirs.items()}
    teaching = ["--teacher_checkpoints", ",".join(
        os.path.join(where, "train") for where in teacher_dirs.values())] if teachers else []
    seeds = {seed: _train_and_score(args, name, data, keywords, seed,
                                    os.path.join(work, name, f"seed{seed}"), generated, teaching)
             for seed in train_seeds}
    pooled = _pooled(list(seeds.values()))
    if len(seeds) > 1:
        print(f"{name} over train seeds {','.join(map(str, seeds))}: "
              f"{_summary(pooled, keywords, 'mean balanced')}", flush=True)
    return {"synthetic_flags": _synthetic_flags(args, name),
            "train_flags": shlex.split(args.train_flags),
            "synthetic_clips": generated["total_clips"],
            "synthetic_seconds": generated["seconds"],
            "pooled": pooled, "train_seeds": seeds, "teachers": teachers}


def _train_and_score(args, name, data, keywords, seed, where, generated, extra=(),
                     role="train seed"):
    """Trains the demo's recipe with `seed` into `where` and scores it on --real_dir."""
    train_seconds = _run(
        ["train.py", "--data_url=", "--data_dir", data, "--wanted_words", ",".join(keywords)]
        + FEATURES + DS_CNN_S
        + ["--how_many_training_steps", args.how_many_training_steps,
           "--learning_rate", args.learning_rate, "--eval_step_interval", "150",
           "--unknown_percentage", args.unknown_percentage, "--seed", str(seed),
           "--save_step_interval", "150", "--train_dir", os.path.join(where, "train"),
           "--summaries_dir", os.path.join(where, "logs")] + shlex.split(args.train_flags)
        + list(extra), where + ".log")
    scores = score(os.path.join(where, "train"), args.real_dir)
    print(f"{name} ({role} {seed}{', with teachers' if extra else ''}): "
          f"{_summary(scores, keywords)} (synthetic set {generated['total_clips']} clips in "
          f"{generated['seconds']:.1f} s, training {train_seconds:.0f} s)", flush=True)
    return {"train_seconds": round(train_seconds, 1), **scores}


def _pooled(runs):
    """`score`'s figures summed over runs on one real set: every count adds up, and the
    balanced accuracy of the sums is the runs' mean (each run has the same counts)."""
    counts = {part: [sum(r[part][key] for r in runs) for key in ("correct", "count")]
              for part in ("keywords", "unknown")}
    per_word = {w: [sum(r["per_word"][w][i] for r in runs) for i in (0, 1)]
                for w in runs[0]["per_word"]}
    return _figures(counts, per_word)


def _figures(counts, per_word):
    """Accuracies from {"keywords" | "unknown": [correct, count]} and each word's counts."""
    result = {k: {"correct": c, "count": n, "accuracy": c / n if n else 0.0}
              for k, (c, n) in counts.items()}
    total_c = sum(c for c, _ in counts.values())
    total_n = sum(n for _, n in counts.values())
    result["all"] = {"correct": total_c, "count": total_n, "accuracy": total_c / total_n}
    # The mean of the two: a model can trade one for the other (--unknown_percentage).
    result["balanced"] = (result["keywords"]["accuracy"] + result["unknown"]["accuracy"]) / 2
    result["per_word"] = per_word
    return result


def _seeds(text, flag="--train_seeds", allow_none=False):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise KwsError(f"{flag}: not a list of whole numbers: {text!r}") from None
    if (not seeds and not allow_none) or len(set(seeds)) != len(seeds):
        raise KwsError(f"{flag}: give distinct seeds, got {text!r}")
    return seeds


def _summary(scores, keywords, balanced="balanced"):
    """One line of `score`'s (or `_pooled`'s) figures, each of `keywords` with its count."""
    per_keyword = " ".join(f"{w} {scores['per_word'][w][0]}/{scores['per_word'][w][1]}"
                           for w in keywords if w in scores["per_word"])
    return (f"keywords {_fmt(scores['keywords'])}, unknown {_fmt(scores['unknown'])}, "
            f"{balanced} {100 * scores['balanced']:.1f} %, per keyword {per_keyword}")


def _fmt(part):
    return f"{part['correct']}/{part['count']} ({100 * part['accuracy']:.1f} %)"


def score(checkpoint_path, real_dir):
    """Labels every clip of `real_dir` with the checkpoint: keyword and unknown accuracy."""
    import numpy as np

    from kws_tf.config import FeatureConfig
    from kws_tf.data.pipeline import clip_features
    from kws_tf.data.speech_commands import UNKNOWN_WORD_INDEX
    from kws_tf.models import checkpoint
    from kws_tf.quant import restore

    prefix, _ = checkpoint.find(checkpoint_path)
    info = checkpoint.read_info(prefix)
    model = restore.build_and_restore(prefix, info)
    config = FeatureConfig(**info["features"]).validate()
    labels = info["labels"]
    words = sorted(w for w in os.listdir(real_dir)
                   if os.path.isdir(os.path.join(real_dir, w)) and not w.startswith("_"))
    if not words:
        raise KwsError(f"--real_dir {real_dir}: no <word>/ folders")
    parts = {"keywords": [0, 0], "unknown": [0, 0]}
    per_word = {}
    for word in words:
        folder = os.path.join(real_dir, word)
        paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".wav"))
        if not paths:
            continue
        feats = np.stack([clip_features(p, config) for p in paths])
        predicted = np.argmax(model(feats, training=False).numpy(), axis=-1)
        target = labels.index(word) if word in labels else UNKNOWN_WORD_INDEX
        correct = int(np.sum(predicted == target))
        part = parts["keywords" if word in labels else "unknown"]
        part[0] += correct
        part[1] += len(paths)
        per_word[word] = [correct, len(paths)]
    return {**_figures(parts, per_word), "labels": labels}


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        if not os.path.isdir(args.real_dir):
            raise KwsError(f"--real_dir {args.real_dir}: not a folder")
        if args.checkpoint:
            scores = score(args.checkpoint, args.real_dir)
            print(_summary(scores, scores["labels"]))
            cli.write_json(args.json_out, scores)
            return 0
        names = [n.strip() for n in args.runs.split(",") if n.strip()]
        train_seeds = _seeds(args.train_seeds)
        teacher_seeds = _seeds(args.teacher_seeds, "--teacher_seeds", allow_none=True)
        twins = sorted(set(train_seeds) & set(teacher_seeds))
        if twins:
            raise KwsError(f"--train_seeds {','.join(map(str, twins))}: also in --teacher_seeds "
                           "(a model would learn from its own twin); give other seeds")
        if not names:
            raise KwsError("--runs: no experiments given")
        for name in names:
            if name not in ("full", "baseline", "custom") and not (
                    name.startswith("no_") and name[3:] in KNOBS):
                raise KwsError(f"--runs: unknown experiment {name!r}")
        with tempfile.TemporaryDirectory() as scratch:
            work = args.work_dir or scratch
            results = {name: _experiment(args, name, work, train_seeds, teacher_seeds)
                       for name in names}
        cli.write_json(args.json_out, {"real_dir": os.path.abspath(args.real_dir),
                                       "clips_per_word": args.clips_per_word,
                                       "unknown_clips_per_word": args.unknown_clips_per_word,
                                       "runs": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
