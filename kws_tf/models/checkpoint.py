"""A model checkpoint plus the JSON that says how to rebuild the model around it.

``save(model, prefix, info)`` writes ``tf.train.Checkpoint(model=model).write(prefix)``
(files ``prefix.index`` and ``prefix.data-*``) and ``prefix.json``, the sidecar. The sidecar
is one JSON object; ``load`` needs these keys (others, such as provenance, are kept as is):

    model_architecture  str, a kws_tf.models.ARCHITECTURES name
    model_size_info     [int], as the --model_size_info flag
    input_shape         [frames, dct]: the feature map the model takes
    labels              [str], one per output, in output order
    features            {sample_rate, clip_duration_ms, window_size_ms, window_stride_ms,
                         dct_coefficient_count, feature_type, mel_bands, feature_bits,
                         feature_frac_bits}: the feature flags (kws_tf.FeatureConfig; those
                         an older sidecar lacks take their defaults)

and, optional, ``quantize``: null for a float model, else how it was quantization-aware
trained: mode "tfmot" (kws_tf.quant.qat; the model is rebuilt with its QAT wrappers) or
"integer" (kws_tf.quant.integer_sim; the weights are a float ds_cnn_bf's, and the entry
holds the input scale and shifts the integer graph was trained with).

Restore by hand with ``tf.train.Checkpoint(model=model).read(prefix)``; ``model.load_weights``
does not fit this layout (it expects the model itself as the checkpoint's root).
"""
import json
import os

import tensorflow as tf

from kws_tf import cli
from kws_tf.config import (
    DEFAULT_WANTED_WORDS,
    DataConfig,
    FEATURE_FLAGS,
    FeatureConfig,
    ModelSpec,
    add_feature_flags,
    from_flags,
    parse_wanted_words,
    same_setting,
    setting_text,
)
from kws_tf.errors import KwsError

SIDECAR_SUFFIX = ".json"
REQUIRED_KEYS = ("model_architecture", "model_size_info", "input_shape", "labels", "features")


def sidecar_path(prefix):
    return os.fspath(prefix) + SIDECAR_SUFFIX


def save(model, prefix, spec):
    """Writes the checkpoint and its sidecar, `spec` (a ModelSpec, or its dict) as
    ModelSpec.to_dict(); returns the sidecar's path."""
    if not isinstance(spec, ModelSpec):
        spec = ModelSpec.from_dict(spec, f"the sidecar of {prefix}")
    cli.check_writable(os.fspath(prefix))
    tf.train.Checkpoint(model=model).write(os.fspath(prefix))
    cli.write_json(sidecar_path(prefix), spec.to_dict())
    return sidecar_path(prefix)


def read_info(prefix):
    """The sidecar of checkpoint `prefix`, checked for the keys needed to rebuild the model."""
    path = sidecar_path(prefix)
    info = cli.read_json(path, "sidecar", f"the sidecar of checkpoint {prefix}")
    # Any sidecar version this kws-tf reads; features an old one lacks take their defaults.
    return ModelSpec.from_dict(info, path).to_dict()


MODEL_KEYS = ("model_architecture", "model_size_info", "input_shape", "labels", "features",
              "quantize", "net_config")


def check_same_model(info, expected, where, keys=MODEL_KEYS):
    """A checkpoint's sidecar must describe the model this command builds (in `keys`)."""
    for key in keys:
        if info.get(key) != expected.get(key):
            raise KwsError(f"{where} was trained with {key} {info.get(key)}, but this command "
                           f"uses {expected.get(key)}")


def restore(model, prefix):
    """Restores every weight of `model`; a KwsError naming the checkpoint when they differ."""
    try:
        status = tf.train.Checkpoint(model=model).read(os.fspath(prefix))
        status.expect_partial()  # optimizer slots of a training checkpoint are not needed
        status.assert_existing_objects_matched()
    except (tf.errors.NotFoundError, tf.errors.DataLossError) as error:
        raise KwsError(f"{prefix}: cannot read the checkpoint ({error.message})") from None
    except (AssertionError, ValueError) as error:
        raise KwsError(f"{prefix}: the checkpoint does not match the model "
                       f"({str(error).splitlines()[0][:300]})") from None


STATE_FILE = "checkpoint_state.json"  # train.py's record of complete checkpoints in a train_dir


def find(path, flag="--checkpoint"):
    """A checkpoint prefix from what a user passes: a prefix, or a train_dir (its best
    checkpoint, else its latest). Returns (prefix, how it was chosen)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        state_path = os.path.join(path, STATE_FILE)
        try:
            with open(state_path) as stream:
                state = json.load(stream)
        except FileNotFoundError:
            raise KwsError(f"{flag} {path}: a folder without {STATE_FILE}; give a checkpoint "
                           "prefix or a train.py --train_dir") from None
        except (OSError, ValueError) as error:
            raise KwsError(f"{state_path}: unreadable ({error})") from None
        for prefix, how in ((state.get("best"), "best"),
                            ((state.get("latest") or [None])[-1], "latest")):
            # The state names paths as train.py saw them; the folder may have moved since.
            candidate = prefix and os.path.join(path, *(["best"] if how == "best" else []),
                                                os.path.basename(prefix))
            if candidate and os.path.exists(candidate + ".index"):
                return candidate, f"the {how} checkpoint of {path}"
        raise KwsError(f"{flag} {path}: {STATE_FILE} names no checkpoint that exists")
    if not os.path.exists(path + ".index"):
        raise KwsError(f"{flag} {path}: no such checkpoint ({path}.index is missing)")
    return path, path


def add_flags(parser):
    """--checkpoint plus model and feature flags that default to the checkpoint's sidecar."""
    from kws_tf import models

    parser.add_argument("--checkpoint", required=True,
                        help="Checkpoint prefix (e.g. train_dir/best/ds_cnn_9507.ckpt-24200) or "
                             "a train.py --train_dir (its best checkpoint).")
    models.add_model_flags(parser, defaults=False)
    group = add_feature_flags(parser)
    group.description = ("Default: the checkpoint's sidecar (else Hello Edge's defaults); "
                         "given, they must agree with it.")
    parser.set_defaults(**{key: None for key in FEATURE_FLAGS})


def info_from_flags(args, prefix, labels=None):
    """The model description of checkpoint `prefix`: its sidecar, checked against the flags
    the user gave, or (without a sidecar) built from the flags and `labels`."""
    from kws_tf import models

    given = {key: getattr(args, key) for key in FEATURE_FLAGS if getattr(args, key) is not None}
    if not os.path.exists(sidecar_path(prefix)):
        if args.model_architecture is None or args.model_size_info is None or labels is None:
            raise KwsError(f"--checkpoint {prefix} has no sidecar {sidecar_path(prefix)}: give "
                           "--model_architecture, --model_size_info and the data/feature flags")
        config = FeatureConfig(**given).validate()
        return ModelSpec(args.model_architecture, tuple(args.model_size_info), config.shape,
                         tuple(labels), config).to_dict()
    info = read_info(prefix)
    for key in ("model_architecture", "model_size_info"):
        value = getattr(args, key)
        if value is not None and value != info[key]:
            raise KwsError(f"--{key} {_text(value)} does not match --checkpoint {prefix}, "
                           f"which has {_text(info[key])}")
    for key, value in given.items():
        if not same_setting(value, info["features"][key]):
            raise KwsError(f"--{key} {setting_text(value)} does not match --checkpoint "
                           f"{prefix}, which was trained with "
                           f"{setting_text(info['features'][key])}")
    models.architecture_module(info["model_architecture"]).params(info["model_size_info"])
    return info


def info_with_words(args, prefix, default_words=None):
    """info_from_flags for tools that also take --wanted_words: without a sidecar the labels
    come from it (else `default_words`, else Hello Edge's words); with one, words given must
    agree. The data index then takes the model's words (`data_config`)."""
    from kws_tf.data import speech_commands as sc

    wanted = args.wanted_words or default_words or DEFAULT_WANTED_WORDS
    info = info_from_flags(args, prefix, sc.prepare_words_list(parse_wanted_words(wanted)))
    model_words = sc.wanted_words_of(info["labels"], f"--checkpoint {prefix}")
    if args.wanted_words is not None and \
            parse_wanted_words(args.wanted_words) != model_words.split(","):
        raise KwsError(f"--wanted_words {args.wanted_words} does not match --checkpoint "
                       f"{prefix}, which has {model_words}")
    return info


def data_config(args, info):
    """The data flags as a DataConfig whose words are the model's (what its labels say)."""
    from kws_tf.data import speech_commands as sc

    words = sc.wanted_words_of(info["labels"], "--checkpoint")
    return from_flags(DataConfig, args, wanted_words=tuple(words.split(",")))


def _text(value):
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
