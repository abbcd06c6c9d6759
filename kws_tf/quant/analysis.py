"""Value ranges at every stage of the integer graph, to size hardware (analysis.txt).

Per stage, over many inputs: the stage's inputs, its weights, the products (what the
multiplier must hold), the accumulators (what the adder must hold, bias included) and a bound
on every partial sum whatever the order of additions (the largest sum of |products| plus
|bias|), then the outputs after ReLU and shift. From these, the bits each needs. Per shift:
the smallest shift that keeps the outputs within a given width, and the accuracy with the
shift moved, so a designer sees where a larger shift (narrower datapath) costs nothing.
"""
import dataclasses

import numpy as np

from kws_tf.errors import KwsError
from kws_tf.quant import integer_graph as ig
from kws_tf.quant import stages as st

SHIFT_DELTAS = (-2, -1, 0, 1, 2, 3)


def signed_bits(low, high):
    """Two's complement width that holds every integer in [low, high]."""
    bits = 1
    while low < -2 ** (bits - 1) or high > 2 ** (bits - 1) - 1:
        bits += 1
    return bits


def unsigned_bits(high):
    return max(int(high), 0).bit_length() or 1


@dataclasses.dataclass
class Range:
    low: int = None
    high: int = None

    def add(self, low, high):
        self.low = int(low) if self.low is None else min(self.low, int(low))
        self.high = int(high) if self.high is None else max(self.high, int(high))

    def add_values(self, values):
        if values.size:
            self.add(values.min(), values.max())

    @property
    def bits(self):
        return signed_bits(self.low, self.high)


@dataclasses.dataclass
class StageRanges:
    inputs: Range = dataclasses.field(default_factory=Range)
    weights: Range = dataclasses.field(default_factory=Range)
    products: Range = dataclasses.field(default_factory=Range)
    accumulators: Range = dataclasses.field(default_factory=Range)
    any_order: int = 0  # the largest sum of |products| (+ |bias|) of one output
    outputs: Range = dataclasses.field(default_factory=Range)


def collect(graph, inputs, batch_size=256):
    """{stage name: StageRanges} over integer inputs [batch, frames, coefficients]."""
    ranges = {stage.name: StageRanges() for stage in graph.stages}
    for stage in graph.stages:
        if stage.weights is not None:
            ranges[stage.name].weights.add_values(stage.weights)
    for start in range(0, len(inputs), batch_size):
        x = np.asarray(inputs[start:start + batch_size], np.int64)[..., np.newaxis]
        for stage in graph.stages:
            found = ranges[stage.name]
            found.inputs.add_values(x)
            if stage.kind in st.LINEAR:
                found.products.add(*_product_range(stage, x))
                bound = st.accumulate(dataclasses.replace(stage, weights=np.abs(stage.weights),
                                                          bias=None), np.abs(x))
                if stage.bias is not None:
                    bound = bound + np.abs(stage.bias)
                found.any_order = max(found.any_order, int(bound.max(initial=0)))
            acc, x = ig.apply_stage(stage, x)
            if acc is not None:
                found.accumulators.add_values(acc)
            found.outputs.add_values(x)
    return ranges


def _product_range(stage, x):
    """(lowest, highest) input x weight product of a linear stage on x: a product's
    extremes lie at the extreme weights each input value meets."""
    if stage.kind == st.FC:
        pairs = [(x.reshape(len(x), -1), stage.weights)]  # weights [in, out]
    else:
        pairs = [(window, stage.weights[row, column].reshape(window.shape[-1], -1))
                 for row, column, window in st.taps(stage, x)]
    low, high = [], []
    for inputs, weights in pairs:
        for extreme in (weights.max(axis=-1), weights.min(axis=-1)):
            products = inputs * extreme
            low.append(products.min())
            high.append(products.max())
    return min(low), max(high)


def shift_sweep(float_stages, graph, inputs, labels):
    """{stage name: {delta: accuracy or None (accumulator overflow)}}, each shift moved
    alone by SHIFT_DELTAS, the others as in `graph`."""
    sweep = {}
    for index, stage in enumerate(graph.shifted):
        sweep[stage.name] = {}
        for delta in SHIFT_DELTAS:
            shifts = list(graph.shifts)
            shifts[index] += delta
            if shifts[index] < 0:
                continue
            try:
                moved = ig.quantize(float_stages, graph.input_frac_bits, graph.input_bits,
                                    graph.weight_bits, shifts=shifts,
                                    weight_frac_bits=graph.weight_frac_bits)
                accuracy = float(np.mean(np.argmax(ig.run(moved, inputs), -1) == labels))
            except KwsError:
                accuracy = None
            sweep[stage.name][delta] = accuracy
    return sweep


def report(graph, ranges, sweep, activation_bits, source):
    """The text of analysis.txt."""
    lines = [
        f"# Value ranges of the integer graph over {source}.",
        "# bits: the two's complement width holding every value seen (sign included); after",
        "# ReLU values are >= 0 and also get their unsigned width. products: one input times",
        "# one weight (multiplier width). accumulators: the finished sums, bias included (adder",
        "# width); 'any order' bounds every partial sum, whatever the order of additions:",
        "# the largest sum of |products| (+ |bias|) of one output.",
        "",
    ]
    for stage in graph.stages:
        lines += _stage_lines(stage, ranges[stage.name]) + [""]
    lines += _shift_lines(graph, ranges, sweep, activation_bits)
    return "\n".join(lines) + "\n"


def _stage_lines(stage, found):
    height, width, channels = stage.in_shape
    out_h, out_w, out_c = stage.out_shape
    title = (f"{stage.name} ({stage.kind}, {height}x{width}x{channels} -> "
             f"{out_h}x{out_w}x{out_c}")
    title += f", {stage.multiplies:,} multiplies per input)" if stage.multiplies else ")"
    lines = [title, _row("inputs", found.inputs)]
    if stage.kind in st.LINEAR:
        lines.append(_row("weights", found.weights))
        lines.append(_row("products", found.products, "multiplier"))
        any_order = signed_bits(-found.any_order, found.any_order)
        lines.append(_row("accumulators", found.accumulators,
                          f"adder; any order: |sum| <= {found.any_order}, {any_order} bits"))
    elif stage.kind == st.SUM_POOL:
        lines.append(_row("accumulators", found.accumulators, "the sum"))
    then = {True: f"after ReLU, >> {stage.shift}", False: ""}[stage.relu]
    if stage.kind == st.SUM_POOL:
        then = f"after >> {stage.shift}"
    lines.append(_row("outputs", found.outputs, then))
    return lines


def _row(name, found, note=""):
    text = f"  {name:<13} min {found.low:>11}  max {found.high:>11}  {found.bits:>2} bits"
    if found.low >= 0:
        text += f" ({unsigned_bits(found.high)} unsigned)"
    return f"{text}  {note}".rstrip() if note else text


def _shift_lines(graph, ranges, sweep, activation_bits):
    deltas = "  ".join(f"{d:+d}".rjust(6) for d in SHIFT_DELTAS)
    lines = [f"Shifts. 'fits': the smallest shift whose outputs fit {activation_bits} bits "
             "unsigned, the",
             "earlier shifts as given (any larger shift fits too). Then the accuracy on these "
             "inputs with",
             "that one shift moved (others as given; '-': below 0; 'ovf': a 32-bit "
             "accumulator overflows).",
             f"{'stage':<16} {'shift':>5} {'fits':>5}  {deltas}"]
    for stage in graph.shifted:
        largest = ranges[stage.name].accumulators.high
        fits = ig.fitting_shift(max(largest, 0), activation_bits)
        cells = []
        for delta in SHIFT_DELTAS:
            if delta not in sweep.get(stage.name, {}):
                cells.append("-".rjust(6))
            elif sweep[stage.name][delta] is None:
                cells.append("ovf".rjust(6))
            else:
                cells.append(f"{sweep[stage.name][delta] * 100:6.2f}")
        lines.append(f"{stage.name:<16} {stage.shift:>5} {fits:>5}  {'  '.join(cells)}")
    return lines
