"""Runs every benchmark in bench/ and writes docs/PERFORMANCE.md from their --json_out figures.

Each benchmark takes the median of --runs runs (at least 5); the report lists every figure
with the command that produced it, the machine it ran on, and its ratio to the target the
project sets for it. A benchmark that fails is reported as failed, with its last output lines.

    python bench/report.py [--runs 5] [--output docs/PERFORMANCE.md] [--json_out F]
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kws_tf import cli  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pipeline(figures):
    median, ratios = figures["clips_per_second"], figures["ratios"]
    rows = [("(a) tf.data pipeline, wav → augmented batched features, epochs 2+",
             f"{median['a_pipeline']:,.0f} clips/s", ""),
            ("(a) the same, first epoch (decodes the wavs)",
             f"{median['a_first_epoch']:,.0f} clips/s", ""),
            ("(b) Hello-Edge-style loop, one session.run per clip",
             f"{median['b_hello_edge_loop']:,.0f} clips/s", ""),
            ("(c) MFCC kernels alone, batched", f"{median['c_mfcc_kernels']:,.0f} clips/s", ""),
            ("pipeline vs per-clip loop, a/b", f"{ratios['a/b']:.2f}", _target(ratios['a/b'], 4)),
            ("pipeline vs kernels alone, a/c", f"{ratios['a/c']:.2f}",
             _target(ratios['a/c'], 0.8))]
    return rows


def _train(figures):
    rows = []
    for name, steps in figures["steps_per_second"].items():
        rows.append((f"{name}: training steps/s from wav files (1)",
                     f"{steps['from_wav']:.1f}", ""))
        rows.append((f"{name}: training steps/s on features in memory (2)",
                     f"{steps['from_memory']:.1f}", ""))
        ratio = figures["ratios"][name]
        rows.append((f"{name}: input-bound vs compute-bound, (1)/(2)", f"{ratio:.2f}",
                     _target(ratio, 0.8)))
        rows.append((f"{name}: pipeline alone vs step, (3)/(2)",
                     f"{figures['pipeline_headroom'][name]:.2f}",
                     _target(figures['pipeline_headroom'][name], 1.0)))
    rows.append(("(3) the training pipeline alone",
                 f"{figures['pipeline_alone_batches_per_second']:.1f} batches/s", ""))
    return rows


def _integer_graph(figures):
    return [(f"integer graph, {name}", f"{us:.1f} µs/clip", "")
            for name, us in figures["microseconds_per_clip"].items()]


def _search(figures):
    rows = []
    for path in figures["paths"]:
        rows.append((f"supernet weight step vs derived network step, {path['path']}: time",
                     f"{path['supernet_median_s']:.3f} s vs {path['derived_median_s']:.3f} s",
                     _target(path["time_ratio"], 2, higher_is_better=False)))
        rows.append(("the same: step memory", f"{path['supernet_step_mib']:.0f} MiB vs "
                     f"{path['derived_step_mib']:.0f} MiB",
                     _target(path["step_memory_ratio"], 2, higher_is_better=False)))
    for name, step in figures["arch_step"].items():
        rows.append((f"architecture step ({name})",
                     f"{step['median_s']:.3f} s, {step['step_mib']:.0f} MiB", ""))
    return rows


def _mcu(figures):
    rows = []
    for name, config in figures["configs"].items():
        model, front = config["footprint"]["model"], config["footprint"]["front end"]
        rows += [(f"{name}: MACs, instructions per inference (QEMU Cortex-M4)",
                  f"{config['macs_total']:,}, {config['instructions_inference']:,}", ""),
                 (f"{name}: model flash, RAM", f"{model['flash']:,} B, {model['ram']:,} B", ""),
                 (f"{name}: front end instructions per clip, flash, RAM",
                  f"{config['instructions_front_end']:,}, {front['flash']:,} B, "
                  f"{front['ram']:,} B", ""),
                 (f"{name}: device output = host output", str(config["device_matches_host"]),
                  "")]
    return rows


def _target(value, target, higher_is_better=True):
    met = value >= target if higher_is_better else value <= target
    sign = "≥" if higher_is_better else "≤"
    return f"{sign} {target:g}: {'met' if met else 'NOT met'} ({value / target:.2f}× target)"


# (script, its flags, the rows of its figures); --runs goes to all but bench/mcu.py, whose
# instruction counts are the same every run.
BENCHES = [
    ("bench/pipeline.py", [], _pipeline),
    ("bench/train.py", ["--steps", "100"], _train),
    ("bench/integer_graph.py", [], _integer_graph),
    ("bench/search.py", [], _search),
    ("bench/mcu.py", [], _mcu),
]
DETERMINISTIC = ("bench/mcu.py",)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            cpu = next(line.split(":", 1)[1].strip() for line in stream
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as stream:
            kib = int(next(line.split()[1] for line in stream if line.startswith("MemTotal")))
        memory = f", {kib / 2 ** 20:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} CPU cores{memory}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; load average "
            f"{load:.2f} when the report started (above 0 means other work shared the cores)")


def run_bench(script, extra, runs, folder):
    out = os.path.join(folder, os.path.basename(script).replace(".py", ".json"))
    runs_flag = [] if script in DETERMINISTIC else ["--runs", str(runs)]
    command = [sys.executable, script, *runs_flag, *extra, "--json_out", out]
    started = time.time()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.time() - started
    shown = "python " + " ".join(command[1:-2])
    if result.returncode != 0:
        return shown, seconds, None, (result.stdout + result.stderr)[-1500:]
    with open(out) as stream:
        return shown, seconds, json.load(stream), result.stdout


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/report.py", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="Runs per benchmark; each figure is their median (at least 5).")
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "PERFORMANCE.md"),
                        help="The report to write.")
    parser.add_argument("--only", default="",
                        help="Comma-separated benchmark scripts to run (default: all).")
    cli.add_json_out(parser)
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5 (figures are medians of at least 5 runs)")
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in [b[0] for b in BENCHES]]
    if unknown:
        parser.error(f"--only: unknown benchmark {unknown[0]} (have "
                     f"{', '.join(b[0] for b in BENCHES)})")
    with cli.user_errors():
        cli.check_writable(args.output)
        description = machine()
        sections, results = [], {}
        with tempfile.TemporaryDirectory() as folder:
            for script, extra, render in BENCHES:
                if wanted and script not in wanted:
                    continue
                print(f"running {script} ...", file=sys.stderr)
                command, seconds, figures, output = run_bench(script, extra, args.runs, folder)
                results[script] = {"command": command, "seconds": seconds, "figures": figures}
                lines = [f"## `{script}`", "", f"Command: `{command}` ({seconds:.0f} s)", ""]
                if figures is None:
                    lines += ["**Failed.** Last output:", "", "```", output.strip(), "```", ""]
                else:
                    lines += ["| figure | value | target |", "|---|---|---|"]
                    lines += [f"| {name} | {value} | {target} |"
                              for name, value, target in render(figures)]
                    lines.append("")
                sections.append("\n".join(lines))
        text = "\n".join([
            "# Performance report", "",
            f"Written by `make bench` (`python bench/report.py`) on "
            f"{datetime.date.today().isoformat()}.", "",
            f"Machine: {description}.", "",
            f"Every figure is the median of {args.runs} runs; each benchmark's docstring says "
            "what it times. Targets are the project's goals for each figure.", "", *sections])
        cli.atomic_write(args.output, lambda stream: stream.write(text.encode()))
        print(f"wrote {args.output}")
        cli.write_json(args.json_out, {"output": args.output, "machine": description,
                                       "runs": args.runs, "benchmarks": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
