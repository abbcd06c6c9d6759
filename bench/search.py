"""Architecture search cost: is a supernet weight step about one network's step?

For three paths through nas-for-kws's supernet (every edge on 3x3_MBConv1, on 5x5_MBConv3,
on 7x7_MBConv6), times one weight step of the supernet with its logits pinned to that path
(kws_tf.nas.searcher: draw, forward, hand-written backward, PathSGD on the path) against one
training step of the derived single network (kws_tf.models.nas with tf_keras's SGD, Nesterov
momentum), on the same batch; then one architecture step (--grad_binary_mode full_v2 and
two) at uniform logits. Each figure is the median over --runs runs after a warm-up call
(tracing and graph optimisation excluded; the first-call seconds are reported separately).

Memory is TensorFlow's allocator peak during the timed calls (on CPU through the BFC
allocator, TF_CPU_ALLOCATOR_USE_BFC=true): "peak" counts everything allocated, weights and
optimiser state included; "step" is the peak minus what was held before the step, i.e. the
activations and temporaries of one step. Target: supernet / derived <= 2 in time and step
memory.

    python bench/search.py [--width_mult 1] [--n_mfcc 10] [--batch_size 100] [--runs 5]
                           [--json_out F]
"""
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")  # allocator statistics on CPU
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import kws_tf  # noqa: E402,F401  (environment before TensorFlow)
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from kws_tf.config import FeatureConfig
from kws_tf import cli  # noqa: E402
from kws_tf.nas import searcher as searcher_module  # noqa: E402
from kws_tf.nas import space, supernet  # noqa: E402

LABEL_COUNT = 12
PATHS = {"3x3_MBConv1": 0, "5x5_MBConv3": 8, "7x7_MBConv6": 17}
MIB = 2.0 ** 20


def _device():
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def _timed(call, device):
    """(seconds, peak MiB, step MiB) of one call."""
    held = tf.config.experimental.get_memory_info(device)["current"]
    tf.config.experimental.reset_memory_stats(device)
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return seconds, peak / MIB, (peak - held) / MIB


def measure(calls, runs):
    """Per call: (first-call seconds, then the medians of seconds, peak MiB, step MiB).

    The calls alternate run by run, so that a change of machine load hits them alike."""
    device = _device()
    firsts = [_timed(call, device)[0] for call in calls]
    samples = [[_timed(call, device) for call in calls] for _ in range(runs)]
    return [(first, *(statistics.median(run[i][k] for run in samples) for k in range(3)))
            for i, first in enumerate(firsts)]


def derived_step(model, label_smoothing):
    """One SGD step (Nesterov momentum, as the search) of a plain Keras model."""
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(features_batch, labels):
        with tf.GradientTape() as tape:
            logits = model(features_batch, training=True)
            loss = searcher_module.smoothed_cross_entropy(labels, logits, label_smoothing)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def _pin(net, path):
    for alpha in net.arch_parameters:
        alpha.assign(tf.one_hot(path, alpha.shape[0]) * 50.0)


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/search.py", description=__doc__.split("\n")[0])
    parser.add_argument("--width_mult", type=float, default=1.0)
    parser.add_argument("--n_mfcc", type=int, default=10)
    parser.add_argument("--n_cell_stages", type=int, default=12)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    cli.add_json_out(parser)
    args = parser.parse_args(argv)

    config = FeatureConfig(window_size_ms=40, window_stride_ms=20,
                                    dct_coefficient_count=args.n_mfcc)
    rng = np.random.default_rng(0)
    batch = (tf.constant(rng.normal(size=(args.batch_size, *config.shape)), tf.float32),
             tf.constant(rng.integers(0, LABEL_COUNT, args.batch_size), tf.int32))
    learning_rate = tf.constant(0.05)
    tf.keras.utils.set_random_seed(0)
    search_space = space.proxyless(LABEL_COUNT, width_mult=args.width_mult,
                                   n_cell_stages=(args.n_cell_stages,))
    started = time.perf_counter()
    net = supernet.SuperNet(search_space).build_for(config.shape)
    settings = searcher_module.SearchSettings(target_hardware="flops", flops_ref_value=20e6,
                                              grad_reg_loss_alpha=1.0, grad_reg_loss_beta=4.0)
    search = searcher_module.Searcher(net, config.shape, settings)
    build_seconds = time.perf_counter() - started
    print(f"device {_device()}; supernet {len(net.edges)} edges, "
          f"{sum(len(e.candidates) for e in net.edges)} candidates, built in "
          f"{build_seconds:.1f} s; input {config.shape}, batch {args.batch_size}, "
          f"median of {args.runs}", flush=True)

    rows = []
    for name, path in PATHS.items():
        _pin(net, path)
        paths = [path] * len(net.edges)
        model = net.export(paths, config.shape).model
        derived = derived_step(model, settings.label_smoothing)
        supernet_figures, derived_figures = measure(
            [lambda: search.weight_step(*batch, learning_rate), lambda: derived(*batch)],
            args.runs)
        figures = {"path": f"all {name}", "supernet": supernet_figures,
                   "derived": derived_figures}
        figures["time_ratio"] = figures["supernet"][1] / figures["derived"][1]
        figures["step_memory_ratio"] = figures["supernet"][3] / max(figures["derived"][3], 1e-9)
        rows.append(figures)
        print(f"  {name}: done", flush=True)
    for alpha in net.arch_parameters:
        alpha.assign(tf.zeros_like(alpha))
    modes = ("full_v2", "two")
    arch_steps = [searcher_module.Searcher(net, config.shape, searcher_module.SearchSettings(
        target_hardware="flops", flops_ref_value=20e6, grad_reg_loss_alpha=1.0,
        grad_reg_loss_beta=4.0, grad_binary_mode=mode)).arch_step for mode in modes]
    arch = dict(zip(modes, measure([lambda step=step: step(*batch, tf.constant(1e-3))
                                    for step in arch_steps], args.runs)))

    print("\n| step | first call s | median s | peak MiB | step MiB |\n|---|---|---|---|---|")
    for row in rows:
        for kind in ("supernet", "derived"):
            first, seconds, peak, step = row[kind]
            label = ("supernet weight step" if kind == "supernet" else "derived network step")
            print(f"| {label}, {row['path']} | {first:.1f} | {seconds:.3f} | {peak:.1f} | "
                  f"{step:.1f} |")
    for mode, (first, seconds, peak, step) in arch.items():
        print(f"| architecture step ({mode}), uniform logits | {first:.1f} | {seconds:.3f} | "
              f"{peak:.1f} | {step:.1f} |")
    print("\nsupernet / derived (target <= 2):")
    for row in rows:
        print(f"  {row['path']}: time {row['time_ratio']:.2f}, step memory "
              f"{row['step_memory_ratio']:.2f}")
    cli.write_json(args.json_out, {
        "device": _device(), "input_shape": list(config.shape), "batch_size": args.batch_size,
        "width_mult": args.width_mult, "runs": args.runs, "build_seconds": build_seconds,
        "paths": [{"path": row["path"], "time_ratio": row["time_ratio"],
                   "step_memory_ratio": row["step_memory_ratio"],
                   **{f"{kind}_{key}": value for kind in ("supernet", "derived")
                      for key, value in zip(("first_s", "median_s", "peak_mib", "step_mib"),
                                            row[kind])}}
                  for row in rows],
        "arch_step": {mode: dict(zip(("first_s", "median_s", "peak_mib", "step_mib"), values))
                      for mode, values in arch.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
