"""The bias-free floor-shift integer graph (docs/integer_graph.md), in numpy integers.

    input -> conv -> ReLU, >> s1 -> depthwise -> ReLU, >> s2 -> global max pool
          -> pointwise -> ReLU, >> s3 -> fc (+ bias) -> argmax

* The input is the MFCC map times 2**input_frac_bits, rounded half to even and saturated to
  `input_bits` (kws_tf.features.quantize, what ``python -m kws_tf.features --quantize_bits``
  prints); the exponent is given or chosen on calibration data (choose_input_frac_bits).
* Each layer's weights are scaled by their own power of two (the largest that keeps them
  within `weight_bits`, or twice that where calibration data says so:
  choose_weight_frac_bits), rounded and saturated. Without additive terms the network is
  positively homogeneous, so these scales change no argmax; only the FC bias must follow
  them: it is stored in accumulator units, round(bias * 2**E), E the sum of every exponent
  before it (input, weights) minus every shift.
* After each convolution's ReLU comes a floor shift (arithmetic right shift): given, or the
  smallest that keeps the calibration data's outputs (never negative after ReLU) within
  `activation_bits` unsigned bits. Nothing saturates after a convolution: the analysis
  reports the widths values need.

Every value is an int64 numpy integer and accumulators are checked to fit the 32 bits of the
C reference. A ds_cnn with --fold_biases adds a bias in accumulator units to every layer, and
its average pool becomes a sum shifted right by ceil(log2(count)), the rest of 1/count being
folded into the FC weights before they are rounded.
"""
import collections
import dataclasses
import math

import numpy as np

from kws_tf import features
from kws_tf.errors import KwsError
from kws_tf.quant import stages as st

INT32_MAX = 2 ** 31 - 1
INPUT_FRAC_CANDIDATES = 5  # exponents tried: the one that fits the largest |input|, then finer


@dataclasses.dataclass(frozen=True)
class IntegerGraph:
    stages: tuple  # integer Stages (int64 weights and biases, shifts set)
    input_bits: int
    input_frac_bits: int
    weight_bits: int

    @property
    def shifted(self):
        """The stages followed by a floor shift (each convolution), in order."""
        return [stage for stage in self.stages if stage.relu]

    @property
    def shifts(self):
        return [stage.shift for stage in self.shifted]

    @property
    def weight_frac_bits(self):
        """{stage name: weight exponent}, to quantize the same float stages again alike."""
        return {stage.name: stage.weight_frac_bits for stage in self.stages
                if stage.kind in st.LINEAR}

    @property
    def input_shape(self):
        return self.stages[0].in_shape[:2]

    @property
    def label_count(self):
        return self.stages[-1].out_shape[-1]

    def accumulator_exponent(self, stage):
        """E of a linear stage: its accumulators are about the float model's sums x 2**E,
        and its integer bias is round(float bias * 2**E)."""
        exponent = self.input_frac_bits
        for each in self.stages:
            if each.kind in st.LINEAR:
                exponent += each.weight_frac_bits
            if each is stage:
                return exponent
            exponent -= each.shift if each.kind != st.SUM_POOL else 0
        raise ValueError(f"{stage.name} is not a stage of this graph")


def quantize_input(feature_maps, graph):
    """Float MFCC maps [batch, frames, coefficients] -> the graph's int64 input."""
    return features.quantize(feature_maps, graph.input_bits,
                             graph.input_frac_bits).astype(np.int64)


def shift_names(stages):
    return [stage.name for stage in stages if stage.relu]


def quantize(stages, input_frac_bits, input_bits=6, weight_bits=6, shifts=None,
             calibration=None, activation_bits=8, weight_frac_bits=None):
    """The IntegerGraph of float `stages`.

    shifts: one per convolution (``shift_names``), or None to choose each from
    `calibration` (float feature maps): the smallest shift that keeps the largest output
    within `activation_bits` unsigned bits, given the shifts chosen before it.
    weight_frac_bits: {stage name: exponent} for stages whose weights should not get the
    largest exponent that fits them all (a larger one saturates the largest weights).
    """
    return _quantize(stages, input_frac_bits, input_bits, weight_bits, shifts, calibration,
                     activation_bits, weight_frac_bits)[0]


def _quantize(stages, input_frac_bits, input_bits, weight_bits, shifts, calibration,
              activation_bits, weight_frac_bits=None):
    """(IntegerGraph, logits of `calibration` when the shifts were chosen on it, else None)."""
    check_bits(input_bits=input_bits, weight_bits=weight_bits, activation_bits=activation_bits)
    if shifts is not None:
        given = iter(check_shifts(stages, shifts))
    elif calibration is None or not len(calibration):
        raise ValueError("choosing shifts needs calibration inputs")
    graph = IntegerGraph((), input_bits, input_frac_bits, weight_bits)
    x = quantize_input(calibration, graph)[..., np.newaxis] if shifts is None else None
    exponent, factor, result = input_frac_bits, 1.0, []
    for stage in stages:
        acc = None
        if stage.kind == st.AVG_POOL:
            shift, factor = _sum_pool(stage)
            stage = dataclasses.replace(stage, kind=st.SUM_POOL, shift=shift)
        elif stage.kind in st.LINEAR:
            stage = _quantize_weights(stage, exponent, weight_bits, factor,
                                      (weight_frac_bits or {}).get(stage.name))
            exponent += stage.weight_frac_bits
            factor = 1.0
            if stage.relu:
                if shifts is not None:
                    shift = next(given)
                else:
                    acc = st.accumulate(stage, x)
                    shift = fitting_shift(int(acc.max(initial=0)), activation_bits)
                stage = dataclasses.replace(stage, shift=shift)
                exponent -= shift
        if x is not None:
            if acc is None:
                acc, x = apply_stage(stage, x)
            else:
                x = st.floor_shift(np.maximum(acc, 0), stage.shift)
            _check_accumulators(stage, acc)
        result.append(stage)
    logits = x.reshape(len(x), -1) if x is not None else None
    return dataclasses.replace(graph, stages=tuple(result)), logits


def _sum_pool(average_pool):
    """(shift, factor): the integer graph sums the pool's inputs and shifts the sum right by
    ceil(log2(count)); the rest of 1/count, 2**shift / count, goes into the next weights."""
    count = average_pool.in_shape[0] * average_pool.in_shape[1]
    shift = math.ceil(math.log2(count))
    return shift, 2.0 ** shift / count


def check_bits(**bits):
    """KwsError naming the flag for a width outside 2..16 (int8/int16 storage in C)."""
    for name, value in bits.items():
        if not 2 <= value <= 16:
            raise KwsError(f"--{name} must be between 2 and 16, got {value}")


def check_shifts(stages, shifts):
    """The shifts as a list, one per convolution of `stages`; KwsError naming --shifts."""
    names, shifts = shift_names(stages), list(shifts)
    if len(shifts) != len(names):
        raise KwsError(f"--shifts: expected {len(names)} values, one per convolution "
                       f"({' '.join(names)}), got {len(shifts)}")
    if any(not 0 <= shift <= 31 for shift in shifts):
        raise KwsError(f"--shifts must be between 0 and 31, got {' '.join(map(str, shifts))}")
    return shifts


def fitting_shift(largest, bits):
    """The smallest shift s >= 0 with largest >> s <= 2**bits - 1: outputs after ReLU are
    never negative, so `bits` unsigned bits hold them (0..255 for 8, a uint8)."""
    shift = 0
    while (largest >> shift) > 2 ** bits - 1:
        shift += 1
    return shift


def fitting_weight_frac_bits(stage, weight_bits, factor=1.0):
    """The largest exponent that keeps every weight of `stage` (times `factor`) in range."""
    return features.choose_frac_bits(float(np.abs(stage.weights * factor).max()), weight_bits)


def _quantize_weights(stage, exponent, weight_bits, factor, frac_bits=None):
    weights = stage.weights * factor
    if frac_bits is None:
        frac_bits = fitting_weight_frac_bits(stage, weight_bits, factor)
    low, high = -2 ** (weight_bits - 1), 2 ** (weight_bits - 1) - 1
    integer_weights = np.clip(np.round(weights * 2.0 ** frac_bits), low, high).astype(np.int64)
    bias = None
    if stage.bias is not None:
        bias = np.round(stage.bias * 2.0 ** (exponent + frac_bits))
        if np.abs(bias).max(initial=0) > INT32_MAX:
            raise KwsError(f"{stage.name}: its bias in accumulator units exceeds 32 bits "
                           "(use larger shifts or a smaller --input_frac_bits)")
        bias = bias.astype(np.int64)
    return dataclasses.replace(stage, weights=integer_weights, bias=bias,
                               weight_frac_bits=frac_bits)


def apply_stage(stage, x):
    """(accumulators, output) of one integer stage on x [batch, h, w, c].

    Accumulators are the sums before ReLU and shift (bias included; for a sum pool, the
    sum); None for a max pool.
    """
    if stage.kind == st.MAX_POOL:
        return None, st.pool(stage, x)
    if stage.kind == st.SUM_POOL:
        acc = x.sum(axis=(1, 2), keepdims=True)
        return acc, st.floor_shift(acc, stage.shift)
    acc = st.accumulate(stage, x)
    return acc, (st.floor_shift(np.maximum(acc, 0), stage.shift) if stage.relu else acc)


def _values(graph, inputs):
    """Yields (stage, accumulators, output) through the graph; accumulators are checked."""
    x = np.asarray(inputs, np.int64)[..., np.newaxis]
    for stage in graph.stages:
        acc, x = apply_stage(stage, x)
        _check_accumulators(stage, acc)
        yield stage, acc, x


def trace(graph, inputs):
    """Every stage's values on integer inputs [batch, frames, coefficients]:
    a list of (stage, accumulators or None, output), maps [batch, h, w, c]."""
    return list(_values(graph, inputs))


def run(graph, inputs, batch_size=512):
    """Logits [batch, labels] (int64) of integer inputs [batch, frames, coefficients]."""
    logits = [collections.deque(_values(graph, inputs[start:start + batch_size]), maxlen=1)[0][2]
              for start in range(0, len(inputs), batch_size)]
    return np.concatenate([np.zeros((0, graph.label_count), np.int64)]
                          + [out.reshape(len(out), -1) for out in logits])


def _check_accumulators(stage, acc):
    if acc is not None and acc.size and np.abs(acc).max() > INT32_MAX:
        raise KwsError(f"{stage.name}: accumulators reach {int(np.abs(acc).max())}, beyond the "
                       "32-bit accumulators of the C reference (use larger shifts before it)")


def predict(graph, feature_maps):
    """Predicted labels of float MFCC maps through the integer graph."""
    return np.argmax(run(graph, quantize_input(feature_maps, graph)), axis=-1)


def _agreement(stages, calibration, reference, frac_bits, input_bits, weight_bits,
               activation_bits, shifts, weight_frac_bits=None):
    """How often the integer graph predicts `reference` on `calibration`; None when its
    accumulators would exceed 32 bits."""
    try:
        graph, logits = _quantize(stages, frac_bits, input_bits, weight_bits, shifts,
                                  calibration, activation_bits, weight_frac_bits)
        if logits is None:
            logits = run(graph, quantize_input(calibration, graph))
    except KwsError:
        return None
    return float(np.mean(np.argmax(logits, axis=-1) == reference))


def choose_input_frac_bits(stages, calibration, input_bits=6, weight_bits=6,
                           activation_bits=8, shifts=None):
    """The input exponent whose integer graph agrees most with the float model on
    `calibration`, among the one that fits the largest |value| and the next finer ones.

    Fitting the largest value alone is too coarse: digital silence has a first MFCC near
    -247, ten times a spoken frame's, and it is as recognisable saturated. Ties go to the
    coarser scale (less saturation). `shifts`: given, or None to choose them for each
    candidate. Returns (exponent, [(exponent, agreement or None for 32-bit overflow)]).
    """
    coarsest = features.choose_frac_bits(float(np.abs(calibration).max()), input_bits)
    reference = np.argmax(st.run_float(stages, calibration), axis=-1)
    tried = [(frac_bits, _agreement(stages, calibration, reference, frac_bits, input_bits,
                                    weight_bits, activation_bits, shifts))
             for frac_bits in range(coarsest, coarsest + INPUT_FRAC_CANDIDATES)]
    usable = [pair for pair in tried if pair[1] is not None]
    if not usable:
        raise KwsError("no input scale keeps the accumulators within 32 bits: use larger "
                       "--shifts or a smaller --input_bits / --weight_bits")
    return max(usable, key=lambda pair: (pair[1], -pair[0]))[0], tried


def choose_weight_frac_bits(stages, calibration, input_frac_bits, input_bits=6, weight_bits=6,
                            activation_bits=8, shifts=None):
    """Per layer, in order: one more than the exponent that fits all weights (the largest
    weights saturate, the others get one more bit) when that agrees more with the float
    model on `calibration`. Returns ({stage name: exponent} of the layers that changed,
    [(stage name, exponent tried, agreement)])."""
    reference = np.argmax(st.run_float(stages, calibration), axis=-1)
    chosen, tried = {}, []
    best = _agreement(stages, calibration, reference, input_frac_bits, input_bits, weight_bits,
                      activation_bits, shifts)
    factor = 1.0
    for stage in stages:
        if stage.kind == st.AVG_POOL:
            factor = _sum_pool(stage)[1]
        if stage.kind not in st.LINEAR:
            continue
        trial = dict(chosen, **{stage.name: fitting_weight_frac_bits(stage, weight_bits,
                                                                     factor) + 1})
        factor = 1.0
        agreement = _agreement(stages, calibration, reference, input_frac_bits, input_bits,
                               weight_bits, activation_bits, shifts, trial)
        tried.append((stage.name, trial[stage.name], agreement))
        if agreement is not None and best is not None and agreement > best:
            chosen, best = trial, agreement
    return chosen, tried


def describe(graph):
    """Lines that say what the graph computes: scales, shifts, the FC bias."""
    low, high = -2 ** (graph.input_bits - 1), 2 ** (graph.input_bits - 1) - 1
    frames, coefficients = graph.input_shape
    lines = [f"input: {frames}x{coefficients} MFCC x 2**{graph.input_frac_bits}, rounded half "
             f"to even, saturated to {graph.input_bits} bits [{low}, {high}]",
             f"{'stage':<14} {'what':<36} {'weights':<11} {'scale':>6} {'max|w|':>6}  then"]
    for stage in graph.stages:
        what, weights, scale, largest, then = _stage_columns(stage)
        lines.append(f"{stage.name:<14} {what:<36} {weights:<11} {scale:>6} {largest:>6}  "
                     f"{then}".rstrip())
    fc = graph.stages[-1]
    if fc.bias is not None:
        lines.append(f"{fc.name} bias in accumulator units (x 2**"
                     f"{graph.accumulator_exponent(fc)}): "
                     f"{' '.join(str(int(b)) for b in fc.bias)}")
    biased = [stage.name for stage in graph.stages[:-1] if stage.bias is not None]
    if biased:
        lines.append(f"biases of {', '.join(biased)} in accumulator units: see weight.h or "
                     "--json_out")
    lines.append(f"shifts: {' '.join(map(str, graph.shifts))}")
    return lines


def _stage_columns(stage):
    if stage.kind in st.POOLS:
        then = f">> {stage.shift}" if stage.kind == st.SUM_POOL else ""
        height, width, _ = stage.in_shape
        return f"global {stage.kind} {height}x{width}", "", "", "", then
    if stage.kind == st.FC:
        what = f"fc {stage.weights.shape[0]} -> {stage.weights.shape[1]}"
    else:
        what = (f"{stage.kind} {stage.kernel[0]}x{stage.kernel[1]} stride "
                f"{stage.strides[0]}x{stage.strides[1]}")
        if any(stage.pads):
            what += f" pad {','.join(map(str, stage.pads))}"
    then = ", ".join((["+bias"] if stage.bias is not None else [])
                     + ([f"ReLU, >> {stage.shift}"] if stage.relu else []))
    return (what, "x".join(map(str, stage.weights.shape)), f"2**{stage.weight_frac_bits}",
            str(int(np.abs(stage.weights).max())), then)
