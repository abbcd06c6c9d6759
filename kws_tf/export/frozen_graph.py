"""The frozen wav -> softmax GraphDef Hello Edge's freeze.py wrote, from a tf_keras model.

Hello Edge's label_wav.py, test_pb.py and other TF1-era tools find tensors by name, so the
graph keeps its names, in its order:

    wav_data              Placeholder, string scalar: the bytes of a wav file
    decoded_sample_data   DecodeWav (1 channel, desired_samples); output 1 is the sample rate
    AudioSpectrogram      magnitude squared
    Mfcc                  40 mel channels, 20-4000 Hz, at the wav header's sample rate
                          (then, for --feature_bits, Mul, Round, ClipByValue, RealDiv)
                          or, for --feature_type log_mel, Sqrt, the MatMul with the
                          filterbank constant `mel_weights` (at the model's sample rate),
                          Maximum (the 1e-12 floor) and `LogMel` (Log)
    Reshape               the flat fingerprint [1, frames * dct]
    Reshape_1             back to [1, frames, dct], the model's input
    ...                   the model, in inference mode (batch norm uses its moving statistics)
    labels_softmax        Softmax, [1, labels]

Variables become constants and RNN loops are lowered to TF1 control flow (Enter, Merge,
Switch, Exit), as in Hello Edge's RNN graphs, so a TF1-style session runs it:
``sess.run("labels_softmax:0", {"wav_data:0": wav_bytes})``. ``read_graph`` loads such a
graph, or any binary GraphDef, back from its .pb file.
"""
import collections

import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from kws_tf import cli, features
from kws_tf.config import (
    MFCC_FILTERBANK_CHANNELS,
    MFCC_LOWER_FREQUENCY_LIMIT,
    MFCC_UPPER_FREQUENCY_LIMIT,
)
from kws_tf.errors import KwsError

WAV_INPUT = "wav_data:0"
SOFTMAX_OUTPUT = "labels_softmax:0"
# Nodes that only carry values; the op summary leaves them out.
_PLUMBING = {"Const", "Identity", "NoOp", "Placeholder"}


def wav_graph_def(model, feature_config):
    """The frozen GraphDef: wav file bytes in (`wav_data:0`), `labels_softmax:0` out."""
    frames, dct = feature_config.shape  # dct: the mel bands of log_mel features

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="wav_data")])
    def wav_to_softmax(wav_data):
        decoded = tf.raw_ops.DecodeWav(contents=wav_data, desired_channels=1,
                                       desired_samples=feature_config.desired_samples,
                                       name="decoded_sample_data")
        spectrogram = tf.raw_ops.AudioSpectrogram(
            input=decoded.audio, window_size=feature_config.window_size_samples,
            stride=feature_config.window_stride_samples, magnitude_squared=True,
            name="AudioSpectrogram")
        if feature_config.feature_type == "log_mel":
            mfcc = features.log_mel_energies(spectrogram, feature_config)
        else:
            mfcc = tf.raw_ops.Mfcc(
                spectrogram=spectrogram, sample_rate=decoded.sample_rate,
                upper_frequency_limit=MFCC_UPPER_FREQUENCY_LIMIT,
                lower_frequency_limit=MFCC_LOWER_FREQUENCY_LIMIT,
                filterbank_channel_count=MFCC_FILTERBANK_CHANNELS,
                dct_coefficient_count=dct, name="Mfcc")
        mfcc = features.quantize_tf(mfcc, feature_config)  # --feature_bits, else as it is
        fingerprint = tf.reshape(mfcc, [-1, frames * dct], name="Reshape")
        feature_map = tf.reshape(fingerprint, [-1, frames, dct], name="Reshape_1")
        return tf.nn.softmax(model(feature_map, training=False), name="labels_softmax")

    frozen = convert_variables_to_constants_v2(wav_to_softmax.get_concrete_function())
    return _prune(frozen.graph.as_graph_def(), SOFTMAX_OUTPUT.split(":")[0])


def _prune(graph_def, output):
    """Keeps only the nodes `output` depends on, in their order.

    Drops the function's output Identity and NoOp, and the placeholders the lowered loop
    bodies leave behind, so `wav_data` is the only placeholder, as in Hello Edge's graphs.
    """
    nodes = {node.name: node for node in graph_def.node}
    needed, todo = set(), [output]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(source.lstrip("^").split(":")[0] for source in nodes[name].input)
    pruned = tf.compat.v1.GraphDef()
    pruned.versions.CopyFrom(graph_def.versions)
    pruned.library.CopyFrom(graph_def.library)
    pruned.node.extend(node for node in graph_def.node if node.name in needed)
    return pruned


def op_counts(graph_def):
    """{op type: count} of the nodes that compute something (no constants or identities)."""
    counts = collections.Counter(node.op for node in graph_def.node if node.op not in _PLUMBING)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def read_graph(path):
    """The GraphDef in a binary .pb file; KwsError if it is missing or not a GraphDef."""
    data = cli.read_bytes(path, "--graph")
    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except DecodeError:
        raise KwsError(f"--graph {path}: not a binary TensorFlow GraphDef (.pb)") from None
    if not graph_def.node:
        raise KwsError(f"--graph {path}: not a binary TensorFlow GraphDef (.pb), or empty")
    return graph_def
