"""cnn: two VALID convolutions with batch norm, a linear bottleneck and one hidden FC layer.

--model_size_info c1 kt1 kf1 st1 sf1  c2 kt2 kf2 st2 sf2  lin fc (12 numbers):
filters, kernel (time, frequency) and stride (time, frequency) of each convolution, the width
of the linear (no activation) layer, and of the FC layer. Each convolution is
conv (with bias) -> batch norm (gamma and beta, momentum 0.99, eps 1e-3) -> ReLU; output size
ceil((in - k + 1) / s). Then flatten -> linear -> FC -> batch norm -> ReLU -> logits.
Hello Edge ``create_cnn_model``; its dropout was always fed keep_prob 1, so there is none.
"""
import tf_keras as keras

from kws_tf.models import common

LAYOUT = ("12 numbers (conv1: filters, kernel_t, kernel_f, stride_t, stride_f; conv2: the same "
          "five; linear units; fc units)")


def params(model_size_info):
    v = common.size_info("cnn", model_size_info, LAYOUT, lambda v: len(v) == 12)
    return {"conv1": v[0:5], "conv2": v[5:10], "linear": v[10], "fc": v[11]}


def _batch_norm(name):
    return keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name=name)


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs, x = common.image_input(input_shape)
    height, width = input_shape
    for i, name in enumerate(("conv1", "conv2"), start=1):
        filters, kt, kf, st, sf = p[name]
        height = common.valid_size("cnn", name, height, kt, st)
        width = common.valid_size("cnn", name, width, kf, sf)
        x = keras.layers.Conv2D(filters, (kt, kf), strides=(st, sf), padding="valid",
                                kernel_initializer=common.truncated_normal(),
                                bias_initializer="zeros", name=name)(x)
        x = _batch_norm(f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(p["linear"], kernel_initializer=common.GLOROT,
                           bias_initializer=common.GLOROT, name="linear")(x)
    x = keras.layers.Dense(p["fc"], kernel_initializer=common.truncated_normal(),
                           bias_initializer="zeros", name="fc")(x)
    x = _batch_norm("bn3")(x)
    x = keras.layers.ReLU(name="relu3")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.truncated_normal(),
                                bias_initializer="zeros", name="final_fc")(x)
    return keras.Model(inputs, logits, name="cnn")
