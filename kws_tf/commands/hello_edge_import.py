"""``python -m kws_tf.hello_edge_import``: a published Hello Edge graph into a checkpoint."""
from kws_tf import cli
from kws_tf.config import FEATURE_FLAGS, add_feature_flags, setting_text
from kws_tf.hello_edge_import import (DEFAULT_SAMPLE_RATE, HELLO_EDGE_WANTED_WORDS,
                                      import_graph)
from kws_tf.models import checkpoint


def _flag_line(info):
    f = info["features"]
    return " ".join(f"--{flag} {setting_text(f[flag])}" for flag in FEATURE_FLAGS)


def _parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.hello_edge_import",
        description="Import a published Hello Edge frozen graph (.pb) into a kws_tf model: infer "
                    "its architecture, --model_size_info, feature flags and labels, copy every "
                    "weight, and write a TF2 checkpoint plus a JSON sidecar that rebuilds it.")
    parser.add_argument("--graph", required=True, help="The Hello Edge frozen graph (.pb).")
    parser.add_argument("--output_checkpoint", required=True,
                        help="Checkpoint prefix C to write: C.index, C.data-* and the sidecar "
                             "C.json.")
    parser.add_argument("--model_architecture", default=None,
                        help="Default: inferred from the graph; given, it must agree.")
    parser.add_argument("--model_size_info", type=int, nargs="+", default=None,
                        help="Default: inferred from the graph; given, it must agree.")
    parser.add_argument("--wanted_words", default=None,
                        help="Comma-separated words of outputs 3.. (after _silence_, _unknown_). "
                             f"Default for a 12-output graph: {HELLO_EDGE_WANTED_WORDS}.")
    group = add_feature_flags(parser)
    group.description = (f"Default: read from the graph (at --sample_rate {DEFAULT_SAMPLE_RATE}); "
                         "given, they must agree with it.")
    parser.set_defaults(**{flag: None for flag in FEATURE_FLAGS})
    cli.add_json_out(parser)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    with cli.user_errors():
        model, info = import_graph(
            args.graph, model_architecture=args.model_architecture,
            model_size_info=args.model_size_info, wanted_words=args.wanted_words,
            **{flag: getattr(args, flag) for flag in FEATURE_FLAGS})
        frames, dct = info["input_shape"]
        params = info["parameters"]
        print(f"{args.graph}: Hello Edge {info['model_architecture']}\n"
              f"  --model_architecture {info['model_architecture']} --model_size_info "
              f"{' '.join(map(str, info['model_size_info']))}\n"
              f"  {_flag_line(info)} (input {frames} frames x {dct} MFCC)\n"
              f"  {len(info['labels'])} labels: {' '.join(info['labels'])}\n"
              f"  parameters: {params['trainable']:,} trainable + {params['non_trainable']:,} "
              f"batch-norm moving statistics")
        sidecar = checkpoint.save(model, args.output_checkpoint, info)
        print(f"wrote checkpoint {args.output_checkpoint} and {sidecar}")
        cli.write_json(args.json_out, {**info, "checkpoint": args.output_checkpoint,
                                       "sidecar": sidecar})
    return 0
