"""Small random DS-CNNs, MFCC-like inputs and their integer graphs, for the quant and
export tests."""
import numpy as np

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tf_keras as keras

from kws_tf.models import build_model
from kws_tf.quant import extract
from kws_tf.quant import integer_graph as ig

SMALL = (2, 12, 4, 4, 2, 2, 8, 3, 3, 1, 1)  # the reference layout, narrower
THREE_LAYERS = (3, 8, 3, 3, 2, 1, 6, 3, 3, 1, 1, 5, 3, 3, 2, 2)
ONE_LAYER = (1, 6, 5, 4, 2, 2)
INPUT_SHAPE = (25, 10)


def model(architecture="ds_cnn_bf", size_info=SMALL, input_shape=INPUT_SHAPE, labels=4,
          seed=0):
    """A model with random weights; ds_cnn also gets random batch-norm statistics and biases,
    so that folding them matters."""
    keras.utils.set_random_seed(seed)
    built = build_model(architecture, size_info, input_shape, labels)
    rng = np.random.default_rng(seed)
    for layer in built.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.3, size))
            layer.moving_variance.assign(rng.uniform(0.2, 2.0, size))
            layer.beta.assign(rng.normal(0, 0.2, size))
        for bias in [w for w in layer.weights if w.name.endswith("bias:0")]:
            bias.assign(rng.normal(0, 0.1, bias.shape))
    return built


def maps(count, input_shape=INPUT_SHAPE, seed=0):
    """MFCC-like float maps: a large negative first coefficient, small others."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 4, (count, *input_shape))
    values[..., 0] = rng.normal(-25, 12, (count, input_shape[0]))
    return values.astype(np.float32)


def graph(built, architecture="ds_cnn_bf", calibration=None, **options):
    """(float stages, integer graph): input scale and shifts chosen on `calibration`."""
    stages = extract.float_stages(built, architecture, fold_biases=architecture == "ds_cnn")
    calibration = maps(64, built.input_shape[1:]) if calibration is None else calibration
    frac_bits = options.pop("input_frac_bits", None)
    if frac_bits is None:
        frac_bits, _ = ig.choose_input_frac_bits(stages, calibration, **{
            key: options[key] for key in ("input_bits", "weight_bits", "activation_bits")
            if key in options})
    return stages, ig.quantize(stages, frac_bits, calibration=calibration, **options)
