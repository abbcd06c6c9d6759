"""Training through the integer graph: ds_cnn_bf computed exactly as the integer graph
computes it, with straight-through gradients.

Forward, every value is the integer graph's (kws_tf.quant.integer_graph): the input scaled
by 2**input_frac_bits, rounded and saturated to `input_bits`; each layer's weights scaled by
the largest power of two that keeps them within `weight_bits` (recomputed from the current
weights every step, as the integer graph does from the final ones) and rounded; convolutions
on those integers; ReLU then a floor shift; global max pool; the FC bias in accumulator
units. Values are integers held in float64, so sums are exact. The FC accumulators are
divided by their scale 2**E only to give the loss float-sized logits; argmax is unchanged.

Backward, rounding and floor are the identity (straight-through estimator), so fine-tuning
a float ds_cnn_bf under this forward closes the float-to-integer gap. The variables are the
float model's: a checkpoint of it is an ordinary ds_cnn_bf checkpoint.
"""
import math

import tensorflow as tf
import tf_keras as keras

from kws_tf.errors import KwsError
from kws_tf.models import layers

MODE = "integer"


def _straight_through(x, value):
    """`value` forward, the gradient of `x` backward."""
    return x + tf.stop_gradient(value - x)


def _round_saturate(x, bits):
    high = 2.0 ** (bits - 1) - 1
    return _straight_through(x, tf.clip_by_value(tf.round(x), -high - 1, high))


def _frac_bits(weights, bits):
    """features.choose_frac_bits in TF: the largest f with max|w| * 2**f <= 2**(bits-1) - 1."""
    limit = 2.0 ** (bits - 1) - 1
    largest = tf.stop_gradient(tf.reduce_max(tf.abs(weights)))
    largest = tf.maximum(largest, tf.constant(1e-30, largest.dtype))
    frac = tf.floor(tf.math.log(limit / largest) / math.log(2.0))
    frac = tf.where(largest * 2.0 ** (frac + 1) <= limit, frac + 1, frac)
    return tf.where(largest * 2.0 ** frac > limit, frac - 1, frac)


def _integer_weights(weights, bits):
    """(integer-valued weights, their exponent)."""
    weights = tf.cast(weights, tf.float64)
    frac = _frac_bits(weights, bits)
    return _round_saturate(weights * 2.0 ** frac, bits), frac


class IntegerSimulation(keras.Model):
    """Runs a ds_cnn_bf model's weights through the integer graph's arithmetic."""

    def __init__(self, float_model, input_bits, weight_bits, input_frac_bits, shifts, **kwargs):
        super().__init__(name="integer_simulation", **kwargs)
        self.float_model = float_model
        self.input_bits, self.weight_bits = input_bits, weight_bits
        self.input_frac_bits, self.shifts = input_frac_bits, list(shifts)
        relus = [layer for layer in float_model.layers if isinstance(layer, keras.layers.ReLU)]
        if len(relus) != len(self.shifts):
            raise KwsError(f"--shifts: expected {len(relus)} values, one per convolution, got "
                           f"{len(self.shifts)}")

    def call(self, inputs, training=False):
        accumulators, exponent = self.fc_accumulators(inputs)
        return tf.cast(accumulators / 2.0 ** exponent, tf.float32)

    def fc_accumulators(self, inputs):
        """(the integer graph's FC accumulators, as float64 integers; their exponent E)."""
        x = tf.cast(inputs, tf.float64) * 2.0 ** self.input_frac_bits
        x = _round_saturate(x, self.input_bits)
        exponent = tf.constant(float(self.input_frac_bits), tf.float64)
        shifts = iter(self.shifts)
        for layer in self.float_model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Reshape):
                x = tf.reshape(x, [-1, *layer.target_shape])
            elif isinstance(layer, keras.layers.DepthwiseConv2D):
                weights, frac = _integer_weights(layer.depthwise_kernel, self.weight_bits)
                x = layers.depthwise_conv2d(x, weights, layer.strides, layer.padding)
                exponent += frac
            elif isinstance(layer, keras.layers.Conv2D):
                weights, frac = _integer_weights(layer.kernel, self.weight_bits)
                x = tf.nn.conv2d(x, weights, layer.strides, layer.padding.upper())
                exponent += frac
            elif isinstance(layer, keras.layers.ReLU):
                shift = next(shifts)
                scaled = tf.nn.relu(x) / 2.0 ** shift
                x = _straight_through(scaled, tf.floor(scaled))
                exponent -= shift
            elif isinstance(layer, keras.layers.GlobalMaxPooling2D):
                x = tf.reduce_max(x, axis=[1, 2], keepdims=True)
            elif isinstance(layer, keras.layers.Flatten):
                x = tf.reshape(x, [tf.shape(x)[0], -1])
            elif isinstance(layer, keras.layers.Dense):
                weights, frac = _integer_weights(layer.kernel, self.weight_bits)
                exponent += frac
                bias = tf.cast(layer.bias, tf.float64) * 2.0 ** exponent
                x = tf.matmul(x, weights) + _straight_through(bias, tf.round(bias))
            else:
                raise KwsError(f"layer {layer.name}: the integer simulation has no "
                               f"{type(layer).__name__} (it runs ds_cnn_bf)")
        return x, exponent


DEFAULT_BITS = {"input_bits": 6, "weight_bits": 6, "activation_bits": 8}


def add_flags(parser, title, defaults=True):
    """The integer graph's widths, input scale and shifts (train.py and quant_test.py).
    With `defaults` False the widths default to None, for a checkpoint's sidecar to fill."""
    def default(name):
        return DEFAULT_BITS[name] if defaults else None

    group = parser.add_argument_group(title)
    group.add_argument("--input_bits", type=int, default=default("input_bits"),
                       help="Signed width of the quantized MFCC input (default 6).")
    group.add_argument("--weight_bits", type=int, default=default("weight_bits"),
                       help="Signed width of every layer's weights, stored as int8 for up to "
                            "8 (default 6).")
    group.add_argument("--activation_bits", type=int, default=default("activation_bits"),
                       help="Unsigned width the outputs of each layer (>= 0 after ReLU) must "
                            "fit when the shifts are chosen from data (default 8).")
    group.add_argument("--input_frac_bits", type=int, default=None,
                       help="Input scale exponent: input = round(mfcc * 2**this). Default: "
                            "chosen on the calibration clips (see README).")
    group.add_argument("--shifts", type=int, nargs="+", default=None,
                       help="Floor shift after each convolution, in order (e.g. 3 4 8). "
                            "Default: the smallest that fit --activation_bits on the "
                            "calibration clips.")
    group.add_argument("--calibration_samples", type=int, default=2000,
                       help="Training clips (unaugmented) the input scale and shifts are "
                            "chosen on.")
    return group


def sidecar(input_bits, weight_bits, activation_bits, input_frac_bits, shifts):
    """The checkpoint sidecar's "quantize" entry; scale and shifts may be None (to choose)."""
    from kws_tf.quant import integer_graph

    integer_graph.check_bits(input_bits=input_bits, weight_bits=weight_bits,
                             activation_bits=activation_bits)
    return {"mode": MODE, "input_bits": input_bits, "weight_bits": weight_bits,
            "activation_bits": activation_bits, "input_frac_bits": input_frac_bits,
            "shifts": None if shifts is None else list(shifts)}


def complete(spec):
    return spec["input_frac_bits"] is not None and spec["shifts"] is not None


def resumed(given, saved):
    """The spec of a resumed run: the saved one, when what the flags give agrees with it."""
    if not saved or saved.get("mode") != MODE:
        return given
    for key, value in given.items():
        if value is not None and value != saved.get(key):
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            raise KwsError(f"--{key} {shown} does not match the run being resumed, which "
                           f"trains with {saved.get(key)}")
    return saved


def choose(model, spec, calibration):
    """(spec, equalized): the input scale and shifts the integer graph picks for `model` on
    `calibration` feature maps (as quant_test.py does), for its weights as they are or cross-
    layer equalized, whichever agrees more with the float model; equalized=True means
    `model`'s weights were equalized in place (its float logits stay the same)."""
    from kws_tf.quant import equalize, extract, integer_graph

    widths = (spec["input_bits"], spec["weight_bits"], spec["activation_bits"])

    def build(stages):
        frac_bits = spec["input_frac_bits"]
        if frac_bits is None:
            frac_bits, _ = integer_graph.choose_input_frac_bits(stages, calibration, *widths,
                                                                spec["shifts"])
        graph = integer_graph.quantize(stages, frac_bits, *widths[:2], spec["shifts"],
                                       calibration=calibration, activation_bits=widths[2])
        return graph, {**spec, "input_frac_bits": frac_bits, "shifts": list(graph.shifts)}

    best, _ = equalize.choose(extract.float_stages(model, "ds_cnn_bf"), calibration, build)
    equalized = best.mode == "cross_layer"
    if equalized:
        equalize.write_weights(model, best.stages)
    return best.extra, equalized


def describe(spec):
    return (f"training through the integer graph: input x 2**{spec['input_frac_bits']} in "
            f"{spec['input_bits']} bits, {spec['weight_bits']}-bit weights, shifts "
            f"{' '.join(map(str, spec['shifts']))}")


def check_architecture(architecture):
    if architecture != "ds_cnn_bf":
        raise KwsError(f"--quantize integer simulates the bias-free integer graph: it needs "
                       f"--model_architecture ds_cnn_bf, not {architecture}")


def apply(model, architecture, spec):
    check_architecture(architecture)
    return IntegerSimulation(model, spec["input_bits"], spec["weight_bits"],
                             spec["input_frac_bits"], spec["shifts"])
