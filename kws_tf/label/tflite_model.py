"""A TFLite model, fed the MFCC (or log-mel) feature map it was trained on.

A .tflite model holds only the network, so the features are computed here with
``kws_tf.features.compute`` (Hello Edge's kernels) and the settings recorded in the model's
kws_tf metadata, or the feature flags for a model without it. Integer models get their
input quantized with the input tensor's scale and zero point (the metadata's, if the
tensor has none) and their output dequantized; a model that ends in logits rather than a
softmax gets a softmax here, so scores are probabilities either way. The model runs in LiteRT's
interpreter, or in TensorFlow Lite Micro's after `run_in_micro` (label_wav.py --runtime tflm).
"""
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from kws_tf import cli
from kws_tf import features as kws_features
from kws_tf.config import resolve_features
from kws_tf.errors import KwsError
from kws_tf.export import interpreter
from kws_tf.export.tflite_metadata import read_metadata

# Ops that pass a softmax's output on unchanged in meaning.
_PASS_THROUGH = {schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.QUANTIZE,
                 schema.BuiltinOperator.RESHAPE, schema.BuiltinOperator.SQUEEZE}
# How many windows' features are computed in one op call (bounds memory on long files).
_FEATURE_BATCH = 256


class TfliteModel:
    kind = "TFLite model"

    def __init__(self, path, given_flags):
        self.path = path
        content = cli.read_bytes(path, "--graph")
        try:
            self._interpreter = interpreter.create(content)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise KwsError(f"--graph {path}: not a TFLite model ({reason})") from None
        self._content = content
        self.metadata = read_metadata(content, f"--graph {path}") or {}
        self.features = resolve_features(self.metadata.get("features", {}), given_flags,
                                         f"the metadata of --graph {path}")
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._check_input_size()
        self._input_quantization = self._quantization(self._input, "input")
        self._output_quantization = self._quantization(self._output, "output")
        self._ends_in_softmax = _ends_in_softmax(content)
        self.output_count = int(self._output["shape"][-1])

    def run_in_micro(self):
        """Runs the model in TensorFlow Lite Micro from now on: what a microcontroller computes.

        LiteRT has loaded it first, which checks the flatbuffer (TFLM does not).
        """
        try:
            self._interpreter = interpreter.MicroInterpreter(self._content)
        except interpreter.MicroUnavailable as error:
            raise KwsError(f"--runtime tflm: {error}") from None
        except interpreter.MicroCannotRun as error:
            raise self._cannot_run(error) from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.kind = "TFLite model in TensorFlow Lite Micro"

    def _cannot_run(self, error):
        return KwsError(f"--graph {self.path}: TensorFlow Lite Micro cannot run this model "
                        f"({error})")

    def probabilities(self, clips):
        """Scores [len(clips), outputs] for 1-D float clips at the model's rate."""
        rows = []
        for start in range(0, len(clips), _FEATURE_BATCH):
            audio = np.stack([kws_features.pad_or_trim(clip, self.features.desired_samples)
                              for clip in clips[start:start + _FEATURE_BATCH]])
            for feature_map in kws_features.compute(audio, self.features).numpy():
                rows.append(self._invoke(feature_map))
        scores = np.stack(rows)
        if not self._ends_in_softmax:
            scores = tf.nn.softmax(scores, axis=-1).numpy()
        return scores.astype(np.float32)

    def _invoke(self, feature_map):
        value = feature_map.reshape(self._input["shape"])
        if self._input_quantization:
            scale, zero_point = self._input_quantization
            info = np.iinfo(self._input["dtype"])
            value = np.clip(np.round(value / scale) + zero_point, info.min, info.max)
        self._interpreter.set_tensor(self._input["index"], value.astype(self._input["dtype"]))
        try:
            self._interpreter.invoke()
        except interpreter.MicroCannotRun as error:
            raise self._cannot_run(error) from None
        scores = self._interpreter.get_tensor(self._output["index"]).reshape(-1)
        if self._output_quantization:
            scale, zero_point = self._output_quantization
            scores = (scores.astype(np.float32) - zero_point) * scale
        return scores.astype(np.float32)

    def _check_input_size(self):
        frames, coefficients = self.features.shape
        shape = [int(n) for n in self._input["shape"]]
        if int(np.prod(shape)) != frames * coefficients:
            config = self.features
            count = (f"--mel_bands {coefficients}" if config.feature_type == "log_mel"
                     else f"--dct_coefficient_count {coefficients}")
            raise KwsError(
                f"--graph {self.path} takes input {shape}, but the feature settings give "
                f"{frames} frames x {coefficients} coefficients (--clip_duration_ms "
                f"{config.clip_duration_ms:g}, --window_size_ms {config.window_size_ms:g}, "
                f"--window_stride_ms {config.window_stride_ms:g}, {count}): give the model's "
                "feature flags")

    def _quantization(self, details, which):
        """(scale, zero_point) of an integer tensor, None for a float one."""
        if not np.issubdtype(details["dtype"], np.integer):
            return None
        scale, zero_point = details["quantization"]
        if not scale:
            scale = self.metadata.get(f"{which}_scale")
            zero_point = self.metadata.get(f"{which}_zero_point", 0)
        if not scale:
            raise KwsError(f"--graph {self.path}: the {which} is "
                           f"{np.dtype(details['dtype']).name} but neither the tensor nor the "
                           "metadata gives its scale")
        return float(scale), int(zero_point)


def _ends_in_softmax(content):
    """Whether the model's output comes from a SOFTMAX (through (de)quantize or reshape ops)."""
    model = schema.Model.GetRootAsModel(bytearray(content), 0)
    graph = model.Subgraphs(0)
    producer = {}  # tensor index -> the operator writing it
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        producer.update((int(t), op) for t in op.OutputsAsNumpy())
    tensor = int(graph.Outputs(0))
    while tensor in producer:
        op = producer[tensor]
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.SOFTMAX:
            return True
        if builtin not in _PASS_THROUGH:
            return False
        tensor = int(op.Inputs(0))
    return False
