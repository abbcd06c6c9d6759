"""JSON metadata inside a TFLite flatbuffer, so a .tflite file says how to make its input.

The flatbuffer's ``metadata`` list gets one entry named ``kws_tf`` whose buffer is UTF-8
JSON: the checkpoint sidecar's keys (``model_architecture``, ``model_size_info``,
``input_shape``, ``labels``, ``features``) plus whatever the exporter adds (for int8 models,
``input_scale`` and ``input_zero_point``). TFLite runtimes ignore unknown metadata, so the
model still runs anywhere.
"""
import json

from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from kws_tf.errors import KwsError

METADATA_NAME = "kws_tf"


def add_metadata(tflite_bytes, info):
    """Returns `tflite_bytes` with `info` (a JSON-able dict) stored as the kws_tf entry."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    buffer = schema.BufferT()
    buffer.data = list(json.dumps(info, sort_keys=True).encode())
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in
                      (METADATA_NAME, METADATA_NAME.encode())] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(tflite_bytes, where="model"):
    """The kws_tf entry of a flatbuffer as a dict, or None when it has none."""
    try:
        model = schema.Model.GetRootAsModel(bytearray(tflite_bytes), 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == METADATA_NAME.encode():
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode())
    except (ValueError, IndexError, TypeError, AttributeError) as error:
        raise KwsError(f"{where}: not a readable TFLite flatbuffer ({error})") from None
    return None
