"""train.py: Hello Edge's training flags, resolved once into the settings the loop runs.

Same flags, defaults and meaning as Hello Edge's train.py, plus resuming, QAT, integer
training and tf.distribute (see kws_tf.train.loop for what a run does).
"""
from kws_tf import cli, models
from kws_tf.config import (
    AugmentConfig,
    DataConfig,
    FeatureConfig,
    add_data_flags,
    add_feature_flags,
    add_flags,
    add_multi_condition_flags,
    add_spec_augment_flags,
    from_flags,
)
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint
from kws_tf.quant import integer_sim, qat
from kws_tf.train import loop
from kws_tf.train.curriculum import CurriculumConfig
from kws_tf.train.data_parameters import DataParametersConfig
from kws_tf.train.distillation import DistillationConfig


def _bool(text):
    """Hello Edge's --check_nans was type=bool, so any value turned it on; here words count."""
    value = str(text).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def build_parser():
    parser = cli.ArgumentParser(
        prog="train.py",
        description="Train a keyword spotting model with Hello Edge's flags (see README).")
    add_data_flags(parser)
    add_multi_condition_flags(parser)
    add_spec_augment_flags(parser)
    group = parser.add_argument_group("curriculum and data parameters (docs/robustness.md)")
    add_flags(group, CurriculumConfig)
    add_flags(group, DataParametersConfig)
    add_flags(parser.add_argument_group("knowledge distillation (docs/training.md)"),
              DistillationConfig)
    add_feature_flags(parser)
    models.add_model_flags(parser)
    group = parser.add_argument_group("training (as Hello Edge)")
    group.add_argument("--how_many_training_steps", default="15000,3000",
                       help="How many training loops to run, per learning-rate phase "
                            "(comma-separated).")
    group.add_argument("--learning_rate", default="0.001,0.0001",
                       help="How large a learning rate to use in each phase (comma-separated, "
                            "as many as --how_many_training_steps).")
    group.add_argument("--eval_step_interval", type=int, default=400,
                       help="How often to evaluate the training results.")
    group.add_argument("--save_step_interval", type=int, default=100,
                       help="Save the latest checkpoint (for resuming) every this many steps.")
    group.add_argument("--batch_size", type=int, default=100,
                       help="How many items to train with at once.")
    group.add_argument("--summaries_dir", default="/tmp/retrain_logs",
                       help="Where to save summary logs for TensorBoard.")
    group.add_argument("--train_dir", default="/tmp/speech_commands_train",
                       help="Directory to write checkpoints, labels and flags to; a rerun of "
                            "the same command resumes from its latest checkpoint.")
    group.add_argument("--start_checkpoint", default="",
                       help="If specified, start from this checkpoint's weights (a prefix, or a "
                            "train_dir: its best checkpoint); the schedule starts at step 0 "
                            "(rerun with the same --train_dir to resume).")
    group.add_argument("--check_nans", type=_bool, nargs="?", const=True, default=False,
                       help="Stop with the step when the loss or a gradient is NaN or Inf.")
    group.add_argument("--seed", type=int, default=0,
                       help="Seed of the weights' initialisation, the batch order and the "
                            "augmentation.")
    group.add_argument("--quantize", nargs="?", const="tfmot",
                       choices=("none", "tfmot", "integer"), default="none",
                       help="'tfmot' (or --quantize alone): quantization-aware training with "
                            "tensorflow-model-optimization (bit widths: --qat_bits); 'integer': "
                            "ds_cnn_bf trained through the integer graph's arithmetic (see "
                            "README). Fine-tune a float model by giving its checkpoint as "
                            "--start_checkpoint.")
    group.add_argument("--qat_bits", default=None,
                       help="W,A: weight and activation bits of QAT (default 8,8; implies "
                            "--quantize).")
    group.add_argument("--distribution_strategy", choices=loop.STRATEGIES, default="none",
                       help="tf.distribute strategy: 'mirrored' for the GPUs of one machine, "
                            "'multi_worker' for several machines (reads TF_CONFIG).")
    integer_sim.add_flags(parser, "integer training (--quantize integer)")
    cli.add_json_out(parser)
    return parser


def parse_schedule(args):
    """(steps per phase, learning rate per phase) of --how_many_training_steps and
    --learning_rate."""
    try:
        steps = tuple(int(s) for s in args.how_many_training_steps.split(","))
    except ValueError:
        raise KwsError(f"--how_many_training_steps {args.how_many_training_steps!r}: expected "
                       "comma-separated whole numbers") from None
    try:
        rates = tuple(float(r) for r in args.learning_rate.split(","))
    except ValueError:
        raise KwsError(f"--learning_rate {args.learning_rate!r}: expected comma-separated "
                       "numbers") from None
    if len(steps) != len(rates):
        raise KwsError(f"--how_many_training_steps and --learning_rate must have the same "
                       f"number of values, got {len(steps)} and {len(rates)}")
    if any(s <= 0 for s in steps) or any(r <= 0 for r in rates):
        raise KwsError("--how_many_training_steps and --learning_rate must be positive")
    return steps, rates


def _check_intervals(args):
    for name in ("eval_step_interval", "save_step_interval", "batch_size"):
        if getattr(args, name) <= 0:
            raise KwsError(f"--{name} must be positive, got {getattr(args, name)}")


def _quantize_info(args, feature_config):
    """The sidecar's "quantize" entry for the flags, or None for float training. --qat_bits
    alone means tfmot; features already rounded (--feature_bits) give the integer input
    scale unless it is given."""
    mode = "tfmot" if args.qat_bits is not None and args.quantize == "none" else args.quantize
    if mode == "none":
        return None
    if mode == "integer":
        if args.qat_bits is not None:
            raise KwsError("--qat_bits is for --quantize tfmot; --quantize integer takes "
                           "--input_bits, --weight_bits and --activation_bits")
        frac_bits = args.input_frac_bits
        if frac_bits is None and feature_config.feature_bits:
            frac_bits = feature_config.feature_frac_bits
        return integer_sim.sidecar(args.input_bits, args.weight_bits, args.activation_bits,
                                   frac_bits, args.shifts)
    return qat.sidecar(*qat.parse_bits(args.qat_bits or "8,8"))


def resolve(args):
    """The run's TrainSettings from the parsed flags (which stay as parsed)."""
    features = from_flags(FeatureConfig, args)
    augment = from_flags(AugmentConfig, args)
    curriculum = from_flags(CurriculumConfig, args)
    curriculum.check_augment(augment)
    data = from_flags(DataConfig, args)
    steps, rates = parse_schedule(args)
    _check_intervals(args)
    size_info = models.size_info_for(args.model_architecture, args.model_size_info)
    quantize = _quantize_info(args, features)
    start = (checkpoint.find(args.start_checkpoint, "--start_checkpoint")[0]
             if args.start_checkpoint else "")
    # What training_flags.json records: the flags, with what resolving them decided.
    flags = {**vars(args), "model_size_info": size_info, "start_checkpoint": start,
             "quantize": "tfmot" if quantize and quantize["mode"] == qat.MODE
             else args.quantize}
    return loop.TrainSettings(
        data=data, features=features, augment=augment,
        model_architecture=args.model_architecture, model_size_info=tuple(size_info),
        net_config=args.net_config, wanted_words=args.wanted_words, quantize=quantize,
        steps=steps, learning_rates=rates, eval_step_interval=args.eval_step_interval,
        save_step_interval=args.save_step_interval, batch_size=args.batch_size,
        seed=args.seed, train_dir=args.train_dir, summaries_dir=args.summaries_dir,
        start_checkpoint=start, check_nans=args.check_nans,
        distribution_strategy=args.distribution_strategy,
        calibration_samples=args.calibration_samples, flags=flags, curriculum=curriculum,
        data_parameters=from_flags(DataParametersConfig, args),
        distillation=from_flags(DistillationConfig, args))


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        settings = resolve(args)
        cli.write_json(args.json_out, loop.train(settings))
    return 0

