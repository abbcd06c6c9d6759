"""The DS-CNN as a list of stages, and the array maths every stage does, for any dtype.

A stage is one of: a convolution (``conv``: standard or 1x1 pointwise), a ``depthwise``
convolution, a global ``max_pool``, a global average pool (``avg_pool``, float only; the
integer graph turns it into a ``sum_pool`` and a shift), or the fully connected ``fc`` layer.
Linear stages may add a bias and apply ReLU; integer stages then shift right (floor).

The same functions run the float reference (float64) and the integer graph (int64), so the
two differ only in what the integer graph adds: rounding of weights and inputs, and the
shifts. Maps are [batch, height (time), width (frequency), channels], as in the Keras models.
"""
import dataclasses

import numpy as np

CONV, DEPTHWISE, MAX_POOL, AVG_POOL, SUM_POOL, FC = (
    "conv", "depthwise", "max_pool", "avg_pool", "sum_pool", "fc")
LINEAR = (CONV, DEPTHWISE, FC)
POOLS = (MAX_POOL, AVG_POOL, SUM_POOL)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of the graph.

    weights: conv [kernel_t, kernel_f, in_c, out_c]; depthwise [kernel_t, kernel_f, c];
    fc [in, out]; None for pools. bias: [out_c] or None (no additive term).
    pads: (top, bottom, left, right) zeros around the input, TF's SAME or VALID rule.
    shift: floor shift (arithmetic right shift) after ReLU; integer graph only.
    weight_frac_bits: the integer weights are round(float weights * 2**weight_frac_bits).
    """

    name: str
    kind: str
    in_shape: tuple
    out_shape: tuple
    weights: np.ndarray = None
    bias: np.ndarray = None
    kernel: tuple = (1, 1)
    strides: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    relu: bool = False
    shift: int = 0
    weight_frac_bits: int = 0

    @property
    def multiplies(self):
        """Multiplies per input clip (0 for pools)."""
        if self.kind == FC:
            return self.weights.size
        if self.kind not in LINEAR:
            return 0
        height, width, channels = self.out_shape
        per_output = self.kernel[0] * self.kernel[1] * (self.in_shape[2] if self.kind == CONV
                                                          else 1)
        return height * width * channels * per_output


def valid_size(size, kernel, stride):
    return -(-(size - kernel + 1) // stride)


def taps(stage, x):
    """Yields (kernel row, kernel column, the input each output position meets at that tap:
    [batch, out_h, out_w, in_c]) of a convolution; zero padding as stage.pads says."""
    if any(stage.pads):
        top, bottom, left, right = stage.pads
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h, out_w, _ = stage.out_shape
    stride_t, stride_f = stage.strides
    for row in range(stage.kernel[0]):
        for column in range(stage.kernel[1]):
            yield row, column, x[:, row:row + stride_t * (out_h - 1) + 1:stride_t,
                                 column:column + stride_f * (out_w - 1) + 1:stride_f]


def accumulate(stage, x):
    """The sums of products of a linear stage, bias included, before ReLU and shift."""
    if stage.kind == FC:
        acc = (x.reshape(len(x), -1) @ stage.weights)[:, np.newaxis, np.newaxis, :]
    else:
        acc = 0
        for row, column, window in taps(stage, x):
            weights = stage.weights[row, column]  # conv [in_c, out_c]; depthwise [c]
            acc = acc + (window @ weights if stage.kind == CONV else window * weights)
    if stage.bias is not None:
        acc = acc + stage.bias
    return acc


def pool(stage, x):
    """Global max or average pool (the integer sum pool is integer_graph.apply_stage's)."""
    if stage.kind == MAX_POOL:
        return x.max(axis=(1, 2), keepdims=True)
    return x.mean(axis=(1, 2), keepdims=True)


def floor_shift(values, shift):
    """floor(values / 2**shift): numpy's right shift of signed integers is arithmetic."""
    return np.right_shift(values, shift) if shift else values


def run_float(stages, features):
    """Logits of the float stages (float64) on feature maps [batch, frames, coefficients]."""
    x = np.asarray(features, np.float64)[..., np.newaxis]
    for stage in stages:
        if stage.kind in POOLS:
            x = pool(stage, x)
            continue
        x = accumulate(stage, x)
        if stage.relu:
            x = np.maximum(x, 0.0)
    return x.reshape(len(x), -1)
