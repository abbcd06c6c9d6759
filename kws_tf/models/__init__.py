"""The model zoo: one module per --model_architecture, as Hello Edge's models.py had them.

Every model takes the time-major feature map [batch, frames, dct] (float32) and returns
logits (no softmax). Each module has ``LAYOUT`` (what its --model_size_info means, in words),
``params(model_size_info)`` (checks the list; KwsError saying what is expected) and
``model(model_size_info, input_shape, label_count)`` (a tf_keras functional Model).
"""
from kws_tf.errors import KwsError
from kws_tf.models import (basic_lstm, cnn, convmixer, crnn, dnn, ds_cnn, ds_cnn_bf, gru, lstm,
                           nas)

ARCHITECTURES = {
    "dnn": dnn,
    "cnn": cnn,
    "basic_lstm": basic_lstm,
    "lstm": lstm,
    "gru": gru,
    "crnn": crnn,
    "ds_cnn": ds_cnn,
    "ds_cnn_bf": ds_cnn_bf,
    "nas": nas,
    "convmixer": convmixer,
}


def architecture_module(architecture):
    """The module of a --model_architecture name; KwsError listing the valid ones."""
    try:
        return ARCHITECTURES[architecture]
    except (KeyError, TypeError):
        raise KwsError(f"--model_architecture {architecture!r} is not one of "
                       f"{', '.join(ARCHITECTURES)}") from None


def build_model(architecture, model_size_info, input_shape, label_count, net_config=None):
    """A fresh model: input [batch, *input_shape] features, output [batch, label_count] logits.
    `net_config` (a path or parsed nas-for-kws net.config) is the `nas` architecture's."""
    module = architecture_module(architecture)
    if architecture == "nas":
        return module.model(model_size_info, tuple(input_shape), label_count, net_config)
    if net_config:
        raise KwsError(f"--net_config is for --model_architecture nas, not {architecture}")
    return module.model(model_size_info, tuple(input_shape), label_count)


def size_info_for(architecture, model_size_info):
    """--model_size_info as given, except for the default (ds_cnn_bf's): nas ignores it (it
    takes no numbers) and convmixer takes its own."""
    if list(model_size_info or []) == list(DEFAULT_MODEL_SIZE_INFO):
        if architecture == "nas":
            return []
        if architecture == "convmixer":
            return list(convmixer.DEFAULT_SIZE_INFO)
    return list(model_size_info) if model_size_info is not None else None


DEFAULT_ARCHITECTURE = "ds_cnn_bf"
DEFAULT_MODEL_SIZE_INFO = (2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1)


def add_model_flags(parser, defaults=True):
    """--model_architecture / --model_size_info (Hello Edge's names and meaning).

    With `defaults` False both default to None, for tools that read them from a
    checkpoint's sidecar and only check what the user gives.
    """
    group = parser.add_argument_group("model (as Hello Edge)")
    group.add_argument("--model_architecture", choices=list(ARCHITECTURES),
                       default=DEFAULT_ARCHITECTURE if defaults else None,
                       help="What model architecture to use.")
    group.add_argument("--model_size_info", type=int, nargs="+",
                       default=list(DEFAULT_MODEL_SIZE_INFO) if defaults else None,
                       help="Model dimensions; the meaning depends on the architecture "
                            "(see README, 'Models').")
    group.add_argument("--net_config", default=None,
                       help="For --model_architecture nas: the net.config of a network found "
                            "by search.py or nas-for-kws.")
    return group
