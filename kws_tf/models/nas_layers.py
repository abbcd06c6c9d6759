"""The layers of nas-for-kws networks, shared by the supernet's candidates and the derived model.

Both build an op from the same functions (``conv_bn_act``, ``mbconv``, ``classifier``), with the
same layer names, so a supernet candidate's weights copy one to one into the derived model.

* Convolutions and the classifier are ``Q*`` layers: the standard ones whose kernel goes
  through the reference's weight quantiser when ``num_bits`` is set (net.config's field), so
  the bit width of every layer stays in the model (and its get_config) for QAT.
* Padding is the reference's symmetric k // 2. TF's 'same' agrees for stride 1 and odd kernels
  but pads strided convolutions asymmetrically, so those get an explicit ZeroPadding2D.
* Initialisation is the reference's he_fout: N(0, sqrt(2 / (kh * kw * C_out))), for depthwise
  convolutions with C_out = channels (not divided by groups); the classifier U(+-1/sqrt(in)).
* Batch norm takes net.config's PyTorch momentum m as Keras momentum 1 - m.
"""
import tensorflow as tf
import tf_keras as keras

from kws_tf.models.weight_quantizer import fake_quantize_weights


def he_fout():
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def he_fout_depthwise():
    """Keras's fan_in of a depthwise kernel [k, k, M, 1] is k * k * M: the reference's fan."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def linear_uniform():
    """U(-1/sqrt(in), 1/sqrt(in)), PyTorch's Linear default that the reference keeps."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


@keras.utils.register_keras_serializable(package="kws_tf")
class QConv2D(keras.layers.Conv2D):
    """Conv2D with its kernel fake-quantised to `num_bits` (None: float)."""

    def __init__(self, *args, num_bits=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_bits = num_bits

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, fake_quantize_weights(kernel, self.num_bits))

    def get_config(self):
        return {**super().get_config(), "num_bits": self.num_bits}


@keras.utils.register_keras_serializable(package="kws_tf")
class QDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """DepthwiseConv2D with its kernel fake-quantised to `num_bits` (None: float)."""

    def __init__(self, *args, num_bits=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_bits = num_bits

    def call(self, inputs):
        outputs = keras.backend.depthwise_conv2d(
            inputs, fake_quantize_weights(self.depthwise_kernel, self.num_bits),
            strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format)
        if self.use_bias:
            outputs = keras.backend.bias_add(outputs, self.bias, data_format=self.data_format)
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "num_bits": self.num_bits}


@keras.utils.register_keras_serializable(package="kws_tf")
class QDense(keras.layers.Dense):
    """Dense on [batch, features] with its kernel fake-quantised to `num_bits` (None: float)."""

    def __init__(self, *args, num_bits=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_bits = num_bits

    def call(self, inputs):
        outputs = tf.matmul(inputs, fake_quantize_weights(self.kernel, self.num_bits))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "num_bits": self.num_bits}


def time_major(pair):
    """net.config's (MFCC, time) order -> the (time, MFCC) of kws_tf's feature maps."""
    return pair[1], pair[0]


def _padding(kernel, strides, name):
    """(layers before the conv, its padding) for the reference's symmetric k // 2 padding."""
    if all(s == 1 for s in strides) and all(k % 2 for k in kernel):
        return [], "same"
    pads = tuple((k // 2, k // 2) for k in kernel)
    return [keras.layers.ZeroPadding2D(pads, name=f"{name}_pad")], "valid"


def batch_norm(config, name):
    return keras.layers.BatchNormalization(momentum=1.0 - config.bn_momentum,
                                           epsilon=config.bn_eps, name=name)


def relu6(name):
    return keras.layers.ReLU(max_value=6.0, name=name)


def conv_bn_act(conv, name, config):
    """A net.config ConvLayer (stem or feature mix): [pad,] conv, batch norm, ReLU6."""
    kernel, strides = time_major(conv.kernel_hw), time_major(conv.stride_hw)
    pad, padding = _padding(kernel, strides, name)
    return [*pad,
            QConv2D(conv.out_channels, kernel, strides=strides, padding=padding, use_bias=False,
                    kernel_initializer=he_fout(), num_bits=conv.num_bits, name=name),
            batch_norm(config, f"{name}_bn"), relu6(f"{name}_act")]


def mbconv(op, name, config):
    """A net.config MBInvertedConvLayer as a list of layers (no shortcut)."""
    layers = []
    if op.expand_ratio != 1:
        layers += [QConv2D(op.mid, 1, use_bias=False, kernel_initializer=he_fout(),
                           num_bits=op.num_bits, name=f"{name}_expand"),
                   batch_norm(config, f"{name}_expand_bn"), relu6(f"{name}_expand_act")]
    kernel, strides = (op.kernel_size,) * 2, (op.stride,) * 2
    pad, padding = _padding(kernel, strides, f"{name}_dw")
    layers += [*pad,
               QDepthwiseConv2D(kernel, strides=strides, padding=padding, use_bias=False,
                                depthwise_initializer=he_fout_depthwise(), num_bits=op.num_bits,
                                name=f"{name}_dw"),
               batch_norm(config, f"{name}_dw_bn"), relu6(f"{name}_dw_act"),
               QConv2D(op.out_channels, 1, use_bias=False, kernel_initializer=he_fout(),
                       num_bits=op.num_bits, name=f"{name}_project"),
               batch_norm(config, f"{name}_project_bn")]
    return layers


def classifier(linear, label_count):
    """Global average pool, [dropout,] linear without bias (the reference never adds its bias)."""
    layers = [keras.layers.GlobalAveragePooling2D(name="avg_pool")]
    if linear.dropout_rate:
        layers.append(keras.layers.Dropout(linear.dropout_rate, name="dropout"))
    layers.append(QDense(label_count, use_bias=False, kernel_initializer=linear_uniform(),
                         num_bits=linear.num_bits, name="classifier"))
    return layers
