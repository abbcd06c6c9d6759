"""What the model families share: --model_size_info checks and Hello Edge's initialisers."""
import math
import operator

from kws_tf.errors import KwsError


def size_info(architecture, model_size_info, layout, length_ok):
    """Checks a --model_size_info list: its length (`length_ok(values)`), whole, positive numbers.

    `layout` says in words what the architecture expects; it goes into the error.
    """
    values = list(model_size_info)
    if not length_ok(values):
        raise KwsError(f"--model_size_info for {architecture}: expected {layout}, "
                       f"got {len(values)}")
    try:
        values = [operator.index(v) for v in values]
    except TypeError:
        raise KwsError(f"--model_size_info for {architecture}: expected whole numbers, got "
                       f"{' '.join(str(v) for v in model_size_info)}") from None
    if any(v <= 0 for v in values):
        raise KwsError(f"--model_size_info for {architecture}: every number must be positive, "
                       f"got {' '.join(str(v) for v in values)}")
    return values


def valid_size(architecture, layer, size, kernel, stride):
    """Output size of a VALID convolution along one axis, ceil((in - k + 1) / s)."""
    if kernel > size:
        raise KwsError(f"--model_size_info for {architecture}: the {layer} kernel ({kernel}) is "
                       f"larger than its input ({size})")
    return math.ceil((size - kernel + 1) / stride)


def same_size(size, stride):
    return math.ceil(size / stride)


def same_pads(size, kernel, stride):
    """(output size, pad before, pad after) of TF's SAME padding along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def check_inputs(input_shape, label_count):
    """input_shape is (frames, coefficients) of the feature map."""
    frames, coefficients = input_shape
    if frames < 1 or coefficients < 1:
        raise KwsError(f"feature map {frames}x{coefficients} is empty: check the feature flags")
    if label_count < 1:
        raise KwsError(f"label count must be positive, got {label_count}")


# Hello Edge's initialisers. TF1's get_variable without an initializer is Glorot uniform,
# which is also what its biases made that way (dnn, RNN outputs, cnn's linear layer) get.
GLOROT = "glorot_uniform"


def truncated_normal():
    """tf.truncated_normal(stddev=0.01), for the tf.Variable weights of cnn and crnn.

    A new instance each time: tf_keras warns when one unseeded instance is reused.
    """
    import tf_keras as keras

    return keras.initializers.TruncatedNormal(stddev=0.01)


def image_input(input_shape):
    """The feature-map input and its [frames, coefficients, 1] image view (NHWC, H = time)."""
    import tf_keras as keras

    inputs = keras.Input(shape=tuple(input_shape), name="features")
    return inputs, keras.layers.Reshape((*input_shape, 1), name="reshape")(inputs)
