"""ds_cnn_bf: the bias-free DS-CNN for integer hardware (see docs/integer_graph.md).

Same --model_size_info as ds_cnn: N, then N groups of (features, kernel_t, kernel_f, stride_t,
stride_f). What differs from ds_cnn, and why:

* No bias anywhere except the final fully connected layer, and **no batch norm**. With no
  additive terms the network is positively homogeneous: scaling a layer's weights by c > 0
  scales every later value by c and leaves the argmax alone, so each layer can be rescaled to
  integers (and shifted right by powers of two) without tracking scales. Batch norm's mean
  subtraction and beta are additive terms, so they cannot be in the inference graph.
* Layer 0, the standard convolution, is VALID (no padding); depthwise convolutions are SAME.
* A global max pool follows the last depthwise convolution (after its ReLU, with which it
  commutes), so the last pointwise convolution runs on one pooled vector: for 48 -> 16 that
  is 768 multiplies per clip. Earlier layers (N > 2) are full depthwise + pointwise pairs.
  With N = 1 the pool follows the first convolution.
* ReLU after every convolution, as in Hello Edge; the FC layer keeps its bias (it helps
  training; the integer graph expresses it in accumulator units).

For `2 48 4 4 2 2 16 3 3 1 1` and L labels the weights are conv 4x4x1x48, depthwise 3x3x48,
pointwise 48x16 and FC 16xL + L.
"""
import tf_keras as keras

from kws_tf.models import common, ds_cnn
from kws_tf.models import layers as portable

LAYOUT = ds_cnn.LAYOUT


def params(model_size_info):
    return ds_cnn.params(model_size_info, architecture="ds_cnn_bf")


def model(model_size_info, input_shape, label_count):
    layers = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    first = layers[0]
    for axis in (0, 1):
        common.valid_size("ds_cnn_bf", "conv_1", input_shape[axis], first["kernel"][axis],
                          first["strides"][axis])
    inputs, x = common.image_input(input_shape)
    x = keras.layers.Conv2D(first["features"], first["kernel"], strides=first["strides"],
                            padding="valid", use_bias=False, kernel_initializer=common.GLOROT,
                            name="conv_1")(x)
    x = keras.layers.ReLU(name="conv_1_relu")(x)
    if len(layers) == 1:
        x = keras.layers.GlobalMaxPooling2D(keepdims=True, name="max_pool")(x)
    for i, layer in enumerate(layers[1:], start=1):
        name = f"conv_ds_{i}"
        x = portable.DepthwiseConv2D(layer["kernel"], strides=layer["strides"],
                                         padding="same", use_bias=False,
                                         depthwise_initializer=common.GLOROT, name=f"{name}_dw")(x)
        x = keras.layers.ReLU(name=f"{name}_dw_relu")(x)
        if i == len(layers) - 1:
            x = keras.layers.GlobalMaxPooling2D(keepdims=True, name="max_pool")(x)
        x = keras.layers.Conv2D(layer["features"], 1, use_bias=False,
                                kernel_initializer=common.GLOROT, name=f"{name}_pw")(x)
        x = keras.layers.ReLU(name=f"{name}_pw_relu")(x)
    x = keras.layers.Flatten(name="squeeze")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer="zeros", name="fc1")(x)
    return keras.Model(inputs, logits, name="ds_cnn_bf")
