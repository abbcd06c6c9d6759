"""``python -m kws_tf.data.synthetic``: writes the espeak-ng data set (kws_tf.data.synthetic)."""
import sys

from kws_tf import cli
from kws_tf.data.synthetic import DEFAULT_WORDS, generate


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.data.synthetic",
        description="Writes a synthetic Speech-Commands-layout data set spoken by espeak-ng.")
    parser.add_argument("--output_dir", required=True,
                        help="Folder to write <word>/*.wav and _background_noise_/*.wav into.")
    parser.add_argument("--clips_per_word", type=int, default=300, help="Clips of each word.")
    parser.add_argument("--seed", type=int, default=0,
                        help="The same seed writes byte-identical files.")
    parser.add_argument("--words", default=",".join(DEFAULT_WORDS),
                        help="Comma-separated words (default: the 10 Hello Edge keywords and the "
                             "20 other Speech Commands v0.01 words).")
    parser.add_argument("--noise_files", type=int, default=6,
                        help="Long background noise files to write.")
    cli.add_json_out(parser)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        words = [w.strip() for w in args.words.split(",")]
        summary = generate(args.output_dir, words, args.clips_per_word,
                           args.seed, args.noise_files, progress=True)
        cli.write_json(args.json_out, summary)
    print("wrote %d clips (%d words, %d speakers) and %d noise files to %s "
          "in %.1f s (%.0f clips/s)"
          % (summary["total_clips"], len(summary["words"]),
             summary["num_speakers"], len(summary["noise_files"]),
             summary["output_dir"], summary["seconds"],
             summary["clips_per_second"] or 0), file=sys.stderr)
    return 0

