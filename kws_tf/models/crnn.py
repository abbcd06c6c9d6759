"""crnn: one VALID convolution + ReLU, then a GRU stack over its time axis, an FC layer, logits.

--model_size_info filters kernel_t kernel_f stride_t stride_f gru_layers gru_units fc_units
(8 numbers). The conv output [T', F', filters] is read as T' steps of F'*filters inputs
(frequency-major, channel fastest, as Hello Edge's reshape). No batch norm.
Hello Edge ``create_crnn_model``.
"""
import tf_keras as keras

from kws_tf.models import common
from kws_tf.models.gru import gru_stack

LAYOUT = ("8 numbers (conv filters, kernel_t, kernel_f, stride_t, stride_f; GRU layers, GRU "
          "units; fc units)")


def params(model_size_info):
    v = common.size_info("crnn", model_size_info, LAYOUT, lambda v: len(v) == 8)
    return {"conv": v[0:5], "layers": v[5], "units": v[6], "fc": v[7]}


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    filters, kt, kf, st, sf = p["conv"]
    steps = common.valid_size("crnn", "conv", input_shape[0], kt, st)
    width = common.valid_size("crnn", "conv", input_shape[1], kf, sf)
    inputs, x = common.image_input(input_shape)
    x = keras.layers.Conv2D(filters, (kt, kf), strides=(st, sf), padding="valid",
                            activation="relu", kernel_initializer=common.GLOROT,
                            bias_initializer="zeros", name="conv")(x)
    x = keras.layers.Reshape((steps, width * filters), name="reshape_rnn")(x)
    x = gru_stack(p["layers"], p["units"], name="gru")(x)
    x = keras.layers.Dense(p["fc"], activation="relu", kernel_initializer=common.GLOROT,
                           bias_initializer="zeros", name="fc")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.truncated_normal(),
                                bias_initializer="zeros", name="final_fc")(x)
    return keras.Model(inputs, logits, name="crnn")
