"""search.py: nas-for-kws's differentiable architecture search, on kws-tf's data and features.

The flags of nas-for-kws's ``arch_search.py`` keep their names, defaults and meaning (see
README, "Architecture search"); the data and feature flags are train.py's, with ``--n_mfcc``
as nas-for-kws's name for ``--dct_coefficient_count`` and the reference's 40 ms / 20 ms
windows and 10 coefficients as defaults. The run: ``--warmup_epochs`` of weight steps on
paths drawn from the (near-uniform) architecture distribution, then ``--n_epochs`` where every
``--grad_update_arch_param_every``-th weight step (from the second search epoch on) is
followed by ``--grad_update_steps`` architecture steps on validation batches. Then the most
probable op of every edge gives the network, written to ``<path>/learned_net/``:
``net.config`` (the reference's JSON; ``model_size_info`` for --search_space ds_cnn_bf),
``run.config`` and ``init`` (a checkpoint of the network with the supernet's weights, plus
its sidecar ``init.json``, for train.py --start_checkpoint). ``<path>/logs/`` gets
``search.jsonl`` (one line per epoch: probabilities, expected FLOPs, the arg-max network) and
TensorBoard scalars.
"""
import json
import math
import os
import time

import numpy as np
import tensorflow as tf

from kws_tf import cli, data
from kws_tf import progress as kws_progress
from kws_tf.config import (
    AugmentConfig,
    DataConfig,
    FeatureConfig,
    ModelSpec,
    add_data_flags,
    add_feature_flags,
    from_flags,
)
from kws_tf.data import speech_commands
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint
from kws_tf.nas import ds_cnn_bf_space as dsb
from kws_tf.nas import gates, regularizer, space, supernet
from kws_tf.nas.searcher import Searcher, SearchSettings, arch_rate, cosine_rate

WARMUP_LR = 0.05  # hard-coded in the reference, whatever --init_lr says
DEFAULT_N_MFCC = 10
SEARCH_SPACES = ("proxyless", "ds_cnn_bf")
NO_AUGMENTATION = AugmentConfig(time_shift_ms=0, background_frequency=0,
                                         background_volume=0)


def build_parser():
    parser = cli.ArgumentParser(
        prog="search.py",
        description="Differentiable architecture search (nas-for-kws / ProxylessNAS binary "
                    "gates, FLOPs-regularised) with arch_search.py's flags (see README).")
    add_data_flags(parser)
    group = add_feature_flags(parser)
    group.add_argument("--n_mfcc", type=int, default=None,
                       help=f"nas-for-kws's name for --dct_coefficient_count (default "
                            f"{DEFAULT_N_MFCC}).")
    # nas-for-kws downloads its data in a separate step, and its search reads the folder as it
    # is: so does this one unless --data_url is given.
    parser.set_defaults(data_url="", window_size_ms=40.0, window_stride_ms=20.0,
                        dct_coefficient_count=None)
    _add_run_flags(parser.add_argument_group("run (as nas-for-kws arch_search.py)"))
    _add_supernet_flags(parser.add_argument_group("supernet (as nas-for-kws arch_search.py)"))
    _add_ds_cnn_bf_flags(parser.add_argument_group("--search_space ds_cnn_bf"))
    _add_architecture_flags(
        parser.add_argument_group("architecture steps (as nas-for-kws arch_search.py)"))
    cli.add_json_out(parser)
    return parser


def _add_run_flags(run):
    run.add_argument("--path", required=True,
                     help="Output folder: learned_net/ (net.config, run.config, init) and logs/.")
    run.add_argument("--dataset", choices=("speech_commands",), default="speech_commands",
                     help="The data set (the data flags say where it is).")
    run.add_argument("--manual_seed", type=int, default=0,
                     help="Seed of the weights, the architecture draws and the batches.")
    run.add_argument("--n_epochs", type=int, default=120, help="Search epochs after warm-up.")
    run.add_argument("--warmup_epochs", type=int, default=40,
                     help="Weight-only epochs before the search (learning rate 0.05, cosine).")
    run.add_argument("--init_lr", type=float, default=0.2,
                     help="Peak weight learning rate of the search (cosine schedule).")
    run.add_argument("--lr_schedule_type", choices=("cosine",), default="cosine")
    run.add_argument("--train_batch_size", type=int, default=100)
    run.add_argument("--test_batch_size", type=int, default=100,
                     help="Batch size of the per-epoch validation.")
    run.add_argument("--momentum", type=float, default=0.9, help="SGD momentum.")
    run.add_argument("--no_nesterov", action="store_true", help="Plain instead of Nesterov "
                                                                "momentum.")
    run.add_argument("--weight_decay", type=float, default=4e-5,
                     help="L2 added to the weight gradients of the sampled path.")
    run.add_argument("--label_smoothing", type=float, default=0.1,
                     help="Label smoothing of the weight steps (architecture steps: none).")
    run.add_argument("--no_decay_keys", choices=("None", "bn", "bn#bias"), default="None",
                     help="Parameters without weight decay ('bn': batch-norm gamma and beta).")
    run.add_argument("--validation_frequency", type=int, default=1,
                     help="Validate the arg-max network every this many epochs.")
    run.add_argument("--print_frequency", type=int, default=10,
                     help="Batches between progress updates.")
    run.add_argument("--n_worker", type=int, default=4, help="Threads of the input pipeline.")


def _add_supernet_flags(net):
    net.add_argument("--search_space", choices=SEARCH_SPACES, default="proxyless",
                     help="'proxyless': nas-for-kws's MBConv supernet (net.config, model "
                          "'nas'); 'ds_cnn_bf': bias-free depthwise-separable blocks for the "
                          "integer flow (model 'ds_cnn_bf'; the --ds_* flags).")
    net.add_argument("--width_stages", default="72",
                     help="Comma list of stage widths (before --width_mult).")
    net.add_argument("--n_cell_stages", default="12", help="Comma list of blocks per stage.")
    net.add_argument("--stride_stages", default="2",
                     help="Comma list of each stage's first-block stride.")
    net.add_argument("--width_mult", type=float, default=1.0,
                     help="Width multiplier of stem, stages and feature mix.")
    net.add_argument("--bn_momentum", type=float, default=0.1,
                     help="Batch-norm momentum, PyTorch's convention (Keras: 1 - this).")
    net.add_argument("--bn_eps", type=float, default=1e-3)
    net.add_argument("--dropout", type=float, default=0.0, help="Dropout before the classifier.")
    net.add_argument("--weight_bits", type=int, default=None,
                     help="Quantise every conv and linear weight to this many bits (1 to 8, "
                          "straight-through) during the search; written to net.config.")


def _add_ds_cnn_bf_flags(ds):
    ds.add_argument("--ds_first_conv", default=",".join(map(str, dsb.DEFAULT_FIRST_CONV)),
                    help="The fixed first conv: features,kernel_t,kernel_f,stride_t,stride_f.")
    ds.add_argument("--ds_blocks", type=int, default=dsb.DEFAULT_BLOCKS,
                    help="Depthwise-separable blocks to choose (all but the last may be "
                         "skipped).")
    ds.add_argument("--ds_kernel_sizes", default=",".join(map(str, dsb.DEFAULT_KERNEL_SIZES)),
                    help="Depthwise kernel sizes to choose from.")
    ds.add_argument("--ds_widths", default=",".join(map(str, dsb.DEFAULT_WIDTHS)),
                    help="Pointwise widths to choose from.")


def _add_architecture_flags(arch):
    arch.add_argument("--arch_init_type", choices=supernet.ARCH_INIT_TYPES, default="normal")
    arch.add_argument("--arch_init_ratio", type=float, default=1e-3,
                      help="Std (normal) or half-range (uniform) of the initial logits.")
    arch.add_argument("--arch_lr", type=float, default=1e-3,
                      help="Final architecture learning rate (it rises from 0 over the search).")
    arch.add_argument("--arch_adam_beta1", type=float, default=0.0)
    arch.add_argument("--arch_adam_beta2", type=float, default=0.999)
    arch.add_argument("--arch_adam_eps", type=float, default=1e-8)
    arch.add_argument("--arch_weight_decay", type=float, default=0.0)
    arch.add_argument("--target_hardware", choices=("flops",), default=None,
                      help="'flops' adds the FLOPs regulariser to the architecture loss.")
    arch.add_argument("--flops_ref_value", type=float, default=100e6,
                      help="Reference FLOPs T of the regulariser.")
    arch.add_argument("--grad_update_arch_param_every", type=int, default=5,
                      help="Architecture steps after every this many weight steps.")
    arch.add_argument("--grad_update_steps", type=int, default=1,
                      help="Architecture steps at each such point.")
    arch.add_argument("--grad_binary_mode", choices=gates.MODES, default="full_v2",
                      help="Candidates behind the gate gradient: all (full_v2, full) or two.")
    arch.add_argument("--grad_data_batch", type=int, default=None,
                      help="Batch size of the architecture steps (default --train_batch_size).")
    arch.add_argument("--grad_reg_loss_type", choices=regularizer.LOSS_TYPES, default="mul#log")
    arch.add_argument("--grad_reg_loss_lambda", type=float, default=0.1,
                      help="lambda of add#linear.")
    arch.add_argument("--grad_reg_loss_alpha", type=float, default=0.2, help="a of mul#log.")
    arch.add_argument("--grad_reg_loss_beta", type=float, default=0.3,
                      help="beta of mul#log (0: no FLOPs pressure).")


def _int_list(args, name):
    text = getattr(args, name)
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise KwsError(f"--{name} {text!r}: expected comma-separated whole numbers") from None
    if any(v <= 0 for v in values):
        raise KwsError(f"--{name} {text!r}: every number must be positive")
    return values


def n_mfcc_from_flags(args):
    """--n_mfcc and --dct_coefficient_count are one setting; given both, they must agree."""
    given = {f"--{name}": getattr(args, name) for name in ("n_mfcc", "dct_coefficient_count")
             if getattr(args, name) is not None}
    if len(set(given.values())) > 1:
        raise KwsError(" and ".join(f"{k} {v}" for k, v in given.items()) + " disagree")
    return next(iter(given.values()), DEFAULT_N_MFCC)


def _check(args):
    for name in ("n_epochs", "train_batch_size", "test_batch_size", "validation_frequency",
                 "print_frequency", "n_worker", "grad_update_arch_param_every",
                 "grad_update_steps"):
        if getattr(args, name) <= 0:
            raise KwsError(f"--{name} must be positive, got {getattr(args, name)}")
    if args.warmup_epochs < 0:
        raise KwsError(f"--warmup_epochs must not be negative, got {args.warmup_epochs}")
    if args.grad_data_batch is not None and args.grad_data_batch <= 0:
        raise KwsError(f"--grad_data_batch must be positive, got {args.grad_data_batch}")
    if args.weight_bits is not None and not 0 < args.weight_bits <= 8:
        raise KwsError(f"--weight_bits must be from 1 to 8, got {args.weight_bits}")
    if args.width_mult <= 0:
        raise KwsError(f"--width_mult must be positive, got {args.width_mult}")
    if not 0 <= args.dropout < 1:
        raise KwsError(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0 < args.bn_momentum < 1:
        raise KwsError(f"--bn_momentum must be between 0 and 1, got {args.bn_momentum}")
    if args.target_hardware:
        regularizer.check(args.grad_reg_loss_type, args.flops_ref_value)
    if args.search_space == "ds_cnn_bf":
        for name, off in (("weight_bits", None), ("dropout", 0.0)):
            if getattr(args, name) != off:
                raise KwsError(f"--{name} does not apply to --search_space ds_cnn_bf (its "
                               "model has no weight quantiser and no dropout)")


def search_space_from_flags(args, label_count):
    if args.search_space == "ds_cnn_bf":
        return dsb.ds_cnn_bf_space(
            label_count, first_conv=_int_list(args, "ds_first_conv"), blocks=args.ds_blocks,
            kernel_sizes=_int_list(args, "ds_kernel_sizes"), widths=_int_list(args, "ds_widths"))
    stages = [_int_list(args, name) for name in ("width_stages", "n_cell_stages",
                                                 "stride_stages")]
    if len({len(s) for s in stages}) != 1:
        raise KwsError("--width_stages, --n_cell_stages and --stride_stages need as many "
                       f"values each, got {', '.join(str(len(s)) for s in stages)}")
    return space.proxyless(label_count, width_mult=args.width_mult, width_stages=stages[0],
                           n_cell_stages=stages[1], stride_stages=stages[2],
                           weight_bits=args.weight_bits, dropout=args.dropout,
                           bn_momentum=args.bn_momentum, bn_eps=args.bn_eps)


def settings_from_flags(args):
    return SearchSettings(
        label_smoothing=args.label_smoothing, momentum=args.momentum,
        nesterov=not args.no_nesterov, weight_decay=args.weight_decay,
        no_decay_keys=None if args.no_decay_keys == "None" else args.no_decay_keys,
        arch_adam_beta1=args.arch_adam_beta1, arch_adam_beta2=args.arch_adam_beta2,
        arch_adam_eps=args.arch_adam_eps, arch_weight_decay=args.arch_weight_decay,
        grad_binary_mode=args.grad_binary_mode, target_hardware=args.target_hardware,
        grad_reg_loss_type=args.grad_reg_loss_type,
        grad_reg_loss_alpha=args.grad_reg_loss_alpha,
        grad_reg_loss_beta=args.grad_reg_loss_beta,
        grad_reg_loss_lambda=args.grad_reg_loss_lambda,
        flops_ref_value=args.flops_ref_value, seed=args.manual_seed)


def run_config(args, n_mfcc):
    """The reference's learned_net/run.config (its retraining reads it)."""
    return {"n_epochs": args.n_epochs, "init_lr": args.init_lr,
            "lr_schedule_type": args.lr_schedule_type, "lr_schedule_param": None,
            "dataset": args.dataset, "train_batch_size": args.train_batch_size,
            "test_batch_size": args.test_batch_size, "valid_size": None, "opt_type": "sgd",
            "opt_param": {"momentum": args.momentum, "nesterov": not args.no_nesterov},
            "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
            "no_decay_keys": None if args.no_decay_keys == "None" else args.no_decay_keys,
            "model_init": "he_fout", "init_div_groups": False,
            "validation_frequency": args.validation_frequency,
            "print_frequency": args.print_frequency, "n_worker": args.n_worker,
            "n_mfcc": n_mfcc}


class SearchLog:
    """<path>/logs/search.jsonl (one JSON object per epoch) and TensorBoard scalars."""

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, "search.jsonl")
        open(self.path, "w").close()
        self.writer = tf.summary.create_file_writer(folder)

    def epoch(self, record):
        with open(self.path, "a") as stream:
            stream.write(json.dumps(record) + "\n")
        with self.writer.as_default(step=record["epoch_index"]):
            for key in ("expected_flops", "argmax_flops", "train_loss", "train_accuracy",
                        "valid_accuracy", "weight_lr", "arch_lr"):
                if record.get(key) is not None:
                    tf.summary.scalar(key, record[key])
            for e, probs in enumerate(record["probabilities"]):
                tf.summary.scalar(f"edge{e}/argmax_probability", max(probs))
        self.writer.flush()


def _with_threads(dataset, threads):
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    return dataset.with_options(options)


def _op_names(net, paths):
    return [edge.candidates[p].name.split("_", 1)[1] for edge, p in zip(net.edges, paths)]


def search(args):
    """Runs the search; returns the final figures (also written to --json_out)."""
    _check(args)
    n_mfcc = n_mfcc_from_flags(args)
    feature_config = from_flags(FeatureConfig, args, dct_coefficient_count=n_mfcc)
    augment = from_flags(AugmentConfig, args)
    data_config = from_flags(DataConfig, args)
    words = speech_commands.prepare_words_list(data_config.wanted_words)
    search_space = search_space_from_flags(args, len(words))
    settings = settings_from_flags(args)
    cli.check_writable(os.path.join(args.path, "learned_net", "init"))

    index, splits = data.load(data_config, feature_config, ("training", "validation"))
    if not len(splits["validation"]):
        raise KwsError("the validation split is empty (see --validation_percentage): the "
                       "architecture steps learn on it")
    input_shape = feature_config.shape

    tf.keras.utils.set_random_seed(args.manual_seed)
    net = supernet.SuperNet(search_space, args.arch_init_type, args.arch_init_ratio)
    searcher = Searcher(net.build_for(input_shape), input_shape, settings)
    print(f"supernet: {len(net.edges)} mixed edges, "
          f"{sum(len(e.candidates) for e in net.edges)} candidates, "
          f"{int(sum(np.prod(v.shape) for v in searcher.weights)):,} weights; "
          f"expected FLOPs {searcher.expected_flops():,.0f}")

    batches_per_epoch = math.ceil(len(splits["training"]) / args.train_batch_size)
    train = iter(_with_threads(splits["training"].train_dataset(
        args.train_batch_size, augment, args.manual_seed), args.n_worker))
    arch_batches = iter(_with_threads(splits["validation"].train_dataset(
        args.grad_data_batch or args.train_batch_size, NO_AUGMENTATION,
        args.manual_seed + 1), args.n_worker))
    validation = _with_threads(splits["validation"].eval_dataset(args.test_batch_size),
                               args.n_worker)
    log = SearchLog(os.path.join(args.path, "logs"))
    total_epochs = args.warmup_epochs + args.n_epochs
    started = time.time()
    record = {}
    for epoch_index in range(total_epochs):
        record = _run_epoch(searcher, args, epoch_index, batches_per_epoch, train, arch_batches)
        paths = net.argmax_paths()
        valid_accuracy = None
        if (epoch_index + 1) % args.validation_frequency == 0 or \
                epoch_index + 1 == total_epochs:
            valid_accuracy = searcher.accuracy(validation, paths, training=True)
        record.update(valid_accuracy=valid_accuracy, expected_flops=searcher.expected_flops(),
                      argmax=_op_names(net, paths), argmax_flops=searcher.flops.of(paths),
                      probabilities=[[round(float(p), 5) for p in probs]
                                     for probs in net.probabilities()],
                      seconds=time.time() - started)
        log.epoch(record)
        print(f"  arg-max net: {' '.join(record['argmax'])}; {record['argmax_flops']:,} FLOPs; "
              f"valid accuracy {'-' if valid_accuracy is None else f'{valid_accuracy:.4f}'}; "
              f"E[FLOPs] {record['expected_flops']:,.0f}")

    paths = net.argmax_paths()
    export, prefix = _save_learned_net(net, paths, input_shape, args, n_mfcc,
                                       index.words_list, feature_config)
    flops = searcher.flops.of(paths)
    parameters = int(sum(np.prod(v.shape) for v in export.model.trainable_weights))
    learned = os.path.dirname(prefix)
    train_flags = (export.train_flags.format(folder=learned)
                   + f" --start_checkpoint {prefix}")
    print(f"learned net: {' '.join(_op_names(net, paths))}\n  {flops:,} FLOPs, "
          f"{parameters:,} parameters; written to {learned}/ "
          f"({', '.join([*export.files, 'run.config', 'init'])})\n"
          f"  fine-tune it: train.py {train_flags} (plus the data and feature flags)")
    return {"learned_net": learned, "checkpoint": prefix, "argmax": _op_names(net, paths),
            "flops": flops, "expected_flops": searcher.expected_flops(),
            "valid_accuracy": record.get("valid_accuracy"), "train_flags": train_flags,
            "parameters": parameters,
            "epochs": total_epochs, "batches_per_epoch": batches_per_epoch,
            "search_seconds": time.time() - started, "log": log.path,
            "bad_files": len(index.bad_files)}


def _run_epoch(searcher, args, epoch_index, batches_per_epoch, train, arch_batches):
    """One warm-up or search epoch with its progress bar; the start of its log record."""
    warmup = epoch_index < args.warmup_epochs
    epoch = epoch_index if warmup else epoch_index - args.warmup_epochs
    phase_batches = (args.warmup_epochs if warmup else args.n_epochs) * batches_per_epoch
    print(f"{'warm-up' if warmup else 'search'} epoch {epoch + 1}/"
          f"{args.warmup_epochs if warmup else args.n_epochs}")
    progress = kws_progress.progbar(batches_per_epoch,
                                    stateful_metrics=["loss", "acc", "E[FLOPs]"])
    losses, accuracies, arch_steps = [], [], 0
    weight_lr = arch_lr = 0.0
    for i in range(batches_per_epoch):
        step = epoch * batches_per_epoch + i
        weight_lr = cosine_rate(WARMUP_LR if warmup else args.init_lr, step, phase_batches)
        loss, accuracy, _ = searcher.weight_step(*next(train),
                                                 tf.constant(weight_lr, tf.float32))
        losses.append(float(loss))
        accuracies.append(float(accuracy))
        if not warmup and epoch > 0 and (i + 1) % args.grad_update_arch_param_every == 0:
            arch_lr = arch_rate(args.arch_lr, step, phase_batches)
            for _ in range(args.grad_update_steps):
                searcher.arch_step(*next(arch_batches), tf.constant(arch_lr, tf.float32))
                arch_steps += 1
        if (i + 1) % args.print_frequency == 0 or i + 1 == batches_per_epoch:
            progress.update(i + 1, [("loss", np.mean(losses)), ("acc", np.mean(accuracies)),
                                    ("E[FLOPs]", searcher.expected_flops())])
    return {"epoch_index": epoch_index, "phase": "warmup" if warmup else "search",
            "epoch": epoch + 1, "train_loss": float(np.mean(losses)),
            "train_accuracy": float(np.mean(accuracies)), "weight_lr": weight_lr,
            "arch_lr": arch_lr, "arch_steps": arch_steps}


def _save_learned_net(net, paths, input_shape, args, n_mfcc, labels, feature_config):
    """<path>/learned_net/: the network's files, run.config, and the checkpoint `init` with its
    sidecar. Returns (the Export, the checkpoint prefix)."""
    learned = os.path.join(args.path, "learned_net")
    export = net.export(paths, input_shape)
    for name, text in export.files.items():
        cli.atomic_write(os.path.join(learned, name),
                         lambda stream, text=text: stream.write(text.encode()))
    cli.write_json(os.path.join(learned, "run.config"), run_config(args, n_mfcc))
    prefix = os.path.join(learned, "init")
    checkpoint.save(export.model, prefix, ModelSpec(
        export.sidecar["model_architecture"], tuple(export.sidecar["model_size_info"]),
        tuple(input_shape), tuple(labels), feature_config,
        net_config=export.sidecar.get("net_config"), wanted_words=args.wanted_words))
    return export, prefix


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        figures = search(args)
        cli.write_json(args.json_out, figures)
    return 0
