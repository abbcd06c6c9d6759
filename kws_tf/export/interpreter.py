"""The TFLite interpreter: LiteRT's (ai-edge-litert) where it is installed, else tf.lite's.

TensorFlow >= 2.20 deprecates tf.lite.Interpreter (it warns on creation) in favour of LiteRT,
which runs the same kernels. Both are used with TFLite's own kernels only, without the
XNNPACK delegate: deterministic, closer to what microcontroller kernels compute, and no
"Created XNNPACK delegate" line on stderr.
"""


def _module():
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    return litert.Interpreter, litert.OpResolverType


def create(model_content):
    """An Interpreter for .tflite bytes (tensors not yet allocated)."""
    interpreter, resolver = _module()
    return interpreter(model_content=model_content,
                       experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def runtime():
    """Which interpreter `create` uses, for reports: 'ai-edge-litert' or 'tf.lite'."""
    return "ai-edge-litert" if _module()[0].__module__.startswith("ai_edge_litert") else "tf.lite"
