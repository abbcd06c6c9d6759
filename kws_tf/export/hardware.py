"""Files for hardware designers: weight.h, example stage values, the C reference.

``quant_test.py --export_dir D`` writes (through `export`):

    D/weight.h            every stage's int8 weights (shape and axis order in comments),
                          the shifts, the input scale, biases in accumulator units, labels
    D/kws_int.[ch]        the C99 reference of the integer graph, reading weight.h
    D/kws_int_main.c      a command-line driver for it (stage values, timing)
    D/kws_mfcc.[ch]       the MFCC front end in C99 (float32, libm only)
    D/kws_features.[ch]   the model's feature settings, and the front end set up with them
    D/kws_wav.[ch], D/kws_app.c
                          the whole chain: wav files -> features -> integer graph -> labels
    D/Makefile, D/startup_cm4.c, D/cortex_m4.ld
                          `make host`, `make cortex-m4`, `make run-cortex-m4 WAVS=...` (QEMU)
    D/examples/N.txt      input N and every stage's accumulators and outputs
    D/analysis.txt        value ranges and bit widths per stage (kws_tf.quant.analysis)
"""
import os
import re
import shutil
import subprocess

import numpy as np

from kws_tf import cli
from kws_tf.errors import KwsError
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st

C_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c")
C_SOURCES = ("kws_int.c", "kws_int.h", "kws_int_main.c", "kws_mfcc.c", "kws_mfcc.h",
             "kws_features.c", "kws_wav.c", "kws_wav.h", "kws_app.c", "startup_cm4.c",
             "cortex_m4.ld", "Makefile")
KINDS = {st.CONV: "KWS_CONV", st.DEPTHWISE: "KWS_DEPTHWISE", st.MAX_POOL: "KWS_MAX_POOL",
         st.SUM_POOL: "KWS_SUM_POOL", st.FC: "KWS_FC"}
LAYOUTS = {st.CONV: "[out_channel][kernel_row (time)][kernel_column (frequency)][in_channel]",
           st.DEPTHWISE: "[kernel_row (time)][kernel_column (frequency)][channel]",
           st.FC: "[out][in]"}
EXAMPLE_ORDER = """\
# Every map is printed channel by channel; within a channel, one line per row (time step)
# with the columns (MFCC coefficient, or frequency position after a convolution) along the
# line. A 1x1 map (a vector) is one line, in channel order. 'acc': the accumulators, bias
# included, before ReLU and shift (for a sum pool: the sum); 'out': after ReLU and the floor
# shift, the next stage's input. The C driver (kws_int_main) prints the same values in the
# same order, one line per map."""


def c_name(name):
    return re.sub(r"\W", "_", name).upper()


def export_weights(stage):
    """A stage's weights in weight.h's axis order (LAYOUTS) as int8."""
    if stage.kind == st.CONV:
        weights = stage.weights.transpose(3, 0, 1, 2)  # [kt, kf, in, out] -> [out, kt, kf, in]
    elif stage.kind == st.FC:
        weights = stage.weights.T
    else:
        weights = stage.weights
    return np.ascontiguousarray(weights).astype(np.int8)


def weight_header(graph, labels, source):
    """The text of weight.h."""
    frames, coefficients = graph.input_shape
    low, high = -2 ** (graph.input_bits - 1), 2 ** (graph.input_bits - 1) - 1
    chain = " -> ".join(f"{s.name}" + (f" (ReLU, >> {s.shift})" if s.relu else "")
                        for s in graph.stages)
    maps = [frames * coefficients] + [int(np.prod(s.out_shape)) for s in graph.stages]
    lines = [
        "/*",
        f" * weight.h: the integer graph of {source}, written by kws_tf quant_test.py.",
        " * Read by kws_int.c; include it in that one file only.",
        " *",
        f" * Input: {frames} frames (rows) x {coefficients} MFCC coefficients, frames first;",
        f" * each value round(mfcc * 2**{graph.input_frac_bits}) (half to even), saturated to "
        f"{graph.input_bits} bits [{low}, {high}].",
        f" * Graph: input -> {chain} -> argmax.",
        " * '>> s' is floor(x / 2**s): an arithmetic right shift; nothing saturates.",
        " * Integer weights are round(float weights * 2**scale), saturated to "
        f"{graph.weight_bits} bits, the scale",
        " * per stage below; the graph has no additive term but the biases below, in",
        " * accumulator units.",
        " * Weight layouts (C order, the last index varies fastest):",
        *[f" *   {kind:<10} {layout}" for kind, layout in LAYOUTS.items()],
        " * Maps (activations) are HWC: [row (time)][column (frequency)][channel].",
        " */",
        "#ifndef KWS_WEIGHT_H",
        "#define KWS_WEIGHT_H",
        "",
        '#include "kws_int.h"',
        "",
        f"#define KWS_INPUT_H {frames}",
        f"#define KWS_INPUT_W {coefficients}",
        f"#define KWS_INPUT_BITS {graph.input_bits}",
        f"#define KWS_INPUT_FRAC_BITS {graph.input_frac_bits}"
        f" /* input = round(mfcc * 2**{graph.input_frac_bits}) */",
        f"#define KWS_WEIGHT_BITS {graph.weight_bits}",
        f"#define KWS_LABEL_COUNT {graph.label_count}",
        f"#define KWS_STAGE_COUNT {len(graph.stages)}",
        f"#define KWS_MAX_MAP {max(maps)} /* values in the largest map */",
        f"#define KWS_MAX_CHANNELS {max(s.out_shape[-1] for s in graph.stages)}",
        f"#define KWS_SHIFT_COUNT {len(graph.shifts)}",
        f"#define KWS_SHIFTS {{{', '.join(map(str, graph.shifts))}}}"
        f" /* {', '.join(s.name for s in graph.shifted)} */",
        "",
    ]
    for stage in graph.stages:
        lines += _stage_block(graph, stage)
    quoted = ", ".join('"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for label in labels)
    lines += [f"static const char *const KWS_LABELS[KWS_LABEL_COUNT] = {{{quoted}}};", "",
              "static const kws_stage_t kws_stages[KWS_STAGE_COUNT] = {",
              "    /* name, kind, in h w c, out h w c, kernel h w, stride h w, pad top left,",
              "       weights, bias, relu, shift */"]
    lines += [_stage_entry(stage) for stage in graph.stages]
    lines += ["};", "", "#endif /* KWS_WEIGHT_H */"]
    return "\n".join(lines) + "\n"


def _stage_block(graph, stage):
    name = c_name(stage.name)
    height, width, channels = stage.in_shape
    out_h, out_w, out_c = stage.out_shape
    what = f"{stage.kind}, {height}x{width}x{channels} -> {out_h}x{out_w}x{out_c}"
    if stage.kind in (st.CONV, st.DEPTHWISE):
        what += (f", kernel {stage.kernel[0]}x{stage.kernel[1]}, stride "
                 f"{stage.strides[0]}x{stage.strides[1]}, zero padding top/bottom/left/right "
                 f"{'/'.join(map(str, stage.pads))}")
    if stage.relu or stage.kind == st.SUM_POOL:
        lines = [f"/* {stage.name}: {what};",
                 f"   then {'ReLU and ' if stage.relu else ''}>> {stage.shift}. */",
                 f"#define KWS_{name}_SHIFT {stage.shift}"]
    else:
        lines = [f"/* {stage.name}: {what}. */"]
    if stage.weights is not None:
        weights = export_weights(stage)
        dims = "".join(f"[{d}]" for d in weights.shape)
        lines.append(f"/* weights x 2**{stage.weight_frac_bits}, {LAYOUTS[stage.kind]} = "
                     f"{dims} */")
        size = " * ".join(map(str, weights.shape))
        lines.append(f"static const int8_t KWS_{name}_WEIGHTS[{size}] = {{")
        lines += _rows(weights)
        lines.append("};")
    if stage.bias is not None:
        lines.append(f"/* bias in accumulator units: round(bias * 2**"
                     f"{graph.accumulator_exponent(stage)}) */")
        lines.append(f"static const int32_t KWS_{name}_BIAS[{len(stage.bias)}] = {{"
                     f"{', '.join(str(int(b)) for b in stage.bias)}}};")
    return lines + [""]


def _rows(weights):
    """One line per kernel row (per output for FC), led by its index."""
    per_line = weights.shape[-1] * (weights.shape[-2] if weights.ndim == 4 else 1)
    prefix_dims = weights.shape[:-2] if weights.ndim == 4 else weights.shape[:-1]
    flat = weights.reshape(-1, per_line)
    width = max(len(str(int(v))) for v in weights.flat) if weights.size else 1
    lines = []
    for index, row in zip(np.ndindex(*prefix_dims), flat):
        label = "".join(f"[{i}]" for i in index)
        lines.append(f"    /* {label} */ " + ", ".join(f"{int(v):>{width}}" for v in row) + ",")
    return lines


def _stage_entry(stage):
    name = c_name(stage.name)
    height, width, channels = stage.in_shape
    out_h, out_w, out_c = stage.out_shape
    weights = f"KWS_{name}_WEIGHTS" if stage.weights is not None else "0"
    bias = f"KWS_{name}_BIAS" if stage.bias is not None else "0"
    fields = [f'"{stage.name}"', KINDS[stage.kind], height, width, channels, out_h, out_w, out_c,
              *stage.kernel, *stage.strides, stage.pads[0], stage.pads[2], weights, bias,
              int(stage.relu), stage.shift]
    return "    {" + ", ".join(map(str, fields)) + "},"


def map_lines(values):
    """A map [h, w, c] as text lines in EXAMPLE_ORDER."""
    height, width, channels = values.shape
    if height == width == 1:
        return [" ".join(str(int(v)) for v in values.reshape(-1))]
    lines = []
    for channel in range(channels):
        lines.append(f"channel {channel}")
        lines += [" ".join(str(int(v)) for v in row) for row in values[:, :, channel]]
    return lines


def write_examples(graph, labels, inputs, titles, folder):
    """examples/N.txt for integer inputs [n, frames, coefficients]; returns the paths."""
    paths = []
    for number, (single, title) in enumerate(zip(inputs, titles)):
        values = ig.trace(graph, single[np.newaxis])
        lines = [f"# {title}", EXAMPLE_ORDER,
                 f"input {'x'.join(map(str, (*graph.input_shape, 1)))}: round(mfcc * 2**"
                 f"{graph.input_frac_bits}), saturated to {graph.input_bits} bits"]
        lines += map_lines(np.asarray(single)[..., np.newaxis])
        for stage, acc, out in values:
            shape = "x".join(map(str, stage.out_shape))
            if acc is not None:
                note = " (the logits)" if stage.kind == st.FC else ""
                lines.append(f"{stage.name} acc {shape}{note}")
                lines += map_lines(acc[0])
            if stage.kind != st.FC:
                then = (f" (ReLU, >> {stage.shift})" if stage.relu else
                        f" (>> {stage.shift})" if stage.kind == st.SUM_POOL else "")
                lines.append(f"{stage.name} out {shape}{then}")
                lines += map_lines(out[0])
        best = int(np.argmax(values[-1][2].reshape(-1)))
        lines.append(f"prediction {best} {labels[best]}")
        path = os.path.join(folder, "examples", f"{number}.txt")
        text = "\n".join(lines) + "\n"
        cli.atomic_write(path, lambda stream, text=text: stream.write(text.encode()))
        paths.append(path)
    return paths


def feature_header(feature_config, graph):
    """kws_features.h: the feature settings the model was trained with, for kws_features.c.

    The C front end rounds the MFCCs once, to the graph's input width and scale; features
    already rounded in training (--feature_bits) must have been rounded to the same."""
    config = feature_config
    if config.feature_type != "mfcc":
        raise KwsError(f"--export_dir: the model takes --feature_type {config.feature_type} "
                       "features, and the C front end (kws_mfcc.c) computes MFCCs only")
    if config.feature_bits and (config.feature_bits, config.feature_frac_bits) != (
            graph.input_bits, graph.input_frac_bits):
        raise KwsError(f"--export_dir: the model was trained on {config.feature_bits}-bit "
                       f"features x 2**{config.feature_frac_bits}, but the integer graph takes "
                       f"{graph.input_bits} bits x 2**{graph.input_frac_bits}: give "
                       "--input_bits and --input_frac_bits as trained")
    label_count = graph.label_count
    values = {"SAMPLE_RATE": config.sample_rate, "CLIP_SAMPLES": config.desired_samples,
              "WINDOW_SAMPLES": config.window_size_samples,
              "STRIDE_SAMPLES": config.window_stride_samples, "FRAMES": config.shape[0],
              "COEFFICIENTS": config.shape[1], "OUTPUTS": label_count}
    return "\n".join([
        "/*",
        " * kws_features.h: the model's front end, as it was trained (written by quant_test.py",
        " * --export_dir). kws_features_int8 turns one clip of 16-bit PCM into the integer",
        " * feature map the graph takes: MFCCs (kws_mfcc), round(mfcc * 2**input_frac_bits)",
        " * saturated to input_bits (kws_model's), as quant_test.py's integer graph does.",
        " */",
        "#ifndef KWS_FEATURES_H",
        "#define KWS_FEATURES_H",
        "",
        "#include <stdint.h>",
        "",
        '#include "kws_mfcc.h"',
        "",
        *(f"#define KWS_{name} {value}" for name, value in values.items()),
        "",
        "/* Sets the front end (its state is static) up: KWS_MFCC_OK (0), or kws_mfcc_init's",
        "   error. */",
        "int kws_features_init(void);",
        "/* pcm: KWS_CLIP_SAMPLES samples; map: KWS_FRAMES x KWS_COEFFICIENTS, frames as rows. */",
        "void kws_features_int8(const int16_t *pcm, int8_t *map);",
        "",
        "#endif /* KWS_FEATURES_H */",
        ""])


def export(folder, graph, labels, source, example_inputs, example_titles, analysis_text,
           feature_config):
    """Writes every file of the export; returns their paths."""
    paths = []
    for name, text in (("weight.h", weight_header(graph, labels, source)),
                       ("kws_features.h", feature_header(feature_config, graph)),
                       ("analysis.txt", analysis_text)):
        path = os.path.join(folder, name)
        cli.atomic_write(path, lambda stream, text=text: stream.write(text.encode()))
        paths.append(path)
    for name in C_SOURCES:
        code = c_source(name)
        path = os.path.join(folder, name)
        cli.atomic_write(path, lambda stream, code=code: stream.write(code))
        paths.append(path)
    return paths + write_examples(graph, labels, example_inputs, example_titles, folder)


def c_source(name):
    """The bytes of one of the C files shipped with kws_tf (`C_SOURCES`)."""
    with open(os.path.join(C_DIR, name), "rb") as stream:
        return stream.read()


def host_compiler():
    """$CC, else cc, gcc or clang from the PATH; None when there is none."""
    names = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    return next((shutil.which(name) for name in names if shutil.which(name)), None)


def compile_driver(folder, flags=()):
    """Builds the C driver (kws_int_main) of the export in `folder` with the host compiler
    at -O2, warnings as errors; returns the program's path."""
    compiler = host_compiler()
    if compiler is None:
        raise KwsError("no C compiler found (set CC)")
    program = os.path.join(folder, "kws_int")
    result = subprocess.run([compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic",
                             "-Werror", *flags, "kws_int.c", "kws_int_main.c", "-o", program],
                            cwd=folder, capture_output=True, text=True)
    if result.returncode:
        raise KwsError(f"{compiler} failed on {folder}: {result.stderr.strip()[:500]}")
    return program
