"""What train.py runs: Hello Edge's training, on tf.data and tf.distribute.

Adam, a piecewise constant learning rate over the phases of --how_many_training_steps,
validation every --eval_step_interval steps and the best checkpoint kept in best/, as in Hello
Edge, with what it lacked: --save_step_interval works and a restarted command resumes where the
last one stopped (same step, same learning rate, same batches); evaluation runs the model in
inference mode; the final test accuracy is that of the best checkpoint, not of the last weights.
The flags become a TrainSettings in kws_tf.commands.train; a run here is set-up (`_prepare`),
model build and resume (`_build`), the loop (`_run_steps`) and the final test (`_test`).
"""
import collections
import dataclasses
import os
import time
import typing
import weakref

import numpy as np
import tensorflow as tf
import tf_keras as keras

from kws_tf import cli, data, models
from kws_tf import progress as kws_progress
from kws_tf.config import AugmentConfig, DataConfig, FeatureConfig, ModelSpec
from kws_tf.data import augment as augmentation
from kws_tf.data import pipeline, speech_commands
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint as model_checkpoint
from kws_tf.models import net_config as nc
from kws_tf.quant import integer_sim, qat
from kws_tf.train import checkpoints, distillation, summaries
from kws_tf.train.curriculum import (
    SNR_STAGES,
    Curriculum,
    CurriculumConfig,
    criterion,
    stage_augment,
)
from kws_tf.train.data_parameters import DataParameters, DataParametersConfig
from kws_tf.train.distillation import DistillationConfig

STRATEGIES = ("none", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Everything a training run needs, resolved from the flags once."""

    data: DataConfig
    features: FeatureConfig
    augment: AugmentConfig
    model_architecture: str
    model_size_info: tuple
    net_config: typing.Optional[str]  # a nas model's net.config path
    wanted_words: str
    quantize: typing.Optional[dict]  # the sidecar's "quantize" entry; None: float
    steps: tuple  # per learning-rate phase
    learning_rates: tuple
    eval_step_interval: int
    save_step_interval: int
    batch_size: int
    seed: int
    train_dir: str
    summaries_dir: str
    start_checkpoint: str  # a checkpoint prefix, or ""
    check_nans: bool
    distribution_strategy: str
    calibration_samples: int
    flags: dict  # what training_flags.json records
    curriculum: CurriculumConfig = CurriculumConfig()
    data_parameters: DataParametersConfig = DataParametersConfig()
    distillation: DistillationConfig = DistillationConfig()

    @property
    def integer(self):
        return bool(self.quantize) and self.quantize["mode"] == integer_sim.MODE


def learning_rate_schedule(steps, rates):
    """(total steps, piecewise-constant learning rate over cumulative step boundaries)."""
    # The schedule sees optimizer.iterations, i.e. step - 1: Hello Edge's step 10 of a
    # "10,20" run is iteration 9, the last of the first phase.
    boundaries = [int(b) - 1 for b in np.cumsum(steps)]
    rates = list(rates)
    return int(sum(steps)), keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, rates + rates[-1:])


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


def sidecar_info(settings, words_list, quantize):
    net = nc.to_dict(nc.resolve(settings.net_config)) if settings.net_config else None
    return ModelSpec(settings.model_architecture, settings.model_size_info,
                     settings.features.shape, tuple(words_list), settings.features, quantize,
                     net, settings.wanted_words).to_dict()


_PREDICTORS = weakref.WeakKeyDictionary()  # one traced function per model, not per call


def evaluate(model, dataset, label_count, with_loss=False):
    """(accuracy, confusion matrix [true, predicted], count) in inference mode, and the mean
    cross-entropy `with_loss`."""
    if model not in _PREDICTORS:
        _PREDICTORS[model] = tf.function(lambda x, y: _predict(model, x, y))
    predict = _PREDICTORS[model]
    confusion = np.zeros((label_count, label_count), np.int64)
    loss = 0.0
    for batch, labels in dataset:
        predicted, losses = predict(batch, labels)
        np.add.at(confusion, (labels.numpy(), predicted.numpy()), 1)
        loss += float(tf.reduce_sum(losses))
    total = int(confusion.sum())
    accuracy = float(np.trace(confusion) / total) if total else 0.0
    if with_loss:
        return accuracy, confusion, total, loss / max(total, 1)
    return accuracy, confusion, total


def _predict(model, batch, labels):
    logits = model(batch, training=False)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int32), logits)
    return tf.argmax(logits, axis=-1), losses


def format_confusion(confusion, labels):
    """Rows labelled with the true label, columns with the predicted label's index."""
    name_width = max(len(label) for label in labels)
    width = max(len(str(len(labels) - 1)), len(str(int(np.max(confusion, initial=0)))))
    rows = [" " * name_width + " " + " ".join(f"{i:>{width}}" for i in range(len(labels)))]
    rows += [f"{label:>{name_width}} " + " ".join(f"{value:>{width}}" for value in row)
             for label, row in zip(labels, confusion)]
    return "\n".join(rows)


@dataclasses.dataclass
class _Run:
    """What the stages of a run hand on: the strategy, data, model and bookkeeping."""

    strategy: object
    chief: bool
    train_dir: str
    index: object
    splits: dict
    info: dict
    keeper: object
    rooms: object = None  # the impulse responses reverberation draws from
    curriculum: object = None
    model: object = None
    saved: object = None  # what checkpoints hold: the integer simulation keeps float weights
    optimizer: object = None
    data_parameters: object = None
    teachers: tuple = ()
    writers: object = None


def train(settings):
    """Runs a whole training; returns the final figures (also written to --json_out)."""
    total_steps, schedule = learning_rate_schedule(settings.steps, settings.learning_rates)
    run = _prepare(settings)
    _build(settings, run, schedule)
    start_step = int(run.optimizer.iterations.numpy())
    started = time.time()
    _run_steps(settings, run, schedule, total_steps, start_step)
    train_seconds = time.time() - started
    test_accuracy, confusion, count = _test(settings, run, total_steps)
    written = _write_data_parameters(settings, run)
    return {**written, **_curriculum_figures(run),
            "best_checkpoint": run.keeper.state["best"], "latest_checkpoint": run.keeper.latest,
            "best_validation_accuracy": run.keeper.state["best_accuracy"],
            "test_accuracy": test_accuracy, "test_count": count,
            "test_confusion_matrix": confusion.tolist(), "labels": run.index.words_list,
            "steps": total_steps, "start_step": start_step, "train_seconds": train_seconds,
            "steps_per_second": (total_steps - start_step) / max(train_seconds, 1e-9),
            "train_dir": settings.train_dir, "bad_files": len(run.index.bad_files)}


def _prepare(settings):
    """Checks what can fail before the data is read (a wrong --model_size_info, a model tfmot
    cannot wrap, a full disk), then loads the data and opens the train_dir."""
    strategy = _strategy(settings.distribution_strategy)  # before other TF ops (multi-worker)
    chief = _is_chief(strategy)
    words_list = speech_commands.prepare_words_list(settings.data.wanted_words)
    probe = models.build_model(settings.model_architecture, settings.model_size_info,
                               settings.features.shape, len(words_list), settings.net_config)
    if settings.integer:
        integer_sim.check_architecture(settings.model_architecture)
    elif settings.quantize:
        probe = qat.apply(probe, settings.model_architecture, settings.quantize)
    train_dir = settings.train_dir if chief else os.path.join(
        settings.train_dir, f"worker_{strategy.cluster_resolver.task_id}")
    for folder in (train_dir, settings.summaries_dir):
        cli.check_writable(os.path.join(folder, ".probe"))
    checkpoints.check_free_space(train_dir, probe.variables, copies_per_variable=3)  # + Adam

    index, splits = data.load(settings.data, settings.features)
    info = sidecar_info(settings, index.words_list, settings.quantize)
    tf.keras.utils.set_random_seed(settings.seed)
    keeper = checkpoints.CheckpointKeeper(train_dir, None, info)
    keeper.remove_unlisted()
    if keeper.latest:
        latest = _sidecar(keeper.latest)
        if settings.integer:
            # The scale and shifts chosen when the run started stay; given ones must agree.
            info["quantize"] = integer_sim.resumed(settings.quantize, latest.get("quantize"))
        model_checkpoint.check_same_model(latest, info, f"--train_dir {settings.train_dir}")
    run = _Run(strategy, chief, train_dir, index, splits, info, keeper)
    _prepare_conditions(settings, run)
    return run


def _prepare_conditions(settings, run):
    """The rooms and the curriculum state of a multi-condition run (none for Hello Edge's)."""
    augment = settings.augment
    if settings.curriculum.enabled:
        run.curriculum = Curriculum(settings.curriculum, run.train_dir, run.keeper.latest_extra)
        augment = stage_augment(augment, len(SNR_STAGES) - 1)
    if (augment.background_snr_db or settings.curriculum.enabled) \
            and not run.index.background_files:
        raise KwsError(f"--data_dir {settings.data.data_dir} has no _background_noise_ files "
                       "to mix at --background_snr_db / --curriculum's ratios")
    run.rooms = augmentation.rooms_for(augment, settings.seed, settings.features.sample_rate,
                                       run.index.resampler)


def _build(settings, run, schedule):
    """The model (QAT-wrapped or integer-simulated as asked) and Adam, with the weights of the
    latest checkpoint (resuming) or of --start_checkpoint."""
    start = settings.start_checkpoint
    start_sidecar = _sidecar(start) if start else None
    # A float checkpoint fine-tuned with QAT loads into the float model before it is wrapped.
    float_start = bool(settings.quantize and start and not run.keeper.latest
                       and not (start_sidecar or {}).get("quantize"))
    with run.strategy.scope():
        model = models.build_model(settings.model_architecture, settings.model_size_info,
                                   settings.features.shape, len(run.index.words_list),
                                   settings.net_config)
        if float_start:
            model_checkpoint.check_same_model(start_sidecar or {},
                                              {**run.info, "quantize": None},
                                              f"--start_checkpoint {start}")
            checkpoints.restore(tf.train.Checkpoint(model=model), start, "--start_checkpoint")
        run.saved = model
        if settings.integer:
            model = _integer_model(settings, run, model, start_sidecar)
        elif settings.quantize:
            model = run.saved = qat.apply(model, settings.model_architecture, settings.quantize)
            print(qat.describe(model, settings.quantize))
        run.model = model
        run.teachers = distillation.load_teachers(settings.distillation, run.info)
        run.optimizer = keras.optimizers.Adam(learning_rate=schedule)
        run.optimizer.build(model.trainable_variables)
        if settings.data_parameters.data_parameters:
            run.data_parameters = DataParameters(settings.data_parameters,
                                                 len(run.index.words_list),
                                                 len(run.splits["training"]))
    print(f"Total number of Parameters: "
          f"{int(sum(np.prod(v.shape) for v in model.trainable_variables))}")
    _resume(settings, run, start_sidecar, float_start)


def _integer_model(settings, run, model, start_sidecar):
    """`model` run through the integer graph's arithmetic, its input scale and shifts taken
    from the run or the start checkpoint, else chosen on calibration clips."""
    start_spec = (start_sidecar or {}).get("quantize") or {}
    if not run.keeper.latest and start_spec.get("mode") == integer_sim.MODE:
        run.info["quantize"] = integer_sim.resumed(run.info["quantize"], start_spec)
    if not integer_sim.complete(run.info["quantize"]):
        run.info["quantize"], equalized = integer_sim.choose(
            model, run.info["quantize"], _calibration(settings, run.index))
        if equalized:
            print("cross-layer equalized the float weights (same logits; the integer "
                  "graph agrees more with them)")
    print(integer_sim.describe(run.info["quantize"]))
    return integer_sim.apply(model, settings.model_architecture, run.info["quantize"])


def _resume(settings, run, start_sidecar, float_start):
    """Restores the latest checkpoint (with the optimizer) or --start_checkpoint's weights;
    the chief writes the labels and the flags."""
    extra = {"data_parameters": run.data_parameters} if run.data_parameters else {}
    checkpoint = run.keeper.checkpoint = tf.train.Checkpoint(model=run.saved,
                                                             optimizer=run.optimizer, **extra)
    start = settings.start_checkpoint
    if run.keeper.latest:
        checkpoints.restore(checkpoint, run.keeper.latest, "--train_dir checkpoint")
        print(f"resuming from {run.keeper.latest} at step "
              f"{int(run.optimizer.iterations.numpy())}")
    elif start and not float_start:
        if start_sidecar:
            model_checkpoint.check_same_model(start_sidecar, run.info,
                                              f"--start_checkpoint {start}")
        checkpoints.restore(tf.train.Checkpoint(model=run.saved), start, "--start_checkpoint")
    if run.chief:
        cli.atomic_write(
            os.path.join(run.train_dir, f"{settings.model_architecture}_labels.txt"),
            lambda s: s.write("\n".join(run.index.words_list).encode()))
        cli.write_json(os.path.join(run.train_dir, "training_flags.json"), settings.flags)


def _run_steps(settings, run, schedule, total_steps, start_step):
    """The training steps from `start_step` on, with validation and checkpoints."""
    replicas = run.strategy.num_replicas_in_sync
    per_replica = settings.batch_size // replicas
    if per_replica * replicas != settings.batch_size:
        raise KwsError(f"--batch_size {settings.batch_size} does not split evenly over "
                       f"{replicas} replicas")
    batches = _batches(settings, run, per_replica, start_step)
    train_step = _train_step(run.strategy, run.model, run.optimizer, settings.batch_size,
                             settings.check_nans, run.data_parameters,
                             (settings.distillation, run.teachers))
    validation = run.splits["validation"].eval_dataset(settings.batch_size)
    run.writers = summaries.Writers(settings.summaries_dir, enabled=run.chief)
    progress = kws_progress.progbar(total_steps, verbose=1 if run.chief else 0,
                                    stateful_metrics=["loss", "accuracy", "steps/s"])
    progress.update(start_step)
    recent = collections.deque(maxlen=50)  # step end times, for steps/s (tracing excluded)
    for step in range(start_step + 1, total_steps + 1):
        loss, accuracy = _step(settings, run, train_step, batches, per_replica, step)
        recent.append(time.time())
        rate = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9) if len(recent) > 1 else 0.0
        run.writers.train_step(step, loss, accuracy, float(schedule(step - 1)))
        progress.update(step, [("loss", loss), ("accuracy", accuracy), ("steps/s", rate)])
        if step % settings.eval_step_interval == 0 or step == total_steps:
            if _validate(run, validation, step):
                batches = _batches(settings, run, per_replica, step)
            recent.clear()
        if step % settings.save_step_interval == 0 or step == total_steps:
            run.keeper.save_latest(step, run.curriculum.state if run.curriculum else None)


def _batches(settings, run, per_replica, start_step):
    """The training batches from `start_step` on, augmented as the curriculum stage says."""
    augment = settings.augment
    if run.curriculum:
        augment = stage_augment(augment, run.curriculum.stage)
    with_index = run.data_parameters is not None
    return iter(run.strategy.distribute_datasets_from_function(
        lambda context: run.splits["training"].train_dataset(
            per_replica, augment, settings.seed + 1000003 * context.input_pipeline_id,
            start_step, run.rooms, with_index)))


def _step(settings, run, train_step, batches, per_replica, step):
    """One training step: (loss, accuracy); --check_nans stops naming the batch's files."""
    try:
        loss, accuracy = (float(x) for x in train_step(next(batches)))
    except tf.errors.InvalidArgumentError as error:
        if not (settings.check_nans and "Tensor had" in error.message):
            raise
        loss, accuracy = float("nan"), None
    if settings.check_nans and not np.isfinite(loss):
        paths = run.splits["training"].batch_paths(per_replica, settings.seed, step - 1)
        raise KwsError(f"--check_nans: NaN or Inf in the loss or the gradients at step "
                       f"{step}; the batch's {len(paths)} files: {', '.join(paths)}")
    return loss, accuracy


def _validate(run, validation, step):
    """Validation at `step`: a new best is kept in best/; a curriculum may move on. Returns
    whether the curriculum stage changed."""
    labels = run.index.words_list
    accuracy, confusion, count, loss = evaluate(run.model, validation, len(labels), True)
    run.writers.validation(step, accuracy, confusion)
    if run.chief:
        print(f"\nStep {step}: Validation accuracy = {accuracy * 100:.2f}% (N={count})")
    best = run.keeper.state["best_accuracy"]
    if best is None or accuracy > best or run.keeper.state["best"] is None:
        run.keeper.save_best(step, accuracy)
    changed = run.curriculum is not None and _curriculum_step(
        run, step, criterion(accuracy, loss, len(labels)))
    if run.chief and not changed:
        print(f"So far the best validation accuracy is "
              f"{run.keeper.state['best_accuracy'] * 100:.2f}%")
    return changed


def _curriculum_step(run, step, value):
    """Records an evaluation in the curriculum; at a stage change, loads the ended stage's best
    weights. Returns whether the stage changed."""
    curriculum = run.curriculum
    verdict = curriculum.update(value, step)
    run.writers.scalars(step, {"curriculum_stage": curriculum.stage,
                               "curriculum_criterion": value})
    if verdict == "best":
        tf.train.Checkpoint(model=run.saved).write(curriculum.weights_prefix(step))
        return False
    if verdict == "stay":
        return False
    start = curriculum.advance()
    checkpoints.restore(tf.train.Checkpoint(model=run.saved), start, "curriculum stage weights")
    run.keeper.reset_best()
    if run.chief:
        conditions, reverb = SNR_STAGES[curriculum.stage]
        print(f"\nStep {step}: curriculum stage {curriculum.stage} (noise {conditions} dB, "
              f"reverb {reverb:g}), from the weights of {start}")
    return True


def _test(settings, run, total_steps):
    """Test accuracy of the best checkpoint: (accuracy, confusion matrix, count)."""
    if run.keeper.state["best"]:
        checkpoints.restore(tf.train.Checkpoint(model=run.saved), run.keeper.state["best"],
                            "best checkpoint")
    accuracy, confusion, count = evaluate(
        run.model, run.splits["testing"].eval_dataset(settings.batch_size),
        len(run.index.words_list))
    run.writers.test(total_steps, accuracy, confusion)
    if run.chief:
        print(f"Confusion matrix (test, rows = true labels, columns = predictions):\n"
              f"{format_confusion(confusion, run.index.words_list)}")
        print(f"Final test accuracy = {accuracy * 100:.2f}% (N={count}) "
              f"of the best checkpoint {run.keeper.state['best']}")
    return accuracy, confusion, count


def _calibration(settings, index):
    """Unaugmented feature maps of the first --calibration_samples training clips."""
    clips = pipeline.SplitData(index.splits["training"][:settings.calibration_samples],
                               settings.features, resampler=index.resampler)
    return np.concatenate([batch.numpy()
                           for batch, _ in clips.eval_dataset(settings.batch_size)])


def _sidecar(prefix):
    """The sidecar of a checkpoint, or None when it has none (e.g. a bare TF checkpoint)."""
    if not os.path.exists(model_checkpoint.sidecar_path(prefix)):
        return None
    return model_checkpoint.read_info(prefix)


def _train_step(strategy, model, optimizer, global_batch_size, check_nans,
                data_parameters=None, teaching=(None, ())):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=keras.losses.Reduction.NONE)
    data_variables = [] if data_parameters is None else [data_parameters.log_class,
                                                         data_parameters.log_clip]

    def replica_step(batch, labels, indices=None):
        with tf.GradientTape() as tape:
            logits = model(batch, training=True)
            scaled, decay = logits, 0.0
            if data_parameters is not None:
                scaled, decay = data_parameters.scale(logits, labels, indices)
            per_example = distillation.per_example_loss(*teaching, batch, logits,
                                                        loss_fn(labels, scaled))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            loss += decay / global_batch_size
        gradients = tape.gradient(loss, model.trainable_variables + data_variables)
        if check_nans:
            gradients = [tf.debugging.check_numerics(g, "gradient") for g in gradients]
        count = len(model.trainable_variables)
        optimizer.apply_gradients(zip(gradients[:count], model.trainable_variables))
        if data_parameters is not None:
            data_parameters.apply(gradients[count:])
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                 tf.cast(labels, tf.int32)), tf.float32))
        return loss, correct / global_batch_size

    @tf.function
    def step(inputs):
        loss, accuracy = strategy.run(replica_step, args=inputs)
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, accuracy, axis=None))

    return step


def _write_data_parameters(settings, run):
    """data_parameters.json in the train_dir (chief): the learned temperatures."""
    if run.data_parameters is None or not run.chief:
        return {}
    split = run.splits["training"]
    path = run.data_parameters.write(os.path.join(run.train_dir, "data_parameters.json"),
                                     run.index.words_list, split.paths, split.labels)
    print(f"data parameters (per-clip temperatures, hardest first): {path}")
    return {"data_parameters": path}


def _curriculum_figures(run):
    if run.curriculum is None:
        return {}
    return {"curriculum_stage": run.curriculum.stage}
