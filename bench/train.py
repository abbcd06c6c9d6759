"""Training throughput: does the input pipeline keep the training step busy?

Prints training steps per second of DS-CNN at batch 100, for Hello Edge's
DS_CNN_S and for the integer-flow ds_cnn_bf config, on 49x10 MFCC features
(40 ms window, 20 ms stride, 10 coefficients, 12 labels), fed two ways:
  (1) from wav files: the real tf.data pipeline (SplitData.train_dataset over
      decoded clips, Hello Edge's default augmentation with background noise)
      feeding the real training step (train.loop._train_step, default
      strategy, Adam), one batch fetched per step as train.py does;
  (2) from memory: the same step on a fixed list of feature batches already
      computed, so the step never waits for input;
and the ratio (1)/(2) per model (target >= 0.8: the input pipeline is never
the bottleneck). It also times (3) the pipeline alone (batches/s, no training
step): on a CPU-only machine the pipeline and the step share the same cores,
so (1) is at most 1 / (1/(2) + 1/(3)); where the step runs on an accelerator,
(3)/(2) >= 1 means the pipeline keeps up with it. Each run warms up (tracing,
pipeline start) before it times
--steps steps; each figure is the median over --runs runs.

    python bench/train.py [--steps 200] [--runs 5] [--num_clips 2000] [--json_out F]
"""
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kws_tf  # noqa: E402,F401  (environment before TensorFlow)
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from kws_tf.config import AugmentConfig, FeatureConfig
from kws_tf import cli, models  # noqa: E402
from kws_tf.data import pipeline, speech_commands  # noqa: E402
from kws_tf.data.wav import write_wav  # noqa: E402
from kws_tf.train import loop  # noqa: E402

CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)
AUGMENT = AugmentConfig()  # Hello Edge's defaults: 100 ms shift, noise 0.8 / 0.1
LABEL_COUNT = 12  # _silence_, _unknown_ and Hello Edge's ten words
MODELS = {
    "DS_CNN_S (ds_cnn)": ("ds_cnn", [5, 64, 10, 4, 2, 2, 64, 3, 3, 1, 1, 64, 3, 3, 1, 1,
                                     64, 3, 3, 1, 1, 64, 3, 3, 1, 1]),
    "integer flow (ds_cnn_bf)": ("ds_cnn_bf", [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1]),
}
MEMORY_BATCHES = 20  # distinct precomputed batches that (2) cycles through


def make_clips(folder, num_clips, seed=0):
    """Speech-like 1-s clips (noise bursts) over 12 labels and two 60-s noise files."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(num_clips):
        label = i % LABEL_COUNT
        os.makedirs(os.path.join(folder, f"word{label}"), exist_ok=True)
        clip = np.zeros(CONFIG.desired_samples, np.float32)
        start, length = rng.integers(0, 6000), rng.integers(4000, 10000)
        clip[start:start + length] = rng.normal(0, 0.1, length)
        path = os.path.join(folder, f"word{label}", f"{i:08x}_nohash_0.wav")
        write_wav(path, clip)
        items.append(speech_commands.Item(path, label))
    noise_dir = os.path.join(folder, speech_commands.BACKGROUND_NOISE_DIR_NAME)
    os.makedirs(noise_dir, exist_ok=True)
    for n in range(2):
        write_wav(os.path.join(noise_dir, f"noise{n}.wav"), rng.uniform(-0.5, 0.5, 60 * 16000))
    noise_files = sorted(os.path.join(noise_dir, f) for f in os.listdir(noise_dir))
    return items, noise_files


def build_step(architecture, size_info, batch_size, strategy):
    """The model, Adam and the tf.function step, built as train.loop.train builds them."""
    with strategy.scope():
        model = models.build_model(architecture, size_info, CONFIG.shape, LABEL_COUNT)
        optimizer = keras.optimizers.Adam(learning_rate=0.001)
        optimizer.build(model.trainable_variables)
    return loop._train_step(strategy, model, optimizer, batch_size, check_nans=False)


def time_steps(step, next_batch, steps, warmup):
    """Steps/s over `steps` steps after `warmup` untimed ones; one host sync per step, as
    train.py has (it reads the loss and accuracy of every step)."""
    for _ in range(warmup):
        float(step(next_batch())[0])
    start = time.perf_counter()
    for _ in range(steps):
        loss, accuracy = step(next_batch())
        float(loss), float(accuracy)
    return steps / (time.perf_counter() - start)


def run_from_wav(step, data, strategy, batch_size, steps, warmup, seed):
    """(1): a fresh training stream (as train.py creates it) feeding the step."""
    batches = iter(strategy.distribute_datasets_from_function(
        lambda context: data.train_dataset(batch_size, AUGMENT, seed)))
    return time_steps(step, lambda: next(batches), steps, warmup)


def run_pipeline_alone(data, batch_size, steps, warmup, seed):
    """(3): batches/s of the training stream with no step consuming them."""
    batches = iter(data.train_dataset(batch_size, AUGMENT, seed))
    for _ in range(warmup):
        next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)[0].numpy()
    return steps / (time.perf_counter() - start)


def run_from_memory(step, batches, steps, warmup):
    """(2): the step on precomputed (features, labels) tensors, cycled in order."""
    position = iter(range(10 ** 12))
    return time_steps(step, lambda: batches[next(position) % len(batches)], steps, warmup)


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/train.py", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="Timed training steps per run.")
    parser.add_argument("--warmup", type=int, default=20,
                        help="Untimed steps before each timed run (pipeline start, tracing).")
    parser.add_argument("--runs", type=int, default=5, help="Runs; each figure is the median.")
    parser.add_argument("--num_clips", type=int, default=2000, help="Wav clips generated.")
    parser.add_argument("--batch_size", type=int, default=100, help="Batch size.")
    cli.add_json_out(parser)
    args = parser.parse_args(argv)
    for name in ("steps", "runs", "num_clips", "batch_size"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.warmup < 1:
        parser.error("--warmup must be at least 1 (the first step traces the graph)")
    if args.num_clips < args.batch_size:
        parser.error("--num_clips must be at least --batch_size")

    started = time.perf_counter()
    strategy = tf.distribute.get_strategy()
    with tempfile.TemporaryDirectory() as folder:
        items, noise_files = make_clips(folder, args.num_clips)
        background = tuple(tf.constant(x) for x in pipeline.load_background(noise_files, CONFIG))
        data = pipeline.SplitData(items, CONFIG, background)
    # (2)'s batches: real augmented features from the same pipeline, computed up front.
    stream = iter(data.train_dataset(args.batch_size, AUGMENT, seed=1))
    memory = [tuple(tf.identity(t) for t in next(stream)) for _ in range(MEMORY_BATCHES)]
    del stream

    pipeline_alone = [run_pipeline_alone(data, args.batch_size, args.steps, args.warmup, run)
                      for run in range(args.runs)]
    print(f"pipeline alone: {statistics.median(pipeline_alone):.1f} batches/s", file=sys.stderr)
    runs = {name: {"from_wav": [], "from_memory": []} for name in MODELS}
    for name, (architecture, size_info) in MODELS.items():
        tf.keras.utils.set_random_seed(0)
        step = build_step(architecture, size_info, args.batch_size, strategy)
        for run in range(args.runs):
            # Alternate the order so that drift in machine load hits both sides alike.
            order = ("from_wav", "from_memory") if run % 2 == 0 else ("from_memory", "from_wav")
            for way in order:
                if way == "from_wav":
                    rate = run_from_wav(step, data, strategy, args.batch_size, args.steps,
                                        args.warmup, seed=run)
                else:
                    rate = run_from_memory(step, memory, args.steps, args.warmup)
                runs[name][way].append(rate)
            print(f"{name} run {run + 1}/{args.runs}: from wav {runs[name]['from_wav'][-1]:.1f}, "
                  f"from memory {runs[name]['from_memory'][-1]:.1f} steps/s", file=sys.stderr)
    seconds = time.perf_counter() - started

    median = {name: {way: statistics.median(values) for way, values in ways.items()}
              for name, ways in runs.items()}
    ratios = {name: m["from_wav"] / m["from_memory"] for name, m in median.items()}
    alone = statistics.median(pipeline_alone)
    headroom = {name: alone / m["from_memory"] for name, m in median.items()}
    print(f"training steps/s, batch {args.batch_size}, {CONFIG.shape[0]}x{CONFIG.shape[1]} "
          f"features (median of {args.runs} runs of {args.steps} steps, {args.num_clips} clips, "
          f"{os.cpu_count()} CPU cores, TF {tf.__version__}, {seconds:.0f} s in all):")
    print("| model | (1) from wav files | (2) from memory | ratio (1)/(2) | (3)/(2) |\n"
          "|---|---|---|---|---|")
    for name, m in median.items():
        print(f"| {name} | {m['from_wav']:.1f} | {m['from_memory']:.1f} | {ratios[name]:.2f} "
              f"| {headroom[name]:.2f} |")
    print(f"(3) the pipeline alone: {alone:.1f} batches/s")
    print("target: ratio >= 0.8 for every model "
          f"({'met' if min(ratios.values()) >= 0.8 else 'NOT met'})")
    cli.write_json(args.json_out, {
        "steps_per_second": median, "runs": runs, "ratios": ratios,
        "pipeline_alone_batches_per_second": alone, "pipeline_alone_runs": pipeline_alone,
        "pipeline_headroom": headroom,
        "models": {name: {"model_architecture": a, "model_size_info": s}
                   for name, (a, s) in MODELS.items()},
        "steps": args.steps, "warmup": args.warmup, "num_clips": args.num_clips,
        "batch_size": args.batch_size, "input_shape": list(CONFIG.shape),
        "label_count": LABEL_COUNT, "seconds": seconds,
        "cpu_count": os.cpu_count(), "tensorflow": tf.__version__})
    return 0


if __name__ == "__main__":
    sys.exit(main())
