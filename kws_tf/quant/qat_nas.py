"""tfmot QAT for nas models: their Q layers (kws_tf.models.nas_layers) annotated by hand.

tfmot's registry knows Conv2D, DepthwiseConv2D and Dense by class, not subclasses such as
QConv2D, and places batch norm only through transforms that match those class names (no
fake-quant between a conv and its batch norm, nor between that and a ReLU, so the TFLite
converter folds them into one int8 conv). `annotate` does both by hand and leaves the other
layers (ReLU6, Add, ZeroPadding2D, GlobalAveragePooling2D, Dropout) to tfmot's registry:

* every Q layer is copied with its own ``num_bits`` quantiser off (tfmot's replaces it) and
  fake-quantises its kernel to the layer's net.config ``num_bits``, else to the --qat_bits
  weight width: per output channel for convolutions, per tensor for the classifier, as
  tfmot does for Conv2D and Dense;
* outputs are fake-quantised to the activation width, except a conv's that feeds its batch
  norm, and a batch norm's that feeds its ReLU6.
"""
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from kws_tf.errors import KwsError
from kws_tf.models import nas_layers

quantizers = tfmot.quantization.keras.quantizers
# Q layer class -> (the kernel attribute it convolves with, per-channel ranges)
KERNELS = {nas_layers.QConv2D: ("kernel", True),
           nas_layers.QDepthwiseConv2D: ("depthwise_kernel", True),
           nas_layers.QDense: ("kernel", False)}
MIN_BITS, MAX_BITS = 2, 8  # what tfmot's quantizers and the int8 converter take


@keras.utils.register_keras_serializable(package="kws_tf")
class LayerQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Fake-quantises a layer's `kernel_attr` to `weight_bits` and its output to
    `output_bits` (either None: left float)."""

    def __init__(self, kernel_attr=None, weight_bits=None, per_axis=False, output_bits=None):
        self.kernel_attr, self.weight_bits = kernel_attr, weight_bits
        self.per_axis, self.output_bits = per_axis, output_bits

    def get_weights_and_quantizers(self, layer):
        if self.kernel_attr is None:
            return []
        return [(getattr(layer, self.kernel_attr), quantizers.LastValueQuantizer(
            num_bits=self.weight_bits, per_axis=self.per_axis, symmetric=True,
            narrow_range=True))]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        if self.kernel_attr is not None:
            setattr(layer, self.kernel_attr, quantize_weights[0])

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        if self.output_bits is None:
            return []
        return [quantizers.MovingAverageQuantizer(num_bits=self.output_bits, per_axis=False,
                                                  symmetric=False, narrow_range=False)]

    def get_config(self):
        return {"kernel_attr": self.kernel_attr, "weight_bits": self.weight_bits,
                "per_axis": self.per_axis, "output_bits": self.output_bits}


CUSTOM_OBJECTS = {keras.utils.get_registered_name(cls): cls
                  for cls in (*KERNELS, LayerQuantizeConfig)}


def weight_bits_of(layer, default_bits):
    """The layer's net.config num_bits when set (2 to 8 for tfmot), else `default_bits`."""
    if layer.num_bits is None:
        return default_bits
    if not MIN_BITS <= layer.num_bits <= MAX_BITS:
        raise KwsError(f"--net_config: {layer.name} has num_bits {layer.num_bits}; tfmot QAT "
                       f"(--quantize) takes {MIN_BITS} to {MAX_BITS}")
    return layer.num_bits


def sole_consumer(layer):
    nodes = layer._outbound_nodes  # the functional graph's edges out of `layer`
    return nodes[0].outbound_layer if len(nodes) == 1 else None


def _config(layer, weight_bits, activation_bits):
    """The LayerQuantizeConfig of a Q layer or batch norm; None for the registry's layers."""
    consumer = sole_consumer(layer)
    if type(layer) in KERNELS:
        kernel_attr, per_axis = KERNELS[type(layer)]
        feeds_bn = isinstance(consumer, keras.layers.BatchNormalization)
        return LayerQuantizeConfig(kernel_attr, weight_bits_of(layer, weight_bits), per_axis,
                                   None if feeds_bn else activation_bits)
    if isinstance(layer, keras.layers.BatchNormalization):
        feeds_relu = isinstance(consumer, keras.layers.ReLU)
        return LayerQuantizeConfig(output_bits=None if feeds_relu else activation_bits)
    return None


def annotate(model, weight_bits, activation_bits):
    """A copy of nas `model`, every layer annotated for tfmot's quantize_apply, with its
    float weights."""
    def clone(layer):
        config = layer.get_config()
        if type(layer) in KERNELS:
            config["num_bits"] = None
        return tfmot.quantization.keras.quantize_annotate_layer(
            type(layer).from_config(config), _config(layer, weight_bits, activation_bits))

    annotated = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.layers, annotated.layers, strict=True):
        target.set_weights(source.get_weights())
    return annotated
