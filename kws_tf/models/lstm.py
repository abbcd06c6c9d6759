"""lstm: one TF1 LSTMCell with peepholes and a projection, its last projected output -> logits.

--model_size_info projection_units cell_units (2 numbers, projection first, as Hello Edge).
Each of the T frames is one step of `dct` inputs. Hello Edge ``create_lstm_model``.
"""
import tf_keras as keras

from kws_tf.models import common
from kws_tf.models.cells import PeepholeLSTMCell

LAYOUT = "2 numbers (projection units, cell units)"


def params(model_size_info):
    projection, units = common.size_info("lstm", model_size_info, LAYOUT,
                                         lambda v: len(v) == 2)
    return {"projection": projection, "units": units}


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    cell = PeepholeLSTMCell(p["units"], num_proj=p["projection"], forget_bias=1.0,
                            name="lstm_cell")
    x = keras.layers.RNN(cell, name="lstm")(inputs)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer=common.GLOROT, name="output_layer")(x)
    return keras.Model(inputs, logits, name="lstm")
