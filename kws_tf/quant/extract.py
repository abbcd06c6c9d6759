"""The float stages of a trained DS-CNN: what the integer graph quantizes.

ds_cnn_bf maps layer for layer (convolutions without bias, ReLU, global max pool, FC with
bias). Hello Edge's ds_cnn has a bias and batch norm after every convolution: additive terms
the bias-free graph cannot carry, since its layers are rescaled freely. With ``fold_biases``
batch norm is folded into the weights and biases (per output channel a = gamma /
sqrt(variance + epsilon): w * a and (b - mean) * a + beta), the biases are later expressed
in accumulator units, and the average pool becomes a sum, a shift and a factor folded into
the FC weights (see integer_graph). Other architectures have no integer graph.
"""
import dataclasses

import numpy as np
import tf_keras as keras

from kws_tf.errors import KwsError
from kws_tf.models import common
from kws_tf.quant import stages as st

SUPPORTED = ("ds_cnn_bf", "ds_cnn")
_PASS_THROUGH = (keras.layers.InputLayer, keras.layers.Reshape, keras.layers.Flatten)
_MERGED = (keras.layers.BatchNormalization, keras.layers.ReLU)  # into the stage before them


def float_stages(model, architecture, fold_biases=False, where="the checkpoint"):
    """The model as float64 stages; KwsError for what the integer graph cannot express."""
    if architecture not in SUPPORTED:
        raise KwsError(f"{where} is a {architecture} model: the integer graph supports "
                       "ds_cnn_bf (and ds_cnn with --fold_biases)")
    frames, coefficients = model.input_shape[1:]
    shape = (frames, coefficients, 1)
    stages = []
    for layer in model.layers:
        if isinstance(layer, _PASS_THROUGH):
            continue
        stage = _stage(layer, shape, stages[-1] if stages else None)
        if isinstance(layer, _MERGED):
            stages[-1] = stage
        else:
            stages.append(stage)
        shape = stage.out_shape
    if not stages or stages[-1].kind != st.FC:
        raise KwsError(f"{where}: the {architecture} model does not end in a fully "
                       "connected layer")
    additive = [s.name for s in stages[:-1] if s.bias is not None]
    if additive and not fold_biases:
        raise KwsError(f"{where} is a {architecture} model whose layers {', '.join(additive)} "
                       "add biases (and batch norm): additive terms the bias-free integer "
                       "graph does not have. Pass --fold_biases to fold batch norm into the "
                       "weights and carry the biases in accumulator units, or train ds_cnn_bf")
    return stages


def _stage(layer, shape, previous):
    height, width, channels = shape
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _check_conv(layer)
        if layer.depth_multiplier != 1:
            raise KwsError(f"layer {layer.name}: depth_multiplier {layer.depth_multiplier} "
                           "(the integer graph has one filter per channel)")
        weights = layer.depthwise_kernel.numpy()[..., 0]
        return _conv_stage(layer, st.DEPTHWISE, weights, shape, channels)
    if isinstance(layer, keras.layers.Conv2D):
        _check_conv(layer)
        weights = layer.kernel.numpy()
        return _conv_stage(layer, st.CONV, weights, shape, weights.shape[-1])
    if isinstance(layer, keras.layers.BatchNormalization):
        return _fold_batch_norm(layer, _linear_before(layer, previous))
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["max_value"] is not None or config["negative_slope"] or config["threshold"]:
            raise KwsError(f"layer {layer.name}: only a plain ReLU has an integer equivalent")
        return dataclasses.replace(_linear_before(layer, previous), relu=True)
    if isinstance(layer, keras.layers.GlobalMaxPooling2D):
        return st.Stage(layer.name, st.MAX_POOL, shape, (1, 1, channels))
    if isinstance(layer, keras.layers.AveragePooling2D):
        if tuple(layer.pool_size) != (height, width):
            raise KwsError(f"layer {layer.name}: an average pool of {layer.pool_size} over a "
                           f"{height}x{width} map (the integer graph pools the whole map)")
        return st.Stage(layer.name, st.AVG_POOL, shape, (1, 1, channels))
    if isinstance(layer, keras.layers.Dense):
        if layer.get_config()["activation"] != "linear":
            raise KwsError(f"layer {layer.name}: the FC layer must have no activation")
        weights = layer.kernel.numpy().astype(np.float64)
        bias = layer.bias.numpy().astype(np.float64) if layer.use_bias else None
        return st.Stage(layer.name, st.FC, shape, (1, 1, weights.shape[1]), weights, bias)
    raise KwsError(f"layer {layer.name} ({type(layer).__name__}) has no integer-graph "
                   "equivalent")


def _check_conv(layer):
    if tuple(layer.dilation_rate) != (1, 1) or layer.get_config()["activation"] != "linear":
        raise KwsError(f"layer {layer.name}: dilated or activated convolutions have no "
                       "integer-graph equivalent")


def _conv_stage(layer, kind, weights, shape, out_channels):
    height, width, _ = shape
    kernel, strides = tuple(layer.kernel_size), tuple(layer.strides)
    if layer.padding == "same":
        out_h, top, bottom = common.same_pads(height, kernel[0], strides[0])
        out_w, left, right = common.same_pads(width, kernel[1], strides[1])
    else:
        out_h, out_w = (st.valid_size(height, kernel[0], strides[0]),
                        st.valid_size(width, kernel[1], strides[1]))
        top = bottom = left = right = 0
    bias = layer.bias.numpy().astype(np.float64) if layer.use_bias else None
    return st.Stage(layer.name, kind, shape, (out_h, out_w, out_channels),
                    weights.astype(np.float64), bias, kernel, strides, (top, bottom, left, right))


def _linear_before(layer, previous):
    if previous is None or previous.kind not in st.LINEAR or previous.relu:
        raise KwsError(f"layer {layer.name} ({type(layer).__name__}) does not follow a "
                       "convolution or FC layer: no integer-graph equivalent")
    return previous


def _fold_batch_norm(layer, stage):
    """Batch norm in inference mode as a per-channel scale of the weights and a bias."""
    scale = 1.0 / np.sqrt(layer.moving_variance.numpy().astype(np.float64) + layer.epsilon)
    if layer.scale:
        scale = scale * layer.gamma.numpy()
    shift = layer.beta.numpy().astype(np.float64) if layer.center else 0.0
    bias = stage.bias if stage.bias is not None else 0.0
    bias = (bias - layer.moving_mean.numpy()) * scale + shift
    return dataclasses.replace(stage, weights=stage.weights * scale, bias=bias)
