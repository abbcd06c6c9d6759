"""Inference time per clip of the integer graph: numpy, TensorFlow int32 ops, C.

The integer graph of ds_cnn_bf `2 48 4 4 2 2 16 3 3 1 1` (12 labels, 49x10 MFCC input; random
weights, since time does not depend on them; input scale and shifts chosen as quant_test.py
does) runs on --num_clips MFCC-like inputs:
  numpy            kws_tf.quant.integer_graph.run, int64, all clips in one call (batches of 512)
  TF int32         kws_tf.quant.tf_integer.build, one tf.function call on all clips
  C                the exported kws_int.c (-O2, host compiler), one clip per call, in-process
                   (kws_int_main -t), as a microcontroller would run it
and, for scale, the float Keras model on the same clips (one predict_on_batch call).
All integer implementations are first checked to give the same logits. Each figure is the
median over --runs runs.

    python bench/integer_graph.py [--num_clips 1000] [--runs 5] [--json_out F]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kws_tf  # noqa: E402,F401  (environment before TensorFlow)
import tensorflow as tf  # noqa: E402

from kws_tf import cli, models  # noqa: E402
from kws_tf.config import FeatureConfig  # noqa: E402
from kws_tf.export import hardware  # noqa: E402
from kws_tf.quant import extract, tf_integer  # noqa: E402
from kws_tf.quant import integer_graph as ig  # noqa: E402

SIZE_INFO = [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1]
INPUT_SHAPE = (49, 10)
LABELS = [f"label{n}" for n in range(12)]


def mfcc_like(count, seed=0):
    """A large negative first coefficient, small others, as real MFCC maps have."""
    rng = np.random.default_rng(seed)
    maps = rng.normal(0, 4, (count, *INPUT_SHAPE))
    maps[..., 0] = rng.normal(-25, 12, (count, INPUT_SHAPE[0]))
    return maps.astype(np.float32)


def timed(function, runs):
    """Seconds of each of `runs` calls, after one untimed call (tracing, caches)."""
    function()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def c_microseconds(program, inputs, repeat):
    text = "\n".join(" ".join(map(str, x.reshape(-1))) for x in inputs)
    out = subprocess.run([program, "-t", str(repeat)], input=text, capture_output=True,
                         text=True, check=True).stdout
    return float(out.split()[0])


def c_logits(program, inputs):
    text = "\n".join(" ".join(map(str, x.reshape(-1))) for x in inputs)
    out = subprocess.run([program], input=text, capture_output=True, text=True,
                         check=True).stdout
    return np.array([[int(v) for v in line.split()[2:]] for line in out.splitlines()
                     if line.startswith("fc1 acc")])


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/integer_graph.py",
                                description=__doc__.split("\n")[0])
    parser.add_argument("--num_clips", type=int, default=1000, help="Inputs per run.")
    parser.add_argument("--runs", type=int, default=5, help="Runs; each figure is the median.")
    parser.add_argument("--c_repeat", type=int, default=3,
                        help="How many times C runs every input within one run.")
    cli.add_json_out(parser)
    args = parser.parse_args(argv)
    for name in ("num_clips", "runs", "c_repeat"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    with cli.user_errors():
        figures = bench(args)
        cli.write_json(args.json_out, figures)
    return 0


def bench(args):
    tf.keras.utils.set_random_seed(0)
    model = models.build_model("ds_cnn_bf", SIZE_INFO, INPUT_SHAPE, len(LABELS))
    stages = extract.float_stages(model, "ds_cnn_bf")
    maps = mfcc_like(args.num_clips)
    frac_bits, _ = ig.choose_input_frac_bits(stages, maps[:500])
    graph = ig.quantize(stages, frac_bits, calibration=maps[:500])
    inputs = ig.quantize_input(maps, graph)
    tf_run = tf_integer.build(graph)
    tf_inputs = tf.constant(inputs, tf.int32)

    with tempfile.TemporaryDirectory() as folder:
        hardware.export(folder, graph, LABELS, "bench/integer_graph.py (random weights)",
                        inputs[:0], [], "", FeatureConfig())
        checker = hardware.compile_driver(folder)
        expected = ig.run(graph, inputs)
        checked = min(len(inputs), 200)
        if not (np.array_equal(c_logits(checker, inputs[:checked]), expected[:checked])
                and np.array_equal(tf_run(tf_inputs)[-1][0].numpy().reshape(len(inputs), -1),
                                   expected)):
            raise SystemExit("error: the implementations disagree; not timing them")
        seconds = {
            "numpy int64": timed(lambda: ig.run(graph, inputs), args.runs),
            "TF int32 ops": timed(lambda: [v[0].numpy() for v in tf_run(tf_inputs)[-1:]],
                                  args.runs),
            "Keras float32 (reference)": timed(lambda: model.predict_on_batch(maps), args.runs),
        }
        per_clip = {name: [s / len(inputs) * 1e6 for s in values]
                    for name, values in seconds.items()}
        per_clip["C (one clip per call)"] = [c_microseconds(checker, inputs, args.c_repeat)
                                             for _ in range(args.runs)]
    median = {name: statistics.median(values) for name, values in per_clip.items()}
    multiplies = sum(stage.multiplies for stage in graph.stages)
    print(f"integer graph of ds_cnn_bf {' '.join(map(str, SIZE_INFO))}, {len(LABELS)} labels, "
          f"{INPUT_SHAPE[0]}x{INPUT_SHAPE[1]} input, {multiplies:,} multiplies per clip; "
          f"shifts {' '.join(map(str, graph.shifts))}; median of {args.runs} runs over "
          f"{args.num_clips} clips, {os.cpu_count()} CPU cores, TF {tf.__version__}")
    print("| implementation | microseconds per clip | clips/s |\n|---|---|---|")
    for name, value in median.items():
        print(f"| {name} | {value:.1f} | {1e6 / value:,.0f} |")
    return {"microseconds_per_clip": median, "runs": per_clip, "num_clips": args.num_clips,
            "multiplies_per_clip": multiplies, "shifts": graph.shifts,
            "model_size_info": SIZE_INFO, "label_count": len(LABELS),
            "input_shape": list(INPUT_SHAPE), "cpu_count": os.cpu_count(),
            "compiler": hardware.host_compiler(), "tensorflow": tf.__version__}


if __name__ == "__main__":
    sys.exit(main())
