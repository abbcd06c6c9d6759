"""A frozen TensorFlow graph (.pb) fed wav bytes, as Hello Edge's graphs are.

The graph is imported unchanged and run with a tf.compat.v1 Session, one clip per run:
its `wav_data` placeholder takes a whole wav file and its own DecodeWav, AudioSpectrogram
and Mfcc (or log-mel) nodes make the features, so the scores are those the graph's authors
saw. Audio is re-encoded as 16-bit mono PCM at the model's rate before feeding: that is
lossless for 16-bit files, DecodeWav reads nothing else, and a file at another rate would
silently give features unlike the training ones (the graph's windows are counted in samples).
"""
import io

import numpy as np
import tensorflow as tf

from kws_tf.config import FeatureConfig, resolve_features
from kws_tf.data.wav import write_wav
from kws_tf.errors import KwsError
from kws_tf.export.frozen_graph import read_graph


class FrozenGraphModel:
    kind = "frozen graph"

    def __init__(self, path, input_name, output_name, given_flags):
        self.path = path
        graph_def = read_graph(path)
        self._graph = tf.Graph()
        with self._graph.as_default():
            try:
                tf.compat.v1.import_graph_def(graph_def, name="")
            except (ValueError, tf.errors.OpError) as error:
                raise KwsError(f"--graph {path}: cannot load it ({_first_line(error)})") from None
        self._input = self._tensor("--input_name", input_name)
        self._output = self._tensor("--output_name", output_name)
        if self._input.dtype != tf.string:
            raise KwsError(f"--input_name {input_name}: a {self._input.dtype.name} tensor in "
                           f"--graph {path}; label_wav feeds wav file bytes to a string tensor "
                           "(Hello Edge's wav_data:0)")
        sample_rate = given_flags.get("sample_rate", FeatureConfig.sample_rate)
        self.features = resolve_features(self._fixed_features(graph_def, sample_rate),
                                         given_flags, f"--graph {path}")
        self._session = tf.compat.v1.Session(graph=self._graph)
        self.output_count = self._output.shape[-1] if self._output.shape.rank else None
        if self.output_count is None:  # e.g. a graph whose output shape was not inferred
            self.output_count = self.probabilities([np.zeros(1, np.float32)]).shape[-1]

    def probabilities(self, clips):
        """Scores [len(clips), outputs] for 1-D float clips at the model's rate."""
        rows = []
        for clip in clips:
            stream = io.BytesIO()
            write_wav(stream, clip, self.features.sample_rate)
            try:
                scores = self._session.run(self._output, {self._input: stream.getvalue()})
            except tf.errors.OpError as error:
                raise KwsError(f"--graph {self.path}: running it failed "
                               f"({_first_line(error)})") from None
            rows.append(np.reshape(scores, -1))
        return np.stack(rows).astype(np.float32)

    def _tensor(self, flag, name):
        try:
            return self._graph.get_tensor_by_name(name)
        except (KeyError, ValueError):
            raise KwsError(f"{flag} {name}: no such tensor in --graph {self.path}") from None

    def _fixed_features(self, graph_def, sample_rate):
        """Settings that the graph's DecodeWav, AudioSpectrogram and Mfcc (or log-mel
        filterbank, `mel_weights`) nodes fix."""
        def ms(samples):
            return samples * 1000.0 / sample_rate

        fixed = {}
        input_node = self._input.op.name
        for node in graph_def.node:
            if node.op == "DecodeWav" and node.input[:1] == [input_node]:
                if node.attr["desired_samples"].i > 0:
                    fixed["clip_duration_ms"] = ms(node.attr["desired_samples"].i)
            elif node.op == "AudioSpectrogram" and "window_size_ms" not in fixed:
                fixed["window_size_ms"] = ms(node.attr["window_size"].i)
                fixed["window_stride_ms"] = ms(node.attr["stride"].i)
            elif node.op == "Mfcc" and "feature_type" not in fixed:
                fixed["dct_coefficient_count"] = node.attr["dct_coefficient_count"].i
                fixed["feature_type"] = "mfcc"
            elif node.name == "mel_weights" and "feature_type" not in fixed:
                fixed["mel_bands"] = node.attr["value"].tensor.tensor_shape.dim[1].size
                fixed["feature_type"] = "log_mel"
        return fixed


def _first_line(error):
    message = getattr(error, "message", None) or str(error)
    return (message.strip().splitlines() or [type(error).__name__])[0]
