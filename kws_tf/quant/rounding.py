"""nas-for-kws's post-training weight rounding (its ``run_exp.py --quantize``).

Every convolution kernel (standard and depthwise; not the classifier) is rounded to the
nearest of 2**bits levels min + k * (max - min) / 2**bits, k = 0 .. 2**bits - 1, with min
and max the kernel's own (so max itself is not a level, as in the reference).
"""
import numpy as np
import tf_keras as keras


def round_to_levels(weights, bits):
    low, high = float(weights.min()), float(weights.max())
    if high == low:
        return weights
    step = (high - low) / 2 ** bits
    k = np.clip(np.round((weights - low) / step), 0, 2 ** bits - 1)
    return (low + k * step).astype(weights.dtype)


def round_convolutions(model, bits):
    """Rounds `model`'s convolution kernels in place; returns the names of the layers."""
    rounded = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            layer.depthwise_kernel.assign(round_to_levels(layer.depthwise_kernel.numpy(), bits))
        elif isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(round_to_levels(layer.kernel.numpy(), bits))
        else:
            continue
        rounded.append(layer.name)
    return rounded
