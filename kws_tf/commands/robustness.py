"""python -m kws_tf.robustness: a model's accuracy per noise, signal-to-noise ratio and room.

    python -m kws_tf.robustness --checkpoint train_dir --data_url= --data_dir DATA \
        [--test_noise_dir unseen_noise] [--plot_out robustness.png] [--json_out r.json]

The test split (or --eval_split) is scored clean and mixed with each noise file at each of
--snr_db's ratios, measured against each clip's active speech (as --background_snr_db mixes
in training); silence clips get the noise at the level of the median clip's speech. Each noise
file is a row: the data set's _background_noise_ files (the ones training mixes in) and, held
out, --test_noise_dir's. With --reverb both, every row is scored again with each clip
reverberated by a room of a bank training did not draw from (--rir_seed), or --rir_dir's.
The noise windows and rooms are a pure function of --seed, so two models see the same clips.
"""
import glob
import os
import time

import numpy as np

from kws_tf import cli, data, features
from kws_tf.config import (
    DataConfig,
    FeatureConfig,
    add_data_flags,
    add_feature_flags,
    from_flags,
    parse_snr_conditions,
)
from kws_tf.data import pipeline, rir
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint
from kws_tf.quant import restore

DEFAULT_SNRS = "clean,20,10,5,0,-5,-10"


def build_parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.robustness",
        description="Accuracy of a model (checkpoint, its integer graph, .pb or .tflite) per "
                    "noise file, signal-to-noise ratio and room, as a table, a plot and JSON.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="Checkpoint prefix or train.py --train_dir.")
    source.add_argument("--graph", help="A frozen .pb (wav in) or .tflite model instead.")
    parser.add_argument("--integer", action="store_true",
                        help="With --checkpoint: score its integer graph as quant_test.py "
                             "builds it with its defaults (ds_cnn_bf).")
    parser.add_argument("--labels", default="",
                        help="With --graph: its labels file (default: beside it).")
    parser.add_argument("--input_name", default="wav_data:0", help="A .pb's input tensor.")
    parser.add_argument("--output_name", default="labels_softmax:0",
                        help="A .pb's output tensor.")
    add_data_flags(parser)
    parser.set_defaults(wanted_words=None)
    add_feature_flags(parser, defaults=False)
    group = parser.add_argument_group("conditions")
    group.add_argument("--eval_split", choices=("training", "validation", "testing"),
                       default="testing", help="Which split's clips to score.")
    group.add_argument("--snr_db", default=DEFAULT_SNRS,
                       help="The columns: 'clean' and signal-to-noise ratios in dB.")
    group.add_argument("--test_noise_dir", default="",
                       help="A folder of noise wavs training never saw (held-out rows).")
    group.add_argument("--reverb", choices=("both", "off", "on"), default="both",
                       help="Score without reverberation, with it, or both.")
    group.add_argument("--rir_seed", type=int, default=1000,
                       help="Seed of the simulated rooms (training's bank uses its --seed).")
    group.add_argument("--rir_bank_size", type=int, default=50,
                       help="How many simulated rooms the clips are spread over.")
    group.add_argument("--rir_dir", default="",
                       help="Measured room impulse response wavs to use instead of simulated "
                            "rooms.")
    group.add_argument("--seed", type=int, default=0,
                       help="Seed of the noise windows each clip gets.")
    parser.add_argument("--batch_size", type=int, default=100,
                        help="How many clips to score at once.")
    parser.add_argument("--plot_out", default="",
                        help="Write a PNG plot of accuracy against SNR here.")
    cli.add_json_out(parser)
    return parser


def _snrs(text):
    """The --snr_db columns: None for clean, else a level in dB (no ranges here)."""
    conditions = parse_snr_conditions(text, "--snr_db")
    if not conditions or any(c and c[0] != c[1] for c in conditions):
        raise KwsError(f"--snr_db {text!r}: expected 'clean' and levels in dB, comma-separated")
    return [None if c is None else c[0] for c in conditions]


def _open(args):
    """(labels, feature config, description, predictor): predictor(index) gives the function
    from clips [n, samples] to predicted labels (an integer graph calibrates on the index)."""
    if args.graph:
        from kws_tf.label.model import open_model

        model, labels, _ = open_model(args)
        return labels, model.features, args.graph, lambda index: lambda clips: np.argmax(
            model.probabilities(list(clips)), axis=-1)
    prefix, chosen = checkpoint.find(args.checkpoint)
    info = checkpoint.read_info(prefix)
    config = FeatureConfig(**info["features"]).validate()
    if args.integer:
        return info["labels"], config, f"{chosen} (integer graph)", \
            lambda index: _integer_predictor(prefix, info, index, config, args.batch_size)
    model = restore.build_and_restore(prefix, info)
    return info["labels"], config, chosen, lambda index: lambda clips: np.argmax(
        model.predict(_features(clips, config, args.batch_size), batch_size=args.batch_size,
                      verbose=0), axis=-1)


def _integer_predictor(prefix, info, index, config, batch_size):
    from kws_tf.commands.quant_test import integer_graph_of
    from kws_tf.quant import integer_graph as ig

    graph = integer_graph_of(prefix, info, index, config)
    return lambda clips: ig.predict(graph, _features(clips, config, batch_size))


def _features(clips, config, batch_size):
    return np.concatenate([features.compute(clips[i:i + batch_size], config).numpy()
                           for i in range(0, len(clips), batch_size)])


def _noises(args, index, config):
    """[(name, held out?, samples)] of the data set's noise files and --test_noise_dir's."""
    held_out = []
    if args.test_noise_dir:
        if not os.path.isdir(args.test_noise_dir):
            raise KwsError(f"--test_noise_dir {args.test_noise_dir} does not exist")
        held_out = sorted(glob.glob(os.path.join(args.test_noise_dir, "*.wav")))
        if not held_out:
            raise KwsError(f"--test_noise_dir {args.test_noise_dir} holds no .wav files")
    noises = [(path, False) for path in index.background_files] + \
        [(path, True) for path in held_out]
    if not noises:
        raise KwsError(f"--data_dir {args.data_dir} has no _background_noise_ files; give "
                       "--test_noise_dir")
    out = []
    for path, unseen in noises:
        # Tiled to a clip's length when shorter, as training's noise is.
        samples = pipeline.load_background([path], config, index.resampler)[0]
        if not np.any(samples):
            raise KwsError(f"{path}: the noise file is silent")
        out.append((os.path.splitext(os.path.basename(path))[0], unseen, samples))
    return out


def _windows(noise, count, length, seed, which):
    """`count` windows of `length` samples (at most len(noise)) at offsets drawn from
    (seed, which)."""
    starts = np.random.default_rng([seed, which]).integers(0, len(noise) - length + 1, count)
    return np.stack([noise[start:start + length] for start in starts]).astype(np.float32)


def _rooms(args, config, count, resampler):
    if args.rir_dir:
        rooms = rir.load_dir(args.rir_dir, config.sample_rate, resampler)
    else:
        rooms = rir.bank(args.rir_seed, args.rir_bank_size, config.sample_rate)
    return rooms[np.arange(count) % len(rooms)]


def _score(args, predict, clips, labels, noises, snrs):
    """{(noise name, SNR or None): accuracy} for one set of (dry or reverberant) clips."""
    import tensorflow as tf

    from kws_tf.data.augment import active_rms, mix_at_snr

    clean = float(np.mean(predict(clips) == labels))
    dry = tf.constant(clips)
    speech = active_rms(dry)  # measured once for every noise and SNR
    level = _speech_level(speech.numpy())
    scores = {}
    for which, (name, _, noise) in enumerate(noises):
        windows = _windows(noise, len(clips), clips.shape[1], args.seed, which)
        for snr in snrs:
            if snr is None:
                scores[name, None] = clean
                continue
            mixed = mix_at_snr(dry, tf.constant(windows), tf.fill([len(clips)], float(snr)),
                               level, speech).numpy()
            scores[name, snr] = float(np.mean(predict(mixed) == labels))
    return scores


def _speech_level(levels):
    """The median of the clips' active-speech RMS `levels` over those with speech (silence's
    noise level)."""
    levels = levels[levels > 0]
    return float(np.median(levels)) if len(levels) else 0.1


def run(args):
    """Scores every condition; returns the figures written to --json_out."""
    started = time.time()
    snrs = _snrs(args.snr_db)
    if args.batch_size <= 0 or args.rir_bank_size <= 0:
        raise KwsError("--batch_size and --rir_bank_size must be positive")
    if args.integer and not args.checkpoint:
        raise KwsError("--integer scores a checkpoint's integer graph: give --checkpoint")
    labels, config, described, predictor = _open(args)
    from kws_tf.data import speech_commands as sc

    words = tuple(sc.wanted_words_of(labels, described).split(","))
    index, splits = data.load(from_flags(DataConfig, args, wanted_words=words), config,
                              (args.eval_split,))
    split = splits[args.eval_split]
    predict = predictor(index)
    if not len(split):
        raise KwsError(f"--eval_split {args.eval_split} of --data_dir {args.data_dir} is empty")
    clips = split.audio.astype(np.float32) / 32768.0
    noises = _noises(args, index, config)
    rows = []
    for reverb in {"both": (False, True), "off": (False,), "on": (True,)}[args.reverb]:
        wet = _reverberated(clips, _rooms(args, config, len(clips), index.resampler)) \
            if reverb else clips
        scores = _score(args, predict, wet, split.labels, noises, snrs)
        rows += [{"noise": name, "held_out": unseen, "reverb": reverb,
                  "accuracy": [scores[name, snr] for snr in snrs]}
                 for name, unseen, _ in noises]
    rows += _means(rows)
    print(f"{described}: {len(clips)} {args.eval_split} clips, accuracy (%) per noise and SNR")
    print(_table(rows, snrs))
    figures = {"model": described, "split": args.eval_split, "count": len(clips),
               "snr_db": ["clean" if s is None else s for s in snrs], "rows": rows,
               "seconds": time.time() - started}
    if args.plot_out:
        figures["plot"] = _plot(args.plot_out, rows, snrs, described)
    return figures


def _reverberated(clips, rooms):
    from kws_tf.data.augment import reverberate

    return reverberate(clips, rooms).numpy()


def _means(rows):
    """The mean row of the training noises and of the held-out ones, per reverb setting."""
    means = []
    for reverb in sorted({row["reverb"] for row in rows}):
        for unseen in (False, True):
            group = [row["accuracy"] for row in rows
                     if row["reverb"] == reverb and row["held_out"] == unseen]
            if group:
                means.append({"noise": "mean, held-out noise" if unseen else
                              "mean, training noise", "held_out": unseen, "reverb": reverb,
                              "mean": True, "accuracy": np.mean(group, axis=0).tolist()})
    return means


def _table(rows, snrs):
    heads = ["clean" if snr is None else f"{snr:g} dB" for snr in snrs]
    names = [f"{row['noise']}{' (held out)' if row['held_out'] and not row.get('mean') else ''}"
             f"{', reverb' if row['reverb'] else ''}" for row in rows]
    width = max(len(name) for name in names)
    lines = [" " * width + "".join(f"{head:>9}" for head in heads)]
    lines += [f"{name:<{width}}" + "".join(f"{value * 100:9.2f}" for value in row["accuracy"])
              for name, row in zip(names, rows)]
    return "\n".join(lines)


def _plot(path, rows, snrs, title):
    """Accuracy against SNR, one line per mean row: clean at the left, then --snr_db's order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [snr for snr in snrs if snr is not None]
    xs = [0 if snr is None else 1 + levels.index(snr) for snr in snrs]
    order = np.argsort(xs, kind="stable")
    figure, axes = plt.subplots(figsize=(6, 4))
    for row in (row for row in rows if row.get("mean")):
        axes.plot([xs[i] for i in order], [row["accuracy"][i] * 100 for i in order],
                  marker="o", linestyle="--" if row["reverb"] else "-",
                  label=row["noise"] + (", reverb" if row["reverb"] else ""))
    axes.set_xticks(range(len(levels) + 1), ["clean"] + [f"{snr:g}" for snr in levels])
    axes.set_xlabel("SNR (dB)")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(os.path.basename(title), fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    cli.atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=100))
    plt.close(figure)
    return path


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, run(args))
    return 0
