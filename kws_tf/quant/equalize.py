"""Cross-layer range equalization of the float stages (Nagel et al. 2019, "Data-free
quantization through weight equalization and bias correction").

Between two linear stages there are only ReLUs and global pools, which commute with a
positive per-channel scale: dividing output channel k of one stage (weights and bias) by
s_k and multiplying input channel k of the next by s_k leaves every later value, and so the
float model's logits, unchanged. The integer graph gives each layer one power-of-two weight
scale, so a channel whose weights are much smaller than its layer's largest keeps few of
the `weight_bits`. With s_k = sqrt(r_k / r'_k) (r_k the range of output channel k, r'_k
that of the next stage's input channel k) both become sqrt(r_k r'_k): narrow channels
widen and wide ones narrow. Pairs are visited in order, repeatedly, until the scales settle.
Biases are untouched except those of a stage whose outputs are rescaled (folded ds_cnn).
"""
import dataclasses

import numpy as np

from kws_tf.quant import stages as st

ROUNDS = 50
TOLERANCE = 1e-6  # stop once no scale moves by more than this (relative)


def equalize(stages, rounds=ROUNDS):
    """Float stages with the same function and per-channel weight ranges equalized."""
    stages = list(stages)
    linear = [i for i, stage in enumerate(stages) if stage.kind in st.LINEAR]
    for _ in range(rounds):
        moved = 0.0
        for a, b in zip(linear, linear[1:]):
            outgoing, incoming = _out_ranges(stages[a]), _in_ranges(stages[b])
            usable = (outgoing > 0) & (incoming > 0)
            scale = np.ones_like(outgoing)
            scale[usable] = np.sqrt(outgoing[usable] / incoming[usable])
            stages[a] = _scale_out(stages[a], 1.0 / scale)
            stages[b] = _scale_in(stages[b], scale)
            moved = max(moved, float(np.abs(scale - 1.0).max(initial=0.0)))
        if moved < TOLERANCE:
            break
    return stages


def _out_ranges(stage):
    """max |w| per output channel (the last weight axis of every linear kind)."""
    weights = np.abs(stage.weights)
    return weights.reshape(-1, weights.shape[-1]).max(axis=0)


def _in_ranges(stage):
    """max |w| per input channel: conv [kt, kf, in, out], depthwise [kt, kf, c], fc [in, out]."""
    weights = np.abs(stage.weights)
    if stage.kind == st.DEPTHWISE:
        return weights.reshape(-1, weights.shape[-1]).max(axis=0)
    if stage.kind == st.FC:
        return weights.max(axis=1)
    return np.moveaxis(weights, 2, 0).reshape(weights.shape[2], -1).max(axis=1)


def _scale_out(stage, factor):
    bias = None if stage.bias is None else stage.bias * factor
    return dataclasses.replace(stage, weights=stage.weights * factor, bias=bias)


def _scale_in(stage, factor):
    """Input channel k times factor[k]; a bias (added after the sums) stays as it is."""
    if stage.kind == st.DEPTHWISE:
        return dataclasses.replace(stage, weights=stage.weights * factor)
    return dataclasses.replace(stage, weights=stage.weights * factor[:, np.newaxis])


@dataclasses.dataclass(frozen=True)
class Trial:
    mode: str  # "none" (the stages as they are) or "cross_layer"
    stages: list  # the float stages the graph was made from
    graph: object  # what `build` made of them: the integer graph ...
    extra: object  # ... and whatever else it returned
    agreement: float  # how often the graph predicts what the float model does


def choose(stages, calibration, build):
    """(best trial, both trials): the integer graph `build(float stages) -> (graph, extra)`
    makes of `stages` as they are and equalized, and which agrees more with the float model
    on `calibration` feature maps (a tie keeps them as they are)."""
    from kws_tf.quant import integer_graph

    reference = np.argmax(st.run_float(stages, calibration), axis=-1)
    trials = []
    for mode, candidate in (("none", stages), ("cross_layer", equalize(stages))):
        graph, extra = build(candidate)
        agreement = float(np.mean(integer_graph.predict(graph, calibration) == reference))
        trials.append(Trial(mode, candidate, graph, extra, agreement))
    return max(trials, key=lambda trial: trial.agreement), trials


def write_weights(model, stages):
    """Sets each linear stage's float weights into the Keras layer of its name (ds_cnn_bf:
    no batch norm to fold back), e.g. equalized ones: same logits, the starting point of
    training through the integer graph."""
    for stage in stages:
        if stage.kind not in st.LINEAR:
            continue
        layer = model.get_layer(stage.name)
        weights = stage.weights[..., np.newaxis] if stage.kind == st.DEPTHWISE else stage.weights
        layer.weights[0].assign(weights.astype(layer.weights[0].dtype.as_numpy_dtype))
