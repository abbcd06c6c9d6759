"""The TF1 RNN cells Hello Edge used, as Keras cells with TF1's exact maths and weight layout.

tf_keras's LSTMCell/GRUCell order their gates differently, split the kernel into input and
recurrent parts, fold the forget bias into the initial bias, and have no peepholes or
projection. These cells keep TF1's single kernel over concat([x, h]) and its gate order, so
weights imported from a Hello Edge graph drop in unchanged and give the graph's numbers.
Use them inside ``keras.layers.RNN``.
"""
import tensorflow as tf
import tf_keras as keras

from kws_tf.models.common import GLOROT


def _matmul_bias(inputs, state, kernel, bias):
    return tf.nn.bias_add(tf.matmul(tf.concat([inputs, state], axis=1), kernel), bias)


@keras.saving.register_keras_serializable(package="kws_tf")
class BasicLSTMCell(keras.layers.Layer):
    """tf.nn.rnn_cell.BasicLSTMCell: gates i, j (candidate), f, o; forget_bias added at run time.

    State is (c, h); the output is h.
    """

    def __init__(self, units, forget_bias=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.forget_bias = forget_bias
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1] + self.units,
                                                            4 * self.units), initializer=GLOROT)
        self.bias = self.add_weight(name="bias", shape=(4 * self.units,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states):
        c, h = states
        i, j, f, o = tf.split(_matmul_bias(inputs, h, self.kernel, self.bias), 4, axis=1)
        new_c = c * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * tf.tanh(j)
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, [new_c, new_h]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "forget_bias": self.forget_bias}


@keras.saving.register_keras_serializable(package="kws_tf")
class PeepholeLSTMCell(keras.layers.Layer):
    """tf.nn.rnn_cell.LSTMCell(use_peepholes=True, num_proj=P), no cell clipping.

    Gates i, j, f, o over concat([x, m]); peepholes w_i_diag, w_f_diag on the old cell state and
    w_o_diag on the new one; the output m = o * tanh(c) is projected to P units (no bias).
    State is (c, m); the output is m.
    """

    def __init__(self, units, num_proj, forget_bias=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.num_proj = num_proj
        self.forget_bias = forget_bias
        self.state_size = [units, num_proj]
        self.output_size = num_proj

    def build(self, input_shape):
        units = self.units
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1] + self.num_proj,
                                                            4 * units), initializer=GLOROT)
        self.bias = self.add_weight(name="bias", shape=(4 * units,), initializer="zeros")
        self.w_f_diag = self.add_weight(name="w_f_diag", shape=(units,), initializer=GLOROT)
        self.w_i_diag = self.add_weight(name="w_i_diag", shape=(units,), initializer=GLOROT)
        self.w_o_diag = self.add_weight(name="w_o_diag", shape=(units,), initializer=GLOROT)
        self.projection = self.add_weight(name="projection", shape=(units, self.num_proj),
                                          initializer=GLOROT)
        super().build(input_shape)

    def call(self, inputs, states):
        c, m = states
        i, j, f, o = tf.split(_matmul_bias(inputs, m, self.kernel, self.bias), 4, axis=1)
        new_c = (tf.sigmoid(f + self.forget_bias + self.w_f_diag * c) * c
                 + tf.sigmoid(i + self.w_i_diag * c) * tf.tanh(j))
        new_m = tf.matmul(tf.sigmoid(o + self.w_o_diag * new_c) * tf.tanh(new_c), self.projection)
        return new_m, [new_c, new_m]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_proj": self.num_proj,
                "forget_bias": self.forget_bias}


@keras.saving.register_keras_serializable(package="kws_tf")
class GRUCell(keras.layers.Layer):
    """tf.nn.rnn_cell.GRUCell: gates r (reset), u (update) from one kernel; reset before the matmul.

    c = tanh(concat([x, r * h]) W_c + b_c); h' = u * h + (1 - u) * c. Gate bias starts at 1,
    as in TF1, so the cell initially keeps its state.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        rows = input_shape[-1] + self.units
        self.gates_kernel = self.add_weight(name="gates_kernel", shape=(rows, 2 * self.units),
                                            initializer=GLOROT)
        self.gates_bias = self.add_weight(name="gates_bias", shape=(2 * self.units,),
                                          initializer="ones")
        self.candidate_kernel = self.add_weight(name="candidate_kernel",
                                                shape=(rows, self.units), initializer=GLOROT)
        self.candidate_bias = self.add_weight(name="candidate_bias", shape=(self.units,),
                                              initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, states):
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        gates = tf.sigmoid(_matmul_bias(inputs, h, self.gates_kernel, self.gates_bias))
        r, u = tf.split(gates, 2, axis=1)
        c = tf.tanh(_matmul_bias(inputs, r * h, self.candidate_kernel, self.candidate_bias))
        new_h = u * h + (1 - u) * c
        return new_h, [new_h] if nested else new_h

    def get_config(self):
        return {**super().get_config(), "units": self.units}
