"""TFLite flatbuffers of a model's network on feature input, and their C arrays for TFLite Micro.

DecodeWav, AudioSpectrogram and Mfcc are not TFLite builtins, and a microcontroller computes
its features in C anyway, so the flatbuffer holds ``softmax(model(mfcc))`` for one clip:
input [1, frames, dct] (what ``kws_tf.features.compute`` computes: MFCCs, or log-mel
bands), output [1, labels]. The input tensor is named `mfcc` either way.

Full-integer int8 models have int8 input and output. A float model is calibrated on a
representative set of feature maps; a quantization-aware model (tfmot) already carries its
ranges and converts without one. RNN layers are unrolled over the frames: TF 2.16's int8
calibration crashes on WHILE loops, and TFLite Micro has no TensorList ops.
"""
import collections
import contextlib
import json
import os
import re
import tempfile

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from kws_tf.errors import KwsError

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
_TYPE_NAMES = {code: name.lower() for name, code in vars(schema.TensorType).items()
               if not name.startswith("_")}
INPUT_NAME, OUTPUT_NAME = "mfcc", "labels_softmax"
# TFLite Micro wants the model 16-byte aligned (its micro_speech example does the same).
C_ARRAY_ALIGNMENT = 16


def convert(model, int8=False, representative_features=None):
    """The flatbuffer (bytes) of `model` + softmax, for one [1, frames, dct] feature map.

    With `int8`, `representative_features` ([n, frames, dct] float) calibrates a float model;
    leave it None for a quantization-aware model, whose fake-quant nodes give the ranges.
    """
    frames, dct = model.input_shape[1:]
    with _unrolled_rnns(model):
        network = tf.function(lambda mfcc: tf.nn.softmax(model(mfcc, training=False),
                                                         name=OUTPUT_NAME))
        concrete = network.get_concrete_function(tf.TensorSpec([1, frames, dct], tf.float32,
                                                               name=INPUT_NAME))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if representative_features is not None:
            samples = np.asarray(representative_features, np.float32)
            converter.representative_dataset = lambda: ([sample[np.newaxis]] for sample in samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _converter_log():
        try:
            return _name_input_output(converter.convert())
        except ValueError as error:
            if int8 and representative_features is None:
                raise KwsError("int8 conversion of a model that is not quantization-aware "
                               "needs representative data") from None
            raise KwsError(f"TFLite conversion failed: {str(error).splitlines()[0]}") from None


def _name_input_output(flatbuffer):
    """Names the tensors `mfcc` and `labels_softmax` (the converter's are serving_default_...)."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].name = INPUT_NAME
    graph.tensors[graph.outputs[0]].name = OUTPUT_NAME
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@contextlib.contextmanager
def _unrolled_rnns(model):
    """Traces every keras RNN layer of `model` unrolled (frames are static), then restores it."""
    layers = [layer for layer in model.submodules if isinstance(layer, keras.layers.RNN)]
    saved = [layer.unroll for layer in layers]
    for layer in layers:
        layer.unroll = True
    try:
        yield
    finally:
        for layer, unroll in zip(layers, saved):
            layer.unroll = unroll


@contextlib.contextmanager
def _converter_log():
    """Holds back the converter's C++ log lines (stderr); shows them if it fails unexpectedly."""
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except KwsError:
            raise
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            os.write(2, log.read()[-4000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def describe(tflite_bytes):
    """Size, op counts and the input/output tensors (dtype, shape, scale, zero point)."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    codes = [_OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
             for code in model.operatorCodes]
    ops = collections.Counter(codes[op.opcodeIndex] for graph in model.subgraphs
                              for op in graph.operators)
    graph = model.subgraphs[0]

    def tensor(index):
        t = graph.tensors[index]
        quantization = t.quantization
        quantized = quantization is not None and quantization.scale is not None and \
            len(quantization.scale) == 1
        return {"name": t.name.decode() if isinstance(t.name, bytes) else t.name,
                "dtype": _TYPE_NAMES[t.type], "shape": [int(v) for v in t.shape],
                "scale": float(quantization.scale[0]) if quantized else None,
                "zero_point": int(quantization.zeroPoint[0]) if quantized else None}

    return {"size": len(tflite_bytes),
            "ops": dict(sorted(ops.items(), key=lambda item: (-item[1], item[0]))),
            "input": tensor(graph.inputs[0]), "output": tensor(graph.outputs[0])}


def quantization_info(description):
    """input/output scale and zero point of an int8 model, as metadata keys ({} for float)."""
    if description["input"]["scale"] is None:
        return {}
    return {f"{side}_{key}": description[side][key]
            for side in ("input", "output") for key in ("scale", "zero_point")}


def c_name(stem):
    """`work/DS-CNN_s` -> `g_ds_cnn_s`: the C identifier of a model's array, from its file name."""
    return "g_" + re.sub(r"\W", "_", os.path.basename(stem).lower())


def c_files(tflite_bytes, stem, description, labels, feature_config):
    """{`stem`.cc: text, `stem`.h: text}: the flatbuffer as an aligned C array for TFLite Micro.

    The header declares ``<name>[]``, ``<name>_len`` and ``<name>_labels`` (the output order),
    and gives the input shape, the feature settings that kws_mfcc.c (written beside it) takes
    and, for int8 models, the input/output scale and zero point.
    """
    config = feature_config
    name, base = c_name(stem), os.path.basename(stem)
    guard = re.sub(r"\W", "_", base).upper() + "_H_"
    frames, dct = description["input"]["shape"][1:]
    header = [f"// {base}.h: generated by kws-tf freeze.py; do not edit.",
              f"#ifndef {guard}", f"#define {guard}", "",
              f"extern const unsigned char {name}[];",
              f"extern const unsigned int {name}_len;",
              f"extern const char* const {name}_labels[];", "",
              f"constexpr int {name}_frames = {frames};",
              f"constexpr int {name}_coefficients = {dct};",
              f"constexpr int {name}_label_count = {len(labels)};",
              *_front_end_comment(config),
              f"constexpr int {name}_sample_rate = {config.sample_rate};",
              f"constexpr float {name}_window_ms = {float(config.window_size_ms)!r}f;",
              f"constexpr float {name}_stride_ms = {float(config.window_stride_ms)!r}f;",
              f"constexpr int {name}_clip_samples = {config.desired_samples};"]
    source, sink = description["input"], description["output"]
    if source["scale"] is not None:
        header += ["// int8 input: q = clamp(round(mfcc / input_scale) + input_zero_point, "
                   "-128, 127).",
                   f"constexpr float {name}_input_scale = {source['scale']!r}f;",
                   f"constexpr int {name}_input_zero_point = {source['zero_point']};",
                   "// int8 output: probability = (q - output_zero_point) * output_scale.",
                   f"constexpr float {name}_output_scale = {sink['scale']!r}f;",
                   f"constexpr int {name}_output_zero_point = {sink['zero_point']};"]
    header += ["", f"#endif  // {guard}", ""]
    data = np.frombuffer(tflite_bytes, np.uint8)
    rows = [", ".join(f"0x{byte:02x}" for byte in data[start:start + 12])
            for start in range(0, len(data), 12)]
    body = ([f"// {base}.cc: generated by kws-tf freeze.py; do not edit.",
             f'#include "{base}.h"', "",
             f"alignas({C_ARRAY_ALIGNMENT}) const unsigned char {name}[] = {{"]
            + [f"    {row}," for row in rows]
            + ["};", f"const unsigned int {name}_len = {len(data)};", "",
               f"const char* const {name}_labels[] = {{"]
            + [f"    {json.dumps(label)}," for label in labels] + ["};", ""])
    return {f"{stem}.cc": "\n".join(body).encode(), f"{stem}.h": "\n".join(header).encode()}


def _front_end_comment(config):
    """What computes the model's features on the device, as header comment lines."""
    if config.feature_type == "log_mel":
        return [f"// The features it takes: {config.mel_bands} log mel filterbank energies "
                "per frame (kws_tf.features.log_mel);", "// kws_mfcc.c does not compute them."]
    return ["// The features it takes: kws_mfcc.c / kws_mfcc.h, configured with",
            "// kws_mfcc_default_config(&config, sample_rate, window_ms, stride_ms,",
            "//                         coefficients)."]
