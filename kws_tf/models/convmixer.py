"""convmixer: Ng et al.'s ConvMixer (ICASSP 2022), convolutions with MLP-Mixer blocks.

--model_size_info C K_IN K_PRE N, then N groups of (K_T, K_F, FILTERS), then C_POST K_POST1
K_POST2 (7 + 3*N numbers). The [frames, bands] input (log mel, --feature_type log_mel, as the
paper) is read as a sequence of frames with a channel per band:

    pre-convolution  a depthwise-separable 1-D convolution over time (kernel K_IN) to C
                     channels; then a residual block of one (K_PRE) and a pointwise one
    N ConvMixer      frequency: the [frames, C] map as a one-channel image, a 3x3
                     convolution to FILTERS maps, a depthwise (1, K_F) convolution along the
                     channel ("frequency") axis and a 1x1 convolution back to one map;
                     time: a depthwise-separable 1-D convolution (K_T) over it; mixer: a
                     time-mixing MLP across frames (hidden frames // 4) and a frequency-mixing
                     MLP across channels (hidden C // 2), each after a layer norm and added to
                     its input; the block adds its input and the frequency map to the result
    post-convolution depthwise-separable 1-D convolutions to C_POST channels (K_POST1) and
                     then again (K_POST2, dilation 2), and a pointwise one

Convolutions have no bias and are followed by batch norm and swish, as in the authors' code;
the MLPs use GELU, as x * sigmoid(1.702 x) (`gelu_sigmoid`). Then the average over frames
(the authors' code takes the maximum) and a fully connected layer to the logits. The default,
64 5 7 4 9 5 64 11 5 32 13 7 16 15 7 8 128 17 19 (the authors' code's), has 119,492
trainable parameters on 98 frames x 64 mel bands and 12 labels (the time-mixing MLPs grow
with the frames).
"""
import tensorflow as tf
import tf_keras as keras

from kws_tf.models import common

LAYOUT = ("7 + 3*N numbers (C, K_IN, K_PRE, N, then N groups of K_T, K_F, FILTERS, then "
          "C_POST, K_POST1, K_POST2)")
DEFAULT_SIZE_INFO = (64, 5, 7, 4, 9, 5, 64, 11, 5, 32, 13, 7, 16, 15, 7, 8, 128, 17, 19)


def params(model_size_info):
    """{channels, kernel_in, kernel_pre, blocks: [{kernel_t, kernel_f, filters}], post:
    (channels, kernel 1, kernel 2)}."""
    def length_ok(v):
        return len(v) >= 10 and (len(v) - 7) % 3 == 0 and v[3] == (len(v) - 7) // 3

    v = common.size_info("convmixer", model_size_info, LAYOUT, length_ok)
    blocks = [{"kernel_t": v[i], "kernel_f": v[i + 1], "filters": v[i + 2]}
              for i in range(4, len(v) - 3, 3)]
    return {"channels": v[0], "kernel_in": v[1], "kernel_pre": v[2], "blocks": blocks,
            "post": tuple(v[-3:])}


@keras.utils.register_keras_serializable(package="kws_tf")
def gelu_sigmoid(x):
    """GELU by its sigmoid approximation x * sigmoid(1.702 x) (Hendrycks and Gimpel): TFLite
    LOGISTIC and MUL, which TensorFlow Lite Micro runs; it has no kernel for TFLite's GELU."""
    return x * tf.sigmoid(1.702 * x)


def _norm_swish(x, name):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("swish", name=f"{name}_swish")(x)


def _separable(x, channels, kernel, name, dilation=1):
    """Depthwise-separable 1-D convolution over frames, batch norm, swish."""
    x = keras.layers.SeparableConv1D(channels, kernel, padding="same", dilation_rate=dilation,
                                     use_bias=False, name=name)(x)
    return _norm_swish(x, name)


def _mlp(x, hidden, name):
    """Layer norm, then a GELU MLP over the last axis back to its size, added to x."""
    y = keras.layers.LayerNormalization(name=f"{name}_norm")(x)
    y = keras.layers.Dense(hidden, activation=gelu_sigmoid, name=f"{name}_fc1")(y)
    y = keras.layers.Dense(x.shape[-1], name=f"{name}_fc2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _frequency(x, block, name):
    """The [frames, C] map as an image: 3x3 to FILTERS maps, (1, K_F) depthwise, 1x1 to one."""
    frames, channels = x.shape[1:]
    y = keras.layers.Reshape((frames, channels, 1), name=f"{name}_image")(x)
    y = keras.layers.Conv2D(block["filters"], 3, padding="same", use_bias=False,
                            activation="swish", name=f"{name}_conv")(y)
    y = keras.layers.DepthwiseConv2D((1, block["kernel_f"]), padding="same", use_bias=False,
                                     activation="swish", name=f"{name}_dw")(y)
    y = keras.layers.Conv2D(1, 1, use_bias=False, name=f"{name}_pw")(y)
    y = _norm_swish(y, f"{name}_pw")
    return keras.layers.Reshape((frames, channels), name=f"{name}_map")(y)


def _block(x, block, index):
    name = f"mixer_{index}"
    frequency = _frequency(x, block, f"{name}_freq")
    y = _separable(frequency, x.shape[-1], block["kernel_t"], f"{name}_time")
    y = keras.layers.Permute((2, 1), name=f"{name}_to_time")(y)  # [C, frames]: mix frames
    y = _mlp(y, max(1, y.shape[-1] // 4), f"{name}_time_mix")
    y = keras.layers.Permute((2, 1), name=f"{name}_to_freq")(y)
    y = _mlp(y, max(1, y.shape[-1] // 2), f"{name}_freq_mix")
    y = keras.layers.Activation("swish", name=f"{name}_swish")(y)
    return keras.layers.Add(name=f"{name}_add")([x, frequency, y])


def model(model_size_info, input_shape, label_count):
    p = params(model_size_info)
    common.check_inputs(input_shape, label_count)
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = _separable(inputs, p["channels"], p["kernel_in"], "conv_in")
    y = _separable(x, p["channels"], p["kernel_pre"], "pre")
    y = _separable(y, p["channels"], 1, "pre_pw")
    x = keras.layers.Add(name="pre_add")([x, y])
    for index, block in enumerate(p["blocks"], 1):
        x = _block(x, block, index)
    channels, kernel_1, kernel_2 = p["post"]
    x = _separable(x, channels, kernel_1, "post_1")
    x = _separable(x, channels, kernel_2, "post_2", dilation=2)
    x = keras.layers.Conv1D(channels, 1, use_bias=False, name="post_pw")(x)
    x = _norm_swish(x, "post_pw")
    x = keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)
    logits = keras.layers.Dense(label_count, kernel_initializer=common.GLOROT,
                                bias_initializer="zeros", name="fc")(x)
    return keras.Model(inputs, logits, name="convmixer")
