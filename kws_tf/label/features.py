"""The feature settings a model runs with: what the model fixes, flags must agree with.

A frozen graph fixes its clip length (DecodeWav's desired_samples) and computes its own
features; a .tflite model with kws_tf metadata records all five settings. A flag given
on the command line that contradicts the model is an error rather than being silently
overridden; settings that neither the model nor the flags give keep Hello Edge's defaults.
"""
import math

from kws_tf.errors import KwsError
from kws_tf.features import FLAGS, FeatureConfig



def given_flags(args):
    """The feature flags set on the command line (they default to None)."""
    return {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}


def resolve(fixed, given, where):
    """FeatureConfig from the model's `fixed` settings and the `given` flags (must agree)."""
    for name, value in given.items():
        if name in fixed and not math.isclose(value, fixed[name], rel_tol=1e-9, abs_tol=1e-6):
            raise KwsError(f"--{name} {value:g} disagrees with {where}, which uses "
                           f"{fixed[name]:g}")
    return FeatureConfig(**{**fixed, **given}).validate()
