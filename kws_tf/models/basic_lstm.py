"""basic_lstm: one TF1 BasicLSTMCell (forget bias 1.0) over the frames, its last h -> logits.

--model_size_info units (1 number). Each of the T frames is one step of `dct` inputs.
Hello Edge ``create_basic_lstm_model``.
"""
import tf_keras as keras

from kws_tf.models import common
from kws_tf.models.cells import BasicLSTMCell

LAYOUT = "1 number (LSTM units)"


def params(model_size_info):
    (units,) = common.size_info("basic_lstm", model_size_info, LAYOUT, lambda v: len(v) == 1)
    return {"units": units}


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = keras.layers.RNN(BasicLSTMCell(p["units"], forget_bias=1.0, name="basic_lstm_cell"),
                         name="lstm")(inputs)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer=common.GLOROT, name="output_layer")(x)
    return keras.Model(inputs, logits, name="basic_lstm")
