"""nas: a network found by search.py (or by nas-for-kws), built from its ``net.config``.

--model_size_info is empty; the network is the JSON file (kws_tf.models.net_config), passed as
``net_config`` (a path, the parsed dict or a NetConfig). It is the reference's
ProxylessNASNets on our time-major feature map [frames, coefficients]:

* stem: the first_conv (5x11 over MFCC x time, stride 2 in time, in our layout 11x5 with
  stride (2, 1)), batch norm, ReLU6;
* blocks: MBConv (1x1 expand unless expand_ratio is 1, k x k depthwise, 1x1 project, batch
  norm after each, ReLU6 after the first two) plus the identity shortcut where the config has
  one; a ZeroLayer block with its shortcut is the identity and adds no layers;
* feature mix 1x1 conv, batch norm, ReLU6; global average pool; linear classifier to
  `label_count` logits without bias (the reference's forward never adds it; net.config's
  out_features is replaced by the label count of the data).

Every conv and the classifier keeps net.config's ``num_bits`` (``layer.num_bits``); when set,
its kernel goes through the reference's weight quantiser in the forward (training from a
net.config with num_bits 8 is the reference's retraining, 8-bit weight QAT; edit the file's
num_bits for other widths, as the reference's README says). Layer names are ``first_conv*``,
``block<i>_{expand,dw,project}*``, ``feature_mix*`` and ``classifier``.
"""
import tf_keras as keras

from kws_tf.errors import KwsError
from kws_tf.models import common
from kws_tf.models import nas_layers as layers
from kws_tf.models import net_config as nc

LAYOUT = "no numbers (the network comes from --net_config, a nas-for-kws net.config)"


def params(model_size_info):
    if list(model_size_info or []):
        raise KwsError(f"--model_size_info for nas: expected {LAYOUT}, got "
                       f"{len(list(model_size_info))}")
    return []


def model(model_size_info, input_shape, label_count, net_config=None):
    params(model_size_info)
    if net_config is None:
        raise KwsError("--model_architecture nas needs --net_config (a net.config file)")
    config = nc.resolve(net_config)
    common.check_inputs(input_shape, label_count)
    inputs, x = common.image_input(input_shape)
    for layer in layers.conv_bn_act(config.first_conv, "first_conv", config):
        x = layer(x)
    for i, block in enumerate(config.blocks):
        if isinstance(block.op, nc.Zero):
            continue
        y = x
        for layer in layers.mbconv(block.op, f"block{i}", config):
            y = layer(y)
        x = keras.layers.Add(name=f"block{i}_add")([y, x]) if block.shortcut else y
    for layer in layers.conv_bn_act(config.feature_mix, "feature_mix", config):
        x = layer(x)
    for layer in layers.classifier(config.classifier, label_count):
        x = layer(x)
    return keras.Model(inputs, x, name="nas")
