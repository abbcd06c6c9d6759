"""Input pipeline throughput: kws-tf's tf.data pipeline vs a Hello-Edge-style loop.

Prints clips per second, on the same clips, of
  (a) the tf.data pipeline from wav files to batched features with training
      augmentation on (time shift + background noise): the epochs after the
      first (what training runs in), and the first epoch alone, which also
      decodes every file and starts the pipeline;
  (b) a Hello-Edge-style loop: one session.run per clip that reads, decodes,
      shifts, mixes noise and computes the features (input_data.get_data);
  (c) the MFCC kernels alone on pre-decoded audio, batched in a graph;
and the ratios a/b (target >= 4) and a/c (target >= 0.8); also (a) with the
multi-condition options: noise at an SNR (--background_snr_db) and reverberation
of half the clips (--reverb_probability 0.5). Each figure is the median over
--runs runs.

    python bench/pipeline.py [--num_clips 2000] [--runs 5] [--json_out F]
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

from kws_tf.config import AugmentConfig, FeatureConfig
from kws_tf import cli, features  # noqa: E402
from kws_tf.data import augment as augmentation  # noqa: E402
from kws_tf.data import pipeline, speech_commands  # noqa: E402
from kws_tf.data.wav import write_wav  # noqa: E402

CONFIG = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)
AUGMENT = AugmentConfig()  # Hello Edge's defaults: 100 ms shift, noise 0.8 / 0.1
SNR_AUGMENT = AugmentConfig(background_snr_db="clean,20,10,5,0,-5,-10")
REVERB_AUGMENT = AugmentConfig(reverb_probability=0.5, rir_bank_size=20)


def make_clips(folder, num_clips, seed=0):
    """Speech-like test clips (noise bursts) and two noise files, in Speech Commands layout."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num_clips):
        word = f"word{i % 10}"
        os.makedirs(os.path.join(folder, word), exist_ok=True)
        clip = np.zeros(16000, np.float32)
        start, length = rng.integers(0, 6000), rng.integers(4000, 10000)
        clip[start:start + length] = rng.normal(0, 0.1, length)
        path = os.path.join(folder, word, f"{i:08x}_nohash_0.wav")
        write_wav(path, clip)
        paths.append(path)
    noise_dir = os.path.join(folder, speech_commands.BACKGROUND_NOISE_DIR_NAME)
    os.makedirs(noise_dir, exist_ok=True)
    for n in range(2):
        write_wav(os.path.join(noise_dir, f"noise{n}.wav"), rng.uniform(-0.5, 0.5, 60 * 16000))
    return paths, sorted(os.path.join(noise_dir, f) for f in os.listdir(noise_dir))


def run_pipeline(paths, noise_files, batch_size, epochs, augment=AUGMENT):
    """(a): decode every wav file, then `epochs` augmented epochs of batched features.

    Returns (first, steady): clips/s of the first epoch including decoding and
    start-up, and of the later epochs, which are what a training run lives in.
    """
    start = time.perf_counter()
    items = [speech_commands.Item(path, 2) for path in paths]
    data = pipeline.SplitData(items, CONFIG, tuple(
        tf.constant(x) for x in pipeline.load_background(noise_files, CONFIG)))
    rooms = augmentation.rooms_for(augment, 0, CONFIG.sample_rate, "soxr")
    batches = iter(data.train_dataset(batch_size, augment, seed=0, rooms=rooms))
    steps = len(paths) // batch_size
    for _ in range(steps):
        next(batches)
    first = steps * batch_size / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(steps * (epochs - 1)):
        next(batches)
    return first, steps * (epochs - 1) * batch_size / (time.perf_counter() - start)


def hello_edge_graph():
    """input_data.prepare_processing_graph, rebuilt with tf.compat.v1 placeholders."""
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        feeds = {
            "filename": v1.placeholder(tf.string, []),
            "volume": v1.placeholder(tf.float32, []),
            "padding": v1.placeholder(tf.int32, [2, 2]),
            "offset": v1.placeholder(tf.int32, [2]),
            "background": v1.placeholder(tf.float32, [CONFIG.desired_samples, 1]),
            "background_volume": v1.placeholder(tf.float32, []),
        }
        wav = tf.audio.decode_wav(tf.io.read_file(feeds["filename"]), desired_channels=1,
                                  desired_samples=CONFIG.desired_samples)
        scaled = wav.audio * feeds["volume"]
        shifted = tf.slice(tf.pad(scaled, feeds["padding"]), feeds["offset"],
                           [CONFIG.desired_samples, -1])
        mixed = tf.clip_by_value(shifted + feeds["background"] * feeds["background_volume"],
                                 -1.0, 1.0)
        output = features.mfcc(tf.transpose(mixed), CONFIG)
    return graph, feeds, output


def run_hello_edge_loop(paths, noise_files, num_clips):
    """(b): one session.run per clip, random draws in numpy, as Hello Edge's get_data."""
    graph, feeds, output = hello_edge_graph()
    noise = [tf.audio.decode_wav(tf.io.read_file(f)).audio.numpy() for f in noise_files]
    rng = np.random.default_rng(0)
    shift = int(AUGMENT.time_shift_ms * CONFIG.sample_rate / 1000)
    samples = CONFIG.desired_samples
    with tf.compat.v1.Session(graph=graph) as session:
        start = time.perf_counter()
        for path in paths[:num_clips]:
            amount = int(rng.integers(-shift, shift))
            padding = [[max(amount, 0), max(-amount, 0)], [0, 0]]
            background = noise[rng.integers(len(noise))]
            offset = rng.integers(0, len(background) - samples)
            volume = (rng.uniform(0, AUGMENT.background_volume)
                      if rng.uniform() < AUGMENT.background_frequency else 0.0)
            session.run(output, {
                feeds["filename"]: path, feeds["volume"]: 1.0, feeds["padding"]: padding,
                feeds["offset"]: [max(-amount, 0), 0],
                feeds["background"]: background[offset:offset + samples],
                feeds["background_volume"]: volume})
        return num_clips / (time.perf_counter() - start)


def run_kernels(audio, batch_size):
    """(c): AudioSpectrogram + Mfcc alone on decoded audio, one graph call per batch."""
    compute = tf.function(lambda batch: features.mfcc(batch, CONFIG))
    batches = [tf.constant(audio[i:i + batch_size])
               for i in range(0, len(audio) - batch_size + 1, batch_size)]
    compute(batches[0])  # trace once
    start = time.perf_counter()
    for batch in batches:
        compute(batch).numpy()
    return len(batches) * batch_size / (time.perf_counter() - start)


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/pipeline.py", description=__doc__.split("\n")[0])
    parser.add_argument("--num_clips", type=int, default=2000, help="Clips per run.")
    parser.add_argument("--loop_clips", type=int, default=1000,
                        help="Clips timed in the per-clip loop (b).")
    parser.add_argument("--batch_size", type=int, default=100, help="Batch size of (a) and (c).")
    parser.add_argument("--epochs", type=int, default=4, help="Epochs of (a) per run.")
    parser.add_argument("--runs", type=int, default=5, help="Runs; each figure is the median.")
    cli.add_json_out(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths, noise_files = make_clips(folder, args.num_clips)
        audio = np.stack([tf.audio.decode_wav(tf.io.read_file(p)).audio[:, 0].numpy()
                          for p in paths])
        runs = {"a_pipeline": [], "a_first_epoch": [], "b_hello_edge_loop": [],
                "c_mfcc_kernels": [], "a_snr": [], "a_reverb": []}
        for run in range(args.runs):
            first, steady = run_pipeline(paths, noise_files, args.batch_size, args.epochs)
            runs["a_pipeline"].append(steady)
            runs["a_first_epoch"].append(first)
            runs["b_hello_edge_loop"].append(
                run_hello_edge_loop(paths, noise_files, args.loop_clips))
            runs["c_mfcc_kernels"].append(run_kernels(audio, args.batch_size))
            for name, augment in (("a_snr", SNR_AUGMENT), ("a_reverb", REVERB_AUGMENT)):
                runs[name].append(run_pipeline(paths, noise_files, args.batch_size,
                                               args.epochs, augment)[1])
            print(f"run {run + 1}/{args.runs}: " + ", ".join(
                f"{k} {v[-1]:.0f}" for k, v in runs.items()), file=sys.stderr)
    median = {name: statistics.median(values) for name, values in runs.items()}
    ratios = {"a/b": median["a_pipeline"] / median["b_hello_edge_loop"],
              "a/c": median["a_pipeline"] / median["c_mfcc_kernels"],
              "a_first_epoch/b": median["a_first_epoch"] / median["b_hello_edge_loop"]}
    print(f"clips/s (median of {args.runs} runs, {args.num_clips} clips, "
          f"{os.cpu_count()} CPU cores, TF {tf.__version__}):")
    print("| path | clips/s |\n|---|---|")
    print(f"| (a) tf.data pipeline, wav files -> augmented batched features, epochs 2+ | "
          f"{median['a_pipeline']:.0f} |")
    print(f"| (a) the same, first epoch (decodes the wav files, starts the pipeline) | "
          f"{median['a_first_epoch']:.0f} |")
    print(f"| (b) Hello-Edge-style loop, one session.run per clip | "
          f"{median['b_hello_edge_loop']:.0f} |")
    print(f"| (c) MFCC kernels alone on decoded audio, batched | {median['c_mfcc_kernels']:.0f} |")
    print(f"| (a) with noise at an SNR (--background_snr_db) | {median['a_snr']:.0f} |")
    print(f"| (a) with half the clips reverberated (--reverb_probability 0.5) | "
          f"{median['a_reverb']:.0f} |")
    print(f"a/b = {ratios['a/b']:.2f} (target >= 4), a/c = {ratios['a/c']:.2f} (target >= 0.8), "
          f"first epoch / b = {ratios['a_first_epoch/b']:.2f}")
    cli.write_json(args.json_out, {"clips_per_second": median, "runs": runs, "ratios": ratios,
                                   "num_clips": args.num_clips, "batch_size": args.batch_size,
                                   "epochs": args.epochs,
                                   "cpu_count": os.cpu_count(), "tensorflow": tf.__version__})
    return 0


if __name__ == "__main__":
    sys.exit(main())
