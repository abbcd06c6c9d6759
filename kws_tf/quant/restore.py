"""Any checkpoint back as a model: the one its sidecar describes, with tfmot's QAT wrappers
when it was quantization-aware trained (kws_tf.quant.qat), and every weight restored.

It lives here, not in kws_tf.models.checkpoint, because rebuilding a QAT model takes the
quantization code; the models know nothing of it.
"""
from kws_tf.models import build_model, checkpoint
from kws_tf.quant import qat


def load(prefix):
    """Rebuilds the model its sidecar describes and restores every weight: (model, info)."""
    info = checkpoint.read_info(prefix)
    return build_and_restore(prefix, info), info


def build_and_restore(prefix, info):
    """The model `info` (a sidecar) describes, with the weights of checkpoint `prefix`."""
    model = build_model(info["model_architecture"], info["model_size_info"],
                        info["input_shape"], len(info["labels"]), info.get("net_config"))
    if info.get("quantize") and info["quantize"].get("mode") == qat.MODE:
        model = qat.apply(model, info["model_architecture"], info["quantize"])
    checkpoint.restore(model, prefix)
    return model
