"""gru: a stack of TF1 GRUCells over the frames, the last layer's final state -> logits.

--model_size_info num_layers units (2 numbers). Each of the T frames is one step of `dct`
inputs; the layers step together, as TF1's MultiRNNCell does. Hello Edge ``create_gru_model``.
"""
import tf_keras as keras

from kws_tf.models import common
from kws_tf.models.cells import GRUCell

LAYOUT = "2 numbers (GRU layers, units per layer)"


def params(model_size_info):
    layers, units = common.size_info("gru", model_size_info, LAYOUT, lambda v: len(v) == 2)
    return {"layers": layers, "units": units}


def gru_stack(layers, units, name):
    """keras.layers.RNN over `layers` GRUCells (a StackedRNNCells even for one layer)."""
    return keras.layers.RNN([GRUCell(units, name=f"gru_cell_{i}") for i in range(layers)],
                            name=name)


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = gru_stack(p["layers"], p["units"], name="gru")(inputs)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer=common.GLOROT, name="output_layer")(x)
    return keras.Model(inputs, logits, name="gru")
