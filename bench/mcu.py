"""What the exported keyword spotter costs on a Cortex-M4: flash, RAM and instructions.

For the demo's 2 48 integer-flow model and for Hello Edge's DS_CNN_S configuration as a
ds_cnn_bf (both on 40 ms / 20 ms / 10 MFCC features, 12 labels; weights random but quantized
as quant_test.py does, which is all the costs depend on), this exports the C chain, builds its
Cortex-M4 image (`make cortex-m4`: arm-none-eabi-gcc -O2, hard float) and runs it under QEMU
(`make run-cortex-m4`, mps2-an386, -icount shift=0) on generated clips. It reports

* flash (.text + .rodata) and RAM (.data + .bss) of the model (kws_int.c with weight.h), of
  the front end (kws_mfcc.c, kws_features.c) and of the harness (wav reading, printing,
  newlib), from the linker map, plus the stack's high-water mark measured on the device;
* instructions per inference, per part (front end, each stage), from SysTick under QEMU's
  -icount (one tick = 40 instructions): QEMU counts instructions, it models no cycles;
* the multiply-accumulates of each stage, and instructions per MAC.

    python bench/mcu.py [--json_out F]
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kws_tf  # noqa: E402,F401  (environment before TensorFlow)
import tensorflow as tf  # noqa: E402

from kws_tf import cli, models  # noqa: E402
from kws_tf.config import FeatureConfig  # noqa: E402
from kws_tf.data.wav import write_wav  # noqa: E402
from kws_tf.export import hardware  # noqa: E402
from kws_tf.quant import extract  # noqa: E402
from kws_tf.quant import integer_graph as ig  # noqa: E402

FEATURES = FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10)
LABELS = ["_silence_", "_unknown_"] + "yes,no,up,down,left,right,on,off,stop,go".split(",")
CONFIGS = {
    "2 48 (make demo)": [2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1],
    "DS_CNN_S as ds_cnn_bf": [5, 64, 10, 4, 2, 2, 64, 3, 3, 1, 1, 64, 3, 3, 1, 1,
                              64, 3, 3, 1, 1, 64, 3, 3, 1, 1],
}
PARTS = {"model": ("kws_int",), "front end": ("kws_mfcc", "kws_features")}
INSTRUCTIONS_PER_TICK = 40  # SysTick at 25 MHz, -icount shift=0: 1 ns per instruction
TOOLS = ("make", "arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")


def clips(folder):
    """A tone, a chirp and noise, one second each, as 16-bit wavs."""
    rng = np.random.default_rng(0)
    t = np.arange(FEATURES.desired_samples) / FEATURES.sample_rate
    signals = {"tone": 0.3 * np.sin(2 * np.pi * 440 * t),
               "chirp": 0.3 * np.sin(2 * np.pi * (200 + 1800 * t) * t),
               "noise": rng.normal(0, 0.1, t.shape)}
    paths = []
    for name, signal in signals.items():
        path = os.path.join(folder, f"{name}.wav")
        write_wav(path, np.clip(signal, -1, 1).astype(np.float32), FEATURES.sample_rate)
        paths.append(path)
    return paths


def integer_graph(size_info):
    """The ds_cnn_bf of `size_info` with seeded random weights, quantized for 6-bit input."""
    tf.keras.utils.set_random_seed(0)
    model = models.build_model("ds_cnn_bf", size_info, FEATURES.shape, len(LABELS))
    stages = extract.float_stages(model, "ds_cnn_bf")
    rng = np.random.default_rng(0)
    maps = rng.normal(0, 4, (200, *FEATURES.shape)).astype(np.float32)
    maps[..., 0] = rng.normal(-25, 12, (200, FEATURES.shape[0]))
    frac_bits, _ = ig.choose_input_frac_bits(stages, maps)
    return ig.quantize(stages, frac_bits, calibration=maps)


def section_sizes(map_text):
    """{object file stem: Counter(text, rodata, data, bss)} from a GNU ld map file."""
    sizes = collections.defaultdict(collections.Counter)
    body = map_text.split("Linker script and memory map", 1)[-1]
    pending = None
    for line in body.splitlines():
        named = re.match(r"^ (\.[\w.$]+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?\s*$",
                         line)
        if named and named.group(2) is None:
            pending = named.group(1)
            continue
        if named:
            section, size, source = named.group(1), int(named.group(3), 16), named.group(4)
        else:
            rest = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)\s*$", line)
            if not (rest and pending):
                pending = None
                continue
            section, size, source = pending, int(rest.group(2), 16), rest.group(3)
        pending = None
        kind = next((k for k in ("text", "rodata", "data", "bss")
                     if section.startswith(f".{k}") or (k == "bss" and section == "COMMON")),
                    None)
        if kind and size:
            sizes[os.path.basename(source).split(".")[0]][kind] += size
    return sizes


def footprint(sizes):
    """Flash and RAM bytes of the model, the front end and the rest (the harness)."""
    parts = {}
    for part, stems in PARTS.items():
        total = sum((sizes[stem] for stem in stems), collections.Counter())
        parts[part] = {"flash": total["text"] + total["rodata"],
                       "ram": total["data"] + total["bss"]}
    every = sum(sizes.values(), collections.Counter())
    used = {"flash": every["text"] + every["rodata"], "ram": every["data"] + every["bss"]}
    parts["harness (wav, stdio, newlib)"] = {
        key: used[key] - sum(parts[p][key] for p in PARTS) for key in used}
    return parts


def run_on_device(folder, wavs, extra_cflags=""):
    """(stdout lines, {part: instructions} of the first clip, stack bytes) under QEMU."""
    flags = [f"EXTRA_CFLAGS={extra_cflags}"]
    subprocess.run(["make", "-s", "clean"], cwd=folder, check=True, capture_output=True)
    subprocess.run(["make", "-s", "cortex-m4", *flags], cwd=folder, check=True,
                   capture_output=True)
    run = subprocess.run(["make", "-s", "run-cortex-m4", f"WAVS={' '.join(wavs)}", *flags],
                         cwd=folder, check=True, capture_output=True, text=True, timeout=600)
    profile = next(line.split() for line in run.stderr.splitlines()
                   if line.startswith("profile "))
    instructions = {name: int(ticks) * INSTRUCTIONS_PER_TICK
                    for name, ticks in zip(profile[2::2], profile[3::2])}
    stack = int(re.search(r"stack (\d+) bytes", run.stderr).group(1))
    return run.stdout.splitlines(), instructions, stack


def measure(name, size_info, wavs):
    graph = integer_graph(size_info)
    with tempfile.TemporaryDirectory() as folder:
        hardware.export(folder, graph, LABELS, f"bench/mcu.py: {name}, random weights", [], [],
                        "", FEATURES)
        lines, plain, _ = run_on_device(folder, wavs, "-DKWS_MFCC_PRECISE=0")
        with open(os.path.join(folder, "kws_cm4.map")) as stream:
            plain_front_end = footprint(section_sizes(stream.read()))["front end"]
        lines, instructions, stack = run_on_device(folder, wavs)
        subprocess.run(["make", "-s", "host"], cwd=folder, check=True, capture_output=True)
        host = subprocess.run([os.path.join(folder, "kws_host"), *wavs], capture_output=True,
                              text=True, check=True).stdout.splitlines()
        with open(os.path.join(folder, "kws_cm4.map")) as stream:
            parts = footprint(section_sizes(stream.read()))
    macs = {stage.name: stage.multiplies for stage in graph.stages if stage.multiplies}
    inference = sum(v for k, v in instructions.items() if k != "mfcc")
    return {"model_size_info": size_info, "macs": macs, "macs_total": sum(macs.values()),
            "instructions": instructions, "instructions_inference": inference,
            "instructions_front_end": instructions["mfcc"],
            "front_end_plain_float": {"instructions": plain["mfcc"], **plain_front_end},
            "instructions_per_mac": inference / sum(macs.values()),
            "footprint": parts, "stack_bytes": stack, "device_matches_host": lines == host}


def report(name, figures):
    print(f"\n{name}: --model_size_info {' '.join(map(str, figures['model_size_info']))}")
    print(f"{'part':<30} {'flash B':>9} {'RAM B':>9}")
    for part, sizes in figures["footprint"].items():
        print(f"{part:<30} {sizes['flash']:>9,} {sizes['ram']:>9,}")
    print(f"stack high-water mark below main: {figures['stack_bytes']:,} B")
    print(f"{'stage':<30} {'MACs':>9} {'instructions':>13}")
    plain = figures["front_end_plain_float"]
    print(f"{'front end (MFCC)':<30} {'':>9} {figures['instructions_front_end']:>13,}")
    print(f"{'  the same, plain float FFT':<30} {'':>9} {plain['instructions']:>13,}  "
          f"(-DKWS_MFCC_PRECISE=0: {plain['flash']:,} B flash, {plain['ram']:,} B RAM)")
    for stage, count in figures["instructions"].items():
        if stage != "mfcc":
            print(f"{stage:<30} {figures['macs'].get(stage, 0):>9,} {count:>13,}")
    print(f"{'inference (all stages)':<30} {figures['macs_total']:>9,} "
          f"{figures['instructions_inference']:>13,}  "
          f"({figures['instructions_per_mac']:.1f} instructions per MAC)")
    print(f"device output = host output: {figures['device_matches_host']}")


def main(argv=None):
    parser = cli.ArgumentParser(prog="bench/mcu.py", description=__doc__.split("\n")[0])
    cli.add_json_out(parser)
    args = parser.parse_args(argv)
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        print(f"error: bench/mcu.py needs {', '.join(missing)} (apt-get install "
              "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        wavs = clips(folder)
        results = {name: measure(name, size_info, wavs) for name, size_info in CONFIGS.items()}
    for name, figures in results.items():
        report(name, figures)
    cli.write_json(args.json_out, {"configs": results, "features": FEATURES.to_dict(),
                                   "instructions_per_tick": INSTRUCTIONS_PER_TICK})
    return 0


if __name__ == "__main__":
    sys.exit(main())
