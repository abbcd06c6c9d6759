"""dnn: fully connected layers on the flattened feature map (Hello Edge ``create_dnn_model``).

--model_size_info h1 h2 ... hn: one hidden layer (Dense + ReLU) of h_i units each.
The feature map is flattened time-major (index t*dct + k), as Hello Edge's fingerprint is.
"""
import tf_keras as keras

from kws_tf.models import common

LAYOUT = "1 or more numbers (units of each hidden layer)"


def params(model_size_info):
    """The hidden layer widths."""
    return common.size_info("dnn", model_size_info, LAYOUT, lambda v: len(v) >= 1)


def model(model_size_info, input_shape, label_count):
    hidden = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        # TF1 get_variable biases: Glorot uniform, not zeros.
        x = keras.layers.Dense(units, activation="relu", kernel_initializer=common.GLOROT,
                               bias_initializer=common.GLOROT, name=f"fc{i}")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer="zeros", name="final_fc")(x)
    return keras.Model(inputs, logits, name="dnn")
