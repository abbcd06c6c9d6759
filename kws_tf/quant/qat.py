"""Quantization-aware training with tensorflow-model-optimization (tfmot).

8-bit weights and activations use tfmot's default scheme (what the TFLite int8 converter
expects: batch norm folded into the conv before its weights are fake-quantized); other widths
use tfmot's n-bit scheme with the same layer handling. tfmot has no quantized recurrent cells,
so QAT covers the Conv/Depthwise/Dense models, and nas (kws_tf.quant.qat_nas: its Q layers are
annotated by hand, with each layer's net.config num_bits as its weight width).

A QAT checkpoint's sidecar has ``"quantize": {"mode": "tfmot", "weight_bits": W,
"activation_bits": A}``; `apply` rebuilds the wrapped model from the float one, so any tool
that loads a checkpoint through kws_tf.models.checkpoint gets the QAT model back.
"""
import collections

import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.experimental.default_n_bit \
    import default_n_bit_quantize_scheme

from kws_tf.errors import KwsError
from kws_tf.models import layers
from kws_tf.quant import qat_nas

ARCHITECTURES = ("dnn", "cnn", "ds_cnn", "ds_cnn_bf", "nas")
MODE = "tfmot"


def parse_bits(text):
    """`--qat_bits W,A` -> (W, A): weight and activation bit widths, 2 to 8."""
    try:
        weight_bits, activation_bits = (int(part) for part in str(text).split(","))
    except ValueError:
        raise KwsError(f"--qat_bits {text!r}: expected two whole numbers W,A (e.g. 8,8 or "
                       "6,8)") from None
    if not (2 <= weight_bits <= 8 and 2 <= activation_bits <= 8):
        raise KwsError(f"--qat_bits {text}: widths must be between 2 and 8")
    return weight_bits, activation_bits


def sidecar(weight_bits, activation_bits):
    return {"mode": MODE, "weight_bits": weight_bits, "activation_bits": activation_bits}


def apply(model, architecture, quantize):
    """The QAT version of float `model` (its weights copied) for a sidecar's "quantize"."""
    if quantize.get("mode") != MODE:
        raise KwsError(f"quantization mode {quantize.get('mode')!r} is not {MODE!r}")
    if architecture not in ARCHITECTURES:
        why = "layer norms" if architecture == "convmixer" else "recurrent cells"
        raise KwsError(f"--quantize: tfmot cannot quantize {architecture} ({why}); "
                       f"QAT supports {', '.join(ARCHITECTURES)}")
    weight_bits, activation_bits = quantize["weight_bits"], quantize["activation_bits"]
    if architecture == "nas":
        annotated = qat_nas.annotate(model, weight_bits, activation_bits)
    else:
        annotated = _annotate(model, weight_bits, activation_bits)
    with tfmot.quantization.keras.quantize_scope(qat_nas.CUSTOM_OBJECTS):
        return tfmot.quantization.keras.quantize_apply(
            annotated, scheme=_scheme(weight_bits, activation_bits))


def _annotate(model, weight_bits, activation_bits):
    """tfmot's annotation, by hand around a SubsampledDepthwiseConv2D (unequal strides): tfmot
    knows layer classes, not subclasses, and folds batch norm only into classes it knows, so
    that layer and its batch norm get qat_nas's configs (no fake-quant between them and the
    ReLU, as tfmot's folding would have it)."""
    def clone(layer):
        return tfmot.quantization.keras.quantize_annotate_layer(
            type(layer).from_config(layer.get_config()),
            _subsampled_config(layer, weight_bits, activation_bits))

    annotated = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.layers, annotated.layers, strict=True):
        target.set_weights(source.get_weights())
    return annotated


def _subsampled_config(layer, weight_bits, activation_bits):
    """A LayerQuantizeConfig for a SubsampledDepthwiseConv2D or its batch norm; else None."""
    consumer = qat_nas.sole_consumer(layer)
    if isinstance(layer, layers.SubsampledDepthwiseConv2D):
        feeds_bn_or_relu = isinstance(consumer, (keras.layers.BatchNormalization,
                                                 keras.layers.ReLU))
        return qat_nas.LayerQuantizeConfig("depthwise_kernel", weight_bits, True,
                                           None if feeds_bn_or_relu else activation_bits)
    producer = layer._inbound_nodes[0].inbound_layers  # the functional graph's edge in
    if (isinstance(layer, keras.layers.BatchNormalization)
            and isinstance(producer, layers.SubsampledDepthwiseConv2D)):
        feeds_relu = isinstance(consumer, keras.layers.ReLU)
        return qat_nas.LayerQuantizeConfig(output_bits=None if feeds_relu else activation_bits)
    return None


def _scheme(weight_bits, activation_bits):
    if (weight_bits, activation_bits) == (8, 8):
        return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()
    return default_n_bit_quantize_scheme.DefaultNBitQuantizeScheme(
        num_bits_weight=weight_bits, num_bits_activation=activation_bits)


def describe(qat_model, quantize):
    """One line: the weight widths tfmot fake-quantizes to (a nas net.config's num_bits may
    differ from --qat_bits) and the activation width."""
    widths = collections.Counter(quantizer.num_bits for layer in qat_model.layers
                                 for _, quantizer, _ in getattr(layer, "_weight_vars", []))
    weights = ", ".join(f"{bits} bits ({count} tensors)" for bits, count in sorted(widths.items()))
    return f"tfmot QAT: weights {weights}; activations {quantize['activation_bits']} bits"


def float_weights(qat_model, float_model):
    """Copies a QAT model's weights (without its quantizers' ranges) into `float_model`, the
    same architecture built plainly, so tools that read layers (the integer graph) can."""
    values = {variable.name: variable for variable in qat_model.weights}
    for variable in float_model.weights:
        variable.assign(values[variable.name])
    return float_model
