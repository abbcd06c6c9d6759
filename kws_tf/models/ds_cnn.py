"""ds_cnn: Hello Edge's depthwise-separable CNN (``create_ds_cnn_model``, MobileNet style).

--model_size_info N, then N groups of (features, kernel_t, kernel_f, stride_t, stride_f).
Layer 0 is a standard convolution with `features` filters; layers 1..N-1 are a depthwise
convolution (kernel and stride of the group, on the incoming channels) followed by a 1x1
pointwise convolution to `features` channels. Every convolution is SAME, has a bias, and is
followed by batch norm (slim's: beta but no gamma, eps 1e-3, momentum 0.96) and ReLU. Then an
average pool over the whole remaining map and a fully connected layer to the logits.
"""
import tf_keras as keras

from kws_tf.models import common
from kws_tf.models import layers as portable

LAYOUT = ("1 + 5*N numbers (N, then N groups of features, kernel_t, kernel_f, stride_t, "
          "stride_f)")


def params(model_size_info, architecture="ds_cnn"):
    """The N layers as dicts of features, kernel (t, f), strides (t, f)."""
    def length_ok(v):
        return len(v) >= 6 and (len(v) - 1) % 5 == 0 and v[0] == (len(v) - 1) // 5

    v = common.size_info(architecture, model_size_info, LAYOUT, length_ok)
    return [{"features": v[i], "kernel": (v[i + 1], v[i + 2]), "strides": (v[i + 3], v[i + 4])}
            for i in range(1, len(v), 5)]


def _batch_norm_relu(x, name):
    x = keras.layers.BatchNormalization(center=True, scale=False, momentum=0.96, epsilon=1e-3,
                                        name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def model(model_size_info, input_shape, label_count):
    layers = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs, x = common.image_input(input_shape)
    height, width = input_shape
    for i, layer in enumerate(layers):
        height = common.same_size(height, layer["strides"][0])
        width = common.same_size(width, layer["strides"][1])
        if i == 0:
            x = keras.layers.Conv2D(layer["features"], layer["kernel"], strides=layer["strides"],
                                    padding="same", kernel_initializer=common.GLOROT,
                                    bias_initializer="zeros", name="conv_1")(x)
            x = _batch_norm_relu(x, "conv_1")
            continue
        name = f"conv_ds_{i}"
        x = portable.DepthwiseConv2D(layer["kernel"], strides=layer["strides"],
                                         padding="same", depthwise_initializer=common.GLOROT,
                                         bias_initializer="zeros", name=f"{name}_dw")(x)
        x = _batch_norm_relu(x, f"{name}_dw")
        x = keras.layers.Conv2D(layer["features"], 1, kernel_initializer=common.GLOROT,
                                bias_initializer="zeros", name=f"{name}_pw")(x)
        x = _batch_norm_relu(x, f"{name}_pw")
    x = keras.layers.AveragePooling2D(pool_size=(height, width), name="avg_pool")(x)
    x = keras.layers.Flatten(name="squeeze")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer="zeros", name="fc1")(x)
    return keras.Model(inputs, logits, name="ds_cnn")
