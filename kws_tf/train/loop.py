"""train.py: Hello Edge's training, on tf.data and tf.distribute.

Same flags, defaults and meaning as Hello Edge's train.py (Adam, a piecewise
constant learning rate over --how_many_training_steps, validation every
--eval_step_interval steps, the best checkpoint kept in best/), with what it
lacked: --save_step_interval works and a restarted command resumes where the
last one stopped (same step, same learning rate, same batches); evaluation
runs the model in inference mode; the final test accuracy is that of the best
checkpoint, not of the last weights.
"""
import collections
import dataclasses
import os
import sys
import time
import weakref

import numpy as np

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from kws_tf import cli, features, models
from kws_tf import progress as kws_progress
from kws_tf.data import download, pipeline, speech_commands
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint as model_checkpoint
from kws_tf.quant import integer_sim, qat
from kws_tf.train import checkpoints, summaries

STRATEGIES = ("none", "mirrored", "multi_worker")


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
    speech_commands.add_data_flags(parser)
    features.add_feature_flags(parser)
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
    group.add_argument("--distribution_strategy", choices=STRATEGIES, default="none",
                       help="tf.distribute strategy: 'mirrored' for the GPUs of one machine, "
                            "'multi_worker' for several machines (reads TF_CONFIG).")
    integer_sim.add_flags(parser, "integer training (--quantize integer)")
    cli.add_json_out(parser)
    return parser


def _schedule(args):
    """Piecewise-constant learning rate over cumulative step boundaries."""
    try:
        steps = [int(s) for s in args.how_many_training_steps.split(",")]
    except ValueError:
        raise KwsError(f"--how_many_training_steps {args.how_many_training_steps!r}: expected "
                       "comma-separated whole numbers") from None
    try:
        rates = [float(r) for r in args.learning_rate.split(",")]
    except ValueError:
        raise KwsError(f"--learning_rate {args.learning_rate!r}: expected comma-separated "
                       "numbers") from None
    if len(steps) != len(rates):
        raise KwsError(f"--how_many_training_steps and --learning_rate must have the same "
                       f"number of values, got {len(steps)} and {len(rates)}")
    if any(s <= 0 for s in steps) or any(r <= 0 for r in rates):
        raise KwsError("--how_many_training_steps and --learning_rate must be positive")
    # The schedule sees optimizer.iterations, i.e. step - 1: Hello Edge's step 10 of a
    # "10,20" run is iteration 9, the last of the first phase.
    boundaries = [int(b) - 1 for b in np.cumsum(steps)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, rates + rates[-1:])
    return int(sum(steps)), schedule


def _check_intervals(args):
    for name in ("eval_step_interval", "save_step_interval", "batch_size"):
        if getattr(args, name) <= 0:
            raise KwsError(f"--{name} must be positive, got {getattr(args, name)}")


def _strategy(name):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise KwsError("--distribution_strategy multi_worker needs TF_CONFIG (see README)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


def _quantize_info(args, feature_config):
    """The sidecar's "quantize" entry for the flags, or None for float training. Features
    already rounded (--feature_bits) give the integer input scale unless it is given."""
    if args.qat_bits is not None and args.quantize == "none":
        args.quantize = "tfmot"
    if args.quantize == "none":
        return None
    if args.quantize == "integer":
        if args.qat_bits is not None:
            raise KwsError("--qat_bits is for --quantize tfmot; --quantize integer takes "
                           "--input_bits, --weight_bits and --activation_bits")
        frac_bits = args.input_frac_bits
        if frac_bits is None and feature_config.feature_bits:
            frac_bits = feature_config.feature_frac_bits
        return integer_sim.sidecar(args.input_bits, args.weight_bits, args.activation_bits,
                                   frac_bits, args.shifts)
    return qat.sidecar(*qat.parse_bits(args.qat_bits or "8,8"))


def sidecar_info(args, feature_config, words_list, quantize):
    from kws_tf.nas import net_config

    return {"model_architecture": args.model_architecture,
            "net_config": (net_config.to_dict(net_config.resolve(args.net_config))
                           if args.net_config else None),
            "quantize": quantize,
            "model_size_info": list(args.model_size_info),
            "input_shape": list(feature_config.shape),
            "labels": list(words_list),
            "wanted_words": args.wanted_words,
            "features": dataclasses.asdict(feature_config)}


def check_same_model(info, expected, where):
    """A checkpoint's sidecar must describe the model this command builds."""
    for key in ("model_architecture", "model_size_info", "input_shape", "labels", "features",
                "quantize", "net_config"):
        if info.get(key) != expected.get(key):
            raise KwsError(f"{where} was trained with {key} {info[key]}, but this command "
                           f"uses {expected[key]}")


_PREDICTORS = weakref.WeakKeyDictionary()  # one traced function per model, not per call


def evaluate(model, dataset, label_count):
    """(accuracy, confusion matrix [true, predicted], count) in inference mode."""
    if model not in _PREDICTORS:
        _PREDICTORS[model] = tf.function(lambda x: tf.argmax(model(x, training=False), axis=-1))
    predict = _PREDICTORS[model]
    confusion = np.zeros((label_count, label_count), np.int64)
    for batch, labels in dataset:
        np.add.at(confusion, (labels.numpy(), predict(batch).numpy()), 1)
    total = int(confusion.sum())
    return (float(np.trace(confusion) / total) if total else 0.0), confusion, total


def format_confusion(confusion, labels):
    """Rows labelled with the true label, columns with the predicted label's index."""
    name_width = max(len(label) for label in labels)
    width = max(len(str(len(labels) - 1)), len(str(int(np.max(confusion, initial=0)))))
    rows = [" " * name_width + " " + " ".join(f"{i:>{width}}" for i in range(len(labels)))]
    rows += [f"{label:>{name_width}} " + " ".join(f"{value:>{width}}" for value in row)
             for label, row in zip(labels, confusion)]
    return "\n".join(rows)


def train(args):
    """Runs a whole training; returns the final figures (also written to --json_out)."""
    strategy = _strategy(args.distribution_strategy)  # before other TF ops (multi-worker)
    chief = _is_chief(strategy)
    feature_config = features.feature_config_from_flags(args)
    augment = pipeline.augment_config_from_flags(args)
    data_config = speech_commands.data_config_from_flags(args)
    total_steps, schedule = _schedule(args)
    _check_intervals(args)
    words_list = speech_commands.prepare_words_list(data_config.wanted_words)
    args.model_size_info = models.size_info_for(args.model_architecture, args.model_size_info)
    quantize = _quantize_info(args, feature_config)
    if args.start_checkpoint:
        args.start_checkpoint, _ = model_checkpoint.find(args.start_checkpoint,
                                                         "--start_checkpoint")
    # A wrong --model_size_info, a model tfmot cannot wrap or a full disk fail before data.
    probe = models.build_model(args.model_architecture, args.model_size_info,
                               feature_config.shape, len(words_list), args.net_config)
    if quantize and quantize["mode"] == integer_sim.MODE:
        integer_sim.check_architecture(args.model_architecture)
    elif quantize:
        probe = qat.apply(probe, args.model_architecture, quantize)
    train_dir = args.train_dir if chief else os.path.join(
        args.train_dir, f"worker_{strategy.cluster_resolver.task_id}")
    for folder in (train_dir, args.summaries_dir):
        cli.check_writable(os.path.join(folder, ".probe"))
    checkpoints.check_free_space(train_dir, probe.variables, copies_per_variable=3)  # + Adam

    download.maybe_download_and_extract(args.data_url, args.data_dir)
    index = speech_commands.build_index(data_config, feature_config.sample_rate)
    if index.bad_files:
        print(f"skipped {len(index.bad_files)} bad files; first: {index.bad_files[0][1]}",
              file=sys.stderr)
    splits = pipeline.load_splits(index, feature_config)
    label_count = len(index.words_list)
    info = sidecar_info(args, feature_config, index.words_list, quantize)

    tf.keras.utils.set_random_seed(args.seed)
    keeper = checkpoints.CheckpointKeeper(train_dir, None, info)
    keeper.remove_unlisted()
    if keeper.latest:
        latest = _sidecar(keeper.latest)
        if quantize and quantize["mode"] == integer_sim.MODE:
            # The scale and shifts chosen when the run started stay; given ones must agree.
            info["quantize"] = integer_sim.resumed(quantize, latest.get("quantize"))
        check_same_model(latest, info, f"--train_dir {args.train_dir}")
    start_sidecar = _sidecar(args.start_checkpoint) if args.start_checkpoint else None
    # A float checkpoint fine-tuned with QAT loads into the float model before it is wrapped.
    float_start = bool(quantize and args.start_checkpoint and not keeper.latest
                       and not (start_sidecar or {}).get("quantize"))
    with strategy.scope():
        model = models.build_model(args.model_architecture, args.model_size_info,
                                   feature_config.shape, label_count, args.net_config)
        if float_start:
            check_same_model(start_sidecar or {}, {**info, "quantize": None},
                             f"--start_checkpoint {args.start_checkpoint}")
            checkpoints.restore(tf.train.Checkpoint(model=model), args.start_checkpoint,
                                "--start_checkpoint")
        saved = model  # what checkpoints hold: the integer simulation keeps float weights
        if quantize and quantize["mode"] == integer_sim.MODE:
            start_spec = (start_sidecar or {}).get("quantize") or {}
            if not keeper.latest and start_spec.get("mode") == integer_sim.MODE:
                info["quantize"] = integer_sim.resumed(info["quantize"], start_spec)
            if not integer_sim.complete(info["quantize"]):
                info["quantize"], equalized = integer_sim.choose(
                    model, info["quantize"], _calibration(index, feature_config, args))
                if equalized:
                    print("cross-layer equalized the float weights (same logits; the integer "
                          "graph agrees more with them)")
            print(integer_sim.describe(info["quantize"]))
            model = integer_sim.apply(model, args.model_architecture, info["quantize"])
        elif quantize:
            model = saved = qat.apply(model, args.model_architecture, quantize)
            print(qat.describe(model, quantize))
        optimizer = keras.optimizers.Adam(learning_rate=schedule)
        optimizer.build(model.trainable_variables)
    print(f"Total number of Parameters: "
          f"{int(sum(np.prod(v.shape) for v in model.trainable_variables))}")
    checkpoint = keeper.checkpoint = tf.train.Checkpoint(model=saved, optimizer=optimizer)
    if keeper.latest:
        checkpoints.restore(checkpoint, keeper.latest, "--train_dir checkpoint")
        print(f"resuming from {keeper.latest} at step {int(optimizer.iterations.numpy())}")
    elif args.start_checkpoint and not float_start:
        if start_sidecar:
            check_same_model(start_sidecar, info, f"--start_checkpoint {args.start_checkpoint}")
        checkpoints.restore(tf.train.Checkpoint(model=saved), args.start_checkpoint,
                            "--start_checkpoint")
    if chief:
        cli.atomic_write(os.path.join(train_dir, f"{args.model_architecture}_labels.txt"),
                         lambda s: s.write("\n".join(index.words_list).encode()))
        cli.write_json(os.path.join(train_dir, "training_flags.json"), vars(args))

    start_step = int(optimizer.iterations.numpy())
    per_replica = args.batch_size // strategy.num_replicas_in_sync
    if per_replica * strategy.num_replicas_in_sync != args.batch_size:
        raise KwsError(f"--batch_size {args.batch_size} does not split evenly over "
                       f"{strategy.num_replicas_in_sync} replicas")
    batches = iter(strategy.distribute_datasets_from_function(
        lambda context: splits["training"].train_dataset(
            per_replica, augment, args.seed + 1000003 * context.input_pipeline_id,
            start_step)))
    train_step = _train_step(strategy, model, optimizer, args.batch_size, args.check_nans)
    validation = splits["validation"].eval_dataset(args.batch_size)
    writers = summaries.Writers(args.summaries_dir, enabled=chief)

    best = keeper.state["best_accuracy"] or 0.0
    progress = kws_progress.progbar(total_steps, verbose=1 if chief else 0,
                                    stateful_metrics=["loss", "accuracy", "steps/s"])
    progress.update(start_step)
    started = time.time()
    recent = collections.deque(maxlen=50)  # step end times, for steps/s (tracing excluded)
    for step in range(start_step + 1, total_steps + 1):
        try:
            loss, accuracy = (float(x) for x in train_step(next(batches)))
        except tf.errors.InvalidArgumentError as error:
            if not (args.check_nans and "Tensor had" in error.message):
                raise
            loss, accuracy = float("nan"), None
        if args.check_nans and not np.isfinite(loss):
            paths = splits["training"].batch_paths(per_replica, args.seed, step - 1)
            raise KwsError(f"--check_nans: NaN or Inf in the loss or the gradients at step "
                           f"{step}; the batch's {len(paths)} files: {', '.join(paths)}")
        recent.append(time.time())
        rate = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9) if len(recent) > 1 else 0.0
        writers.train_step(step, loss, accuracy, float(schedule(step - 1)))
        progress.update(step, [("loss", loss), ("accuracy", accuracy), ("steps/s", rate)])
        if step % args.eval_step_interval == 0 or step == total_steps:
            val_accuracy, confusion, count = evaluate(model, validation, label_count)
            writers.validation(step, val_accuracy, confusion)
            if chief:
                print(f"\nStep {step}: Validation accuracy = {val_accuracy * 100:.2f}% "
                      f"(N={count})")
            if val_accuracy > best or keeper.state["best"] is None:
                best = val_accuracy
                keeper.save_best(step, val_accuracy)
            if chief:
                print(f"So far the best validation accuracy is {best * 100:.2f}%")
            recent.clear()
        if step % args.save_step_interval == 0 or step == total_steps:
            keeper.save_latest(step)
    train_seconds = time.time() - started

    if keeper.state["best"]:
        checkpoints.restore(tf.train.Checkpoint(model=saved), keeper.state["best"],
                            "best checkpoint")
    test_accuracy, confusion, count = evaluate(
        model, splits["testing"].eval_dataset(args.batch_size), label_count)
    writers.test(total_steps, test_accuracy, confusion)
    if chief:
        print(f"Confusion matrix (test, rows = true labels, columns = predictions):\n"
              f"{format_confusion(confusion, index.words_list)}")
        print(f"Final test accuracy = {test_accuracy * 100:.2f}% (N={count}) "
              f"of the best checkpoint {keeper.state['best']}")
    return {"best_checkpoint": keeper.state["best"], "latest_checkpoint": keeper.latest,
            "best_validation_accuracy": keeper.state["best_accuracy"],
            "test_accuracy": test_accuracy, "test_count": count,
            "test_confusion_matrix": confusion.tolist(), "labels": index.words_list,
            "steps": total_steps, "start_step": start_step, "train_seconds": train_seconds,
            "steps_per_second": (total_steps - start_step) / max(train_seconds, 1e-9),
            "train_dir": args.train_dir, "bad_files": len(index.bad_files)}


def _calibration(index, feature_config, args):
    """Unaugmented feature maps of the first --calibration_samples training clips."""
    data = pipeline.SplitData(index.splits["training"][:args.calibration_samples],
                              feature_config, resampler=index.resampler)
    return np.concatenate([batch.numpy() for batch, _ in data.eval_dataset(args.batch_size)])


def _sidecar(prefix):
    """The sidecar of a checkpoint, or None when it has none (e.g. a bare TF checkpoint)."""
    if not os.path.exists(model_checkpoint.sidecar_path(prefix)):
        return None
    return model_checkpoint.read_info(prefix)


def _train_step(strategy, model, optimizer, global_batch_size, check_nans):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=keras.losses.Reduction.NONE)

    def replica_step(batch, labels):
        with tf.GradientTape() as tape:
            logits = model(batch, training=True)
            per_example = loss_fn(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        if check_nans:
            gradients = [tf.debugging.check_numerics(g, "gradient") for g in gradients]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                 tf.cast(labels, tf.int32)), tf.float32))
        return loss, correct / global_batch_size

    @tf.function
    def step(inputs):
        loss, accuracy = strategy.run(replica_step, args=inputs)
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, accuracy, axis=None))

    return step


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, train(args))
    return 0
