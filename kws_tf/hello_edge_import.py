"""Import a published Hello Edge frozen graph (.pb) into a kws_tf model and TF2 checkpoint.

    python -m kws_tf.hello_edge_import --graph Pretrained_models/DS_CNN/DS_CNN_S.pb \\
        --output_checkpoint work/ds_cnn_s/ckpt

Hello Edge shipped only frozen TF1 graphs (wav bytes in, softmax out), no checkpoints, and
their variable names come from an older version of its code (``MobileNet/...``, ``Variable_3``).
So the architecture, --model_size_info, feature flags and label count are read from the
graph's structure: the op chain between ``Mfcc`` and ``labels_softmax`` (convolutions and
their strides and padding, batch norms, pools, matmuls) and, for the RNNs, the cell inside
the while loop (a 4-way split is an LSTM, with peepholes and a projection if those multiply
in; a sigmoid then 2-way split is a GRU). Weights are placed by that structure and their
shapes, never by name. Flags given on the command line must agree with the graph.

Every weight is copied, batch-norm moving statistics included, so the model gives the
graph's outputs (to float rounding) on features from ``kws_tf.features.mfcc``.

Written files (see kws_tf.models.checkpoint): the checkpoint ``C.index`` / ``C.data-*``
from ``tf.train.Checkpoint(model=model).write(C)``, restored with
``tf.train.Checkpoint(model=model).read(C)`` or ``kws_tf.quant.restore.load(C)``, and the
sidecar ``C.json``, e.g. for DS_CNN_S.pb::

    {"model_architecture": "ds_cnn",
     "model_size_info": [5, 64, 10, 4, 2, 2, 64, 3, 3, 1, 1, ...],
     "input_shape": [49, 10],
     "labels": ["_silence_", "_unknown_", "yes", ...],
     "wanted_words": "yes,no,up,down,left,right,on,off,stop,go",
     "features": {"sample_rate": 16000, "clip_duration_ms": 1000.0, "window_size_ms": 40.0,
                  "window_stride_ms": 20.0, "dct_coefficient_count": 10},
     "parameters": {"trainable": 23180, "non_trainable": 1152},
     "source": {"hello_edge_graph": "/abs/path/DS_CNN_S.pb"}}

``parameters`` counts the graph's variables: trainable ones as Hello Edge's train.py printed
them (weights, biases, batch-norm beta and gamma) and the batch-norm moving statistics.
"""
import collections
import dataclasses
import os
import sys

import numpy as np
import tensorflow as tf

from kws_tf.config import (
    MFCC_FILTERBANK_CHANNELS,
    MFCC_LOWER_FREQUENCY_LIMIT,
    MFCC_UPPER_FREQUENCY_LIMIT,
    FeatureConfig,
    ModelSpec,
)
from kws_tf.errors import KwsError
from kws_tf.export.frozen_graph import read_graph
from kws_tf.models import architecture_module, build_model
from kws_tf.models.common import same_size

HELLO_EDGE_WANTED_WORDS = "yes,no,up,down,left,right,on,off,stop,go"
DEFAULT_SAMPLE_RATE = 16000  # not in the graph: Mfcc takes the rate from the wav header
# Ops on the data path that hold no weights and change no values the model computes.
PASS_THROUGH = {"Placeholder", "DecodeWav", "AudioSpectrogram", "Mfcc", "Squeeze", "Transpose",
                "TensorArrayScatterV3", "Exit", "Softmax"}


def _tensor(name):
    """'x' -> 'x:0', so one output of an op has one spelling."""
    return name if ":" in name else f"{name}:0"


def _node_name(tensor):
    return tensor.lstrip("^").split(":")[0]


class _Graph:
    """A GraphDef with the look-ups the analysis needs."""

    def __init__(self, graph_def, path):
        self.path = path
        self.order = list(graph_def.node)
        self.nodes = {node.name: node for node in self.order}
        self.consumers = collections.defaultdict(list)  # tensor -> nodes reading it
        self.node_consumers = collections.defaultdict(list)  # node -> nodes reading any output
        for node in self.order:
            for tensor in node.input:
                if not tensor.startswith("^"):
                    self.consumers[_tensor(tensor)].append(node)
                    self.node_consumers[_node_name(tensor)].append(node)
        # Frozen variables are a Const read through an Identity named <const>/read.
        self.variables = {node.name for node in self.order if node.op == "Const"
                          and getattr(self.nodes.get(f"{node.name}/read"), "op", "") == "Identity"}
        self.used = set()
        self.moving_statistics = set()
        self.live = self._reachable([n for n in self.order if n.op == "Placeholder"], stop=())
        self.in_loop = self._reachable([n for n in self.order if n.op == "Enter"], stop=("Exit",))

    def _reachable(self, starts, stop):
        """Nodes reachable from `starts` along data edges, not going through `stop` ops."""
        seen, todo = set(), list(starts)
        while todo:
            node = todo.pop()
            if node.name in seen or node.op in stop:
                continue
            seen.add(node.name)
            todo.extend(self.node_consumers[node.name])
        return seen

    def node(self, tensor):
        return self.nodes[_node_name(tensor)]

    def consumer(self, tensor, op):
        """The first node of type `op` that reads `tensor`, or None."""
        return next((c for c in self.consumers[_tensor(tensor)] if c.op == op), None)

    def const(self, tensor):
        """The Const behind `tensor` (through Identity/Enter), or None."""
        node = self.node(tensor)
        while node.op in ("Identity", "Enter"):
            node = self.node(node.input[0])
        return node if node.op == "Const" else None

    def value(self, tensor, statistic=False):
        """The array of the Const behind `tensor`; marks a variable as placed."""
        node = self.const(tensor)
        if node is None:
            raise self.error(f"expected a constant at {_node_name(tensor)}")
        if node.name in self.variables:
            self.used.add(node.name)
            if statistic:
                self.moving_statistics.add(node.name)
        return tf.make_ndarray(node.attr["value"].tensor)

    def is_variable(self, tensor):
        node = self.const(tensor)
        return node is not None and node.name in self.variables

    def error(self, what):
        return KwsError(f"--graph {self.path}: not a Hello Edge model graph ({what})")

    def size(self, names):
        return sum(tf.make_ndarray(self.nodes[n].attr["value"].tensor).size for n in names)


# ---------------------------------------------------------------------------------------------
# The layer chain: live ops (those that depend on the wav input) in graph order.

def _strides(node):
    return tuple(node.attr["strides"].list.i[1:3])


def _batch_norm_fused(g, node):
    return {"gamma": g.value(node.input[1]), "gamma_trainable": g.is_variable(node.input[1]),
            "beta": g.value(node.input[2]), "mean": g.value(node.input[3], statistic=True),
            "variance": g.value(node.input[4], statistic=True),
            "epsilon": node.attr["epsilon"].f}


def _batch_norm_unfused(g, node):
    """x * s + (beta - mean * s) with s = rsqrt(variance + eps) * gamma (tf.nn.batch_normalization).

    `node` is the live Mul x * s; returns the record and the final Add, or (None, None).
    """
    scale = next((g.node(t) for t in node.input if g.node(t).name not in g.live), None)
    if scale is None or scale.op != "Mul":
        return None, None
    rsqrt = next((g.node(t) for t in scale.input if g.node(t).op == "Rsqrt"), None)
    add = g.consumer(node.name, "Add")
    if rsqrt is None or add is None:
        return None, None
    gamma = next(t for t in scale.input if g.node(t).op != "Rsqrt")
    variance, epsilon = g.node(rsqrt.input[0]).input
    shift = next(g.node(t) for t in add.input if g.node(t).name not in g.live)
    beta, mean_times_scale = shift.input
    mean = next(t for t in g.node(mean_times_scale).input if g.node(t).name != scale.name)
    return {"gamma": g.value(gamma), "gamma_trainable": g.is_variable(gamma),
            "beta": g.value(beta), "mean": g.value(mean, statistic=True),
            "variance": g.value(variance, statistic=True),
            "epsilon": float(g.value(epsilon))}, add


def _lstm_cell(g, split):
    """TF1 BasicLSTMCell or LSTMCell around its 4-way gate split (gates i, j, f, o)."""
    bias_add = g.node(split.input[1])
    matmul = g.node(bias_add.input[0])
    cell = {"kernel": g.value(matmul.input[1]), "bias": g.value(bias_add.input[1])}
    gate = {k: f"{split.name}:{k}" for k in range(4)}
    forget_add = next((c for c in g.consumers[gate[2]] if c.op == "Add"
                       and any(g.const(t) is not None and not g.is_variable(t)
                               for t in c.input)), None)
    cell["forget_bias"] = 0.0
    if forget_add is not None:
        constant = next(t for t in forget_add.input if g.const(t) is not None)
        cell["forget_bias"] = float(g.value(constant))
        gate[2] = _tensor(forget_add.name)

    def peephole(tensor):
        for add in g.consumers[_tensor(tensor)]:
            for product in (g.node(t) for t in add.input):
                if add.op == "Add" and product.op == "Mul":
                    vector = next((t for t in product.input if g.is_variable(t)), None)
                    if vector is not None:
                        return g.value(vector), _tensor(add.name)
        return None, tensor

    diagonals = {}
    for index, key in ((2, "w_f_diag"), (0, "w_i_diag"), (3, "w_o_diag")):
        diagonals[key], gate[index] = peephole(gate[index])
    sigmoid = g.consumer(gate[3], "Sigmoid")
    output = sigmoid and g.consumer(sigmoid.name, "Mul")
    projection = output and g.consumer(output.name, "MatMul")
    cell["projection"] = g.value(projection.input[1]) if projection is not None else None
    present = [v is not None for v in (*diagonals.values(), cell["projection"])]
    if any(present) and not all(present):
        raise g.error("an LSTM cell with only some of peepholes and projection")
    cell["peephole"] = all(present)
    cell.update(diagonals)
    return cell


def _gru_cell(g, split):
    """TF1 GRUCell around its gate split: sigmoid(concat([x, h]) W + b) -> r, u."""
    sigmoid = g.node(split.input[1])
    bias_add = g.node(sigmoid.input[0])
    matmul = g.node(bias_add.input[0])
    # The reset gate is the half that multiplies h before the candidate matmul.
    reset = g.consumer(f"{split.name}:0", "Mul")
    concat = reset and g.consumer(reset.name, "ConcatV2")
    candidate = concat and g.consumer(concat.name, "MatMul")
    candidate_bias = candidate and g.consumer(candidate.name, "BiasAdd")
    if candidate_bias is None:
        raise g.error("a GRU cell whose first gate is not the reset gate")
    return {"gates_kernel": g.value(matmul.input[1]), "gates_bias": g.value(bias_add.input[1]),
            "candidate_kernel": g.value(candidate.input[1]),
            "candidate_bias": g.value(candidate_bias.input[1])}


def _layer_chain(g):
    """[(kind, details)] for the model's ops, from the wav input to the softmax.

    TF1 writes nodes in creation order, which for these graphs is the forward order.
    """
    chain, skip = [], set()
    for node in g.order:
        if node.name not in g.live or node.name in skip:
            continue
        op, loop = node.op, node.name in g.in_loop
        if op == "Split" and loop:
            if node.attr["num_split"].i == 4 and g.node(node.input[1]).op == "BiasAdd":
                chain.append(("lstm_cell", _lstm_cell(g, node)))
            elif node.attr["num_split"].i == 2 and g.node(node.input[1]).op == "Sigmoid":
                chain.append(("gru_cell", _gru_cell(g, node)))
            else:
                raise g.error(f"an unknown RNN cell at {node.name}")
        elif loop:
            continue
        elif op in ("Conv2D", "DepthwiseConv2dNative"):
            chain.append(("conv" if op == "Conv2D" else "depthwise",
                          {"kernel": g.value(node.input[1]), "strides": _strides(node),
                           "padding": node.attr["padding"].s.decode()}))
        elif op in ("BiasAdd", "Add") and any(g.is_variable(t) for t in node.input):
            chain.append(("bias", {"bias": g.value(next(t for t in node.input
                                                          if g.is_variable(t)))}))
        elif op == "FusedBatchNorm":
            chain.append(("batch_norm", _batch_norm_fused(g, node)))
        elif op == "Mul":
            record, add = _batch_norm_unfused(g, node)
            if record is None:
                raise g.error(f"an unexpected multiplication at {node.name}")
            chain.append(("batch_norm", record))
            skip.add(add.name)
        elif op == "MatMul":
            chain.append(("matmul", {"kernel": g.value(node.input[1])}))
        elif op == "Relu":
            chain.append(("relu", {}))
        elif op == "AvgPool":
            chain.append(("avg_pool", {"ksize": tuple(node.attr["ksize"].list.i[1:3])}))
        elif op == "Reshape":
            chain.append(("reshape", {"shape": [int(v) for v in g.value(node.input[1])]}))
        elif op not in PASS_THROUGH:
            raise g.error(f"an unsupported {op} op at {node.name}")
    return chain


class _Chain:
    """Reads the layer chain in order; anything unexpected is a KwsError."""

    def __init__(self, g, chain):
        self.g, self.chain, self.at = g, chain, 0

    def peek(self):
        return self.chain[self.at][0] if self.at < len(self.chain) else "the softmax"

    def take(self, kind):
        if self.peek() != kind:
            raise self.g.error(f"expected {kind} at layer {self.at + 1}, found {self.peek()}")
        self.at += 1
        return self.chain[self.at - 1][1]

    def end(self):
        if self.at != len(self.chain):
            raise self.g.error(f"unexpected {self.peek()} at layer {self.at + 1}")

    def conv(self, kind, padding):
        """A convolution and its bias: (record, [kernel, bias])."""
        conv = self.take(kind)
        if conv["padding"] != padding:
            raise self.g.error(f"a {conv['padding']} {kind} where Hello Edge has {padding}")
        return conv, [conv["kernel"], self.take("bias")["bias"]]

    def batch_norm_relu(self, scale):
        """A batch norm and ReLU: the Keras BatchNormalization weights."""
        bn = self.take("batch_norm")
        self.take("relu")
        if not np.isclose(bn["epsilon"], 1e-3):
            raise self.g.error(f"a batch norm epsilon of {bn['epsilon']:g}, not 0.001")
        if scale:
            return [bn["gamma"], bn["beta"], bn["mean"], bn["variance"]]
        if bn["gamma_trainable"] or not np.all(bn["gamma"] == 1):
            raise self.g.error("a ds_cnn batch norm with a scale (gamma)")
        return [bn["beta"], bn["mean"], bn["variance"]]

    def dense(self):
        """A matmul and its bias: [kernel, bias]."""
        return [self.take("matmul")["kernel"], self.take("bias")["bias"]]

    def gru_cells(self):
        """The GRU stack: ([layers, units], Keras RNN weights)."""
        cells = [self.take("gru_cell")]
        while self.peek() == "gru_cell":
            cells.append(self.take("gru_cell"))
        units = {cell["candidate_kernel"].shape[1] for cell in cells}
        if len(units) != 1:
            raise self.g.error(f"GRU layers of different sizes {sorted(units)}")
        return [len(cells), units.pop()], [cell[key] for cell in cells for key in (
            "gates_kernel", "gates_bias", "candidate_kernel", "candidate_bias")]


def _conv_size_info(conv):
    kt, kf, _, filters = conv["kernel"].shape
    return [filters, kt, kf, *conv["strides"]]


def _parse_dnn(c):
    hidden, weights = [], []
    while True:
        dense = c.dense()
        if c.peek() != "relu":
            return hidden, weights + [("final_fc", dense)]
        c.take("relu")
        hidden.append(dense[0].shape[1])
        weights.append((f"fc{len(hidden)}", dense))


def _parse_cnn(c):
    size_info, weights = [], []
    for i in (1, 2):
        conv, conv_weights = c.conv("conv", "VALID")
        size_info += _conv_size_info(conv)
        weights += [(f"conv{i}", conv_weights), (f"bn{i}", c.batch_norm_relu(scale=True))]
    c.take("reshape")
    linear, fc = c.dense(), c.dense()
    size_info += [linear[0].shape[1], fc[0].shape[1]]
    weights += [("linear", linear), ("fc", fc), ("bn3", c.batch_norm_relu(scale=True)),
                ("final_fc", c.dense())]
    return size_info, weights


def _parse_ds_cnn(c, input_shape):
    conv, conv_weights = c.conv("conv", "SAME")
    size_info = _conv_size_info(conv)
    weights = [("conv_1", conv_weights), ("conv_1_bn", c.batch_norm_relu(scale=False))]
    while c.peek() == "depthwise":
        name = f"conv_ds_{len(size_info) // 5}"
        dw, dw_weights = c.conv("depthwise", "SAME")
        weights += [(f"{name}_dw", dw_weights), (f"{name}_dw_bn", c.batch_norm_relu(False))]
        pw, pw_weights = c.conv("conv", "SAME")
        weights += [(f"{name}_pw", pw_weights), (f"{name}_pw_bn", c.batch_norm_relu(False))]
        size_info += [pw["kernel"].shape[3], *dw["kernel"].shape[:2], *dw["strides"]]
    height, width = input_shape
    for i in range(0, len(size_info), 5):
        height = same_size(height, size_info[i + 3])
        width = same_size(width, size_info[i + 4])
    pool = c.take("avg_pool")["ksize"]
    if pool != (height, width):
        raise c.g.error(f"an average pool of {pool[0]}x{pool[1]} on a {height}x{width} map "
                        "(Hello Edge pools the whole map)")
    return [len(size_info) // 5, *size_info], weights + [("fc1", c.dense())]


def _parse_crnn(c):
    conv, conv_weights = c.conv("conv", "VALID")
    c.take("relu")
    c.take("reshape")
    gru_size, gru_weights = c.gru_cells()
    fc = c.dense()
    c.take("relu")
    size_info = [*_conv_size_info(conv), *gru_size, fc[0].shape[1]]
    return size_info, [("conv", conv_weights), ("gru", gru_weights), ("fc", fc),
                       ("final_fc", c.dense())]


def _parse_gru(c):
    size_info, gru_weights = c.gru_cells()
    return size_info, [("gru", gru_weights), ("output_layer", c.dense())]


def _parse_lstm(c):
    """basic_lstm or lstm, by whether the cell has peepholes and a projection."""
    cell = c.take("lstm_cell")
    if cell["forget_bias"] != 1.0:
        raise c.g.error(f"an LSTM forget bias of {cell['forget_bias']:g}, not 1")
    units = cell["bias"].shape[0] // 4
    if cell["peephole"]:
        architecture, size_info = "lstm", [cell["projection"].shape[1], units]
        keys = ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag", "projection")
    else:
        architecture, size_info, keys = "basic_lstm", [units], ("kernel", "bias")
    return architecture, size_info, [("lstm", [cell[k] for k in keys]),
                                     ("output_layer", c.dense())]


def _parse(g, chain, input_shape):
    """(architecture, model_size_info, [(Keras layer name, weights)]) from the layer chain."""
    kinds = {kind for kind, _ in chain}
    c = _Chain(g, chain)
    frames, dct = input_shape
    while c.peek() == "reshape":
        shape = c.take("reshape")["shape"]
        if np.prod(shape[1:]) != frames * dct or (len(shape) > 2 and shape[1:3] != [frames, dct]):
            raise g.error(f"a feature reshape to {shape[1:]} where the features are "
                          f"{frames}x{dct}")
    if "lstm_cell" in kinds:
        architecture, size_info, weights = _parse_lstm(c)
    else:
        architecture = ("crnn" if "gru_cell" in kinds and "conv" in kinds else
                        "gru" if "gru_cell" in kinds else
                        "ds_cnn" if "depthwise" in kinds else
                        "cnn" if "conv" in kinds else
                        "dnn" if "matmul" in kinds else None)
        if architecture is None:
            raise g.error("no layers between the Mfcc node and the softmax")
        parse = {"crnn": _parse_crnn, "gru": _parse_gru, "cnn": _parse_cnn,
                 "dnn": _parse_dnn}.get(architecture)
        size_info, weights = parse(c) if parse else _parse_ds_cnn(c, input_shape)
    c.end()
    return architecture, [int(v) for v in size_info], weights


# ---------------------------------------------------------------------------------------------
# Features and labels.

def _only(g, op):
    nodes = [node for node in g.order if node.op == op]
    if len(nodes) != 1:
        raise g.error(f"{len(nodes)} {op} nodes" if nodes else f"no {op} node")
    return nodes[0]


def _feature_config(g, flags):
    """FeatureConfig from the DecodeWav/AudioSpectrogram/Mfcc attributes, checked against flags."""
    decode, spectrogram, mfcc = (_only(g, op) for op in ("DecodeWav", "AudioSpectrogram", "Mfcc"))
    for attr, ours in (("lower_frequency_limit", MFCC_LOWER_FREQUENCY_LIMIT),
                       ("upper_frequency_limit", MFCC_UPPER_FREQUENCY_LIMIT),
                       ("filterbank_channel_count", MFCC_FILTERBANK_CHANNELS)):
        value = mfcc.attr[attr].f if "limit" in attr else mfcc.attr[attr].i
        if value != ours:
            raise KwsError(f"--graph {g.path}: its Mfcc {attr} is {value:g}; kws_tf features "
                           f"use {ours:g}")
    if not spectrogram.attr["magnitude_squared"].b:
        raise KwsError(f"--graph {g.path}: its AudioSpectrogram is not magnitude_squared")
    samples = {"clip_duration_ms": decode.attr["desired_samples"].i,
               "window_size_ms": spectrogram.attr["window_size"].i,
               "window_stride_ms": spectrogram.attr["stride"].i}
    rate = flags.get("sample_rate") or DEFAULT_SAMPLE_RATE
    settings = {"sample_rate": rate, **{k: n * 1000 / rate for k, n in samples.items()},
                "dct_coefficient_count": mfcc.attr["dct_coefficient_count"].i}
    config = FeatureConfig(**settings)
    given = dataclasses.replace(config, **{k: v for k, v in flags.items() if v is not None})
    checks = (("clip_duration_ms", "desired_samples", "DecodeWav desired_samples"),
              ("window_size_ms", "window_size_samples", "AudioSpectrogram window_size"),
              ("window_stride_ms", "window_stride_samples", "AudioSpectrogram stride"))
    for flag, property_name, what in checks:
        if getattr(given, property_name) != getattr(config, property_name):
            raise KwsError(f"--{flag} {getattr(given, flag):g} does not match --graph {g.path}: "
                           f"its {what} is {getattr(config, property_name)} samples "
                           f"({getattr(config, flag):g} ms at {rate} Hz)")
    if given.feature_bits:
        raise KwsError(f"--feature_bits {given.feature_bits}: --graph {g.path} takes Hello "
                       "Edge's float MFCCs (its Mfcc output is not rounded)")
    if (given.feature_type, given.mel_bands) != (config.feature_type, config.mel_bands):
        raise KwsError(f"--feature_type {given.feature_type} --mel_bands {given.mel_bands}: "
                       f"--graph {g.path} takes Hello Edge's MFCCs")
    if given.dct_coefficient_count != config.dct_coefficient_count:
        raise KwsError(f"--dct_coefficient_count {given.dct_coefficient_count} does not match "
                       f"--graph {g.path}: its Mfcc keeps {config.dct_coefficient_count}")
    return config.validate()


def _labels(g, label_count, wanted_words):
    if wanted_words is None:
        if label_count != 12:
            raise KwsError(f"--graph {g.path} has {label_count} outputs: give the "
                           f"{label_count - 2} --wanted_words it was trained with")
        wanted_words = HELLO_EDGE_WANTED_WORDS
    words = [w for w in wanted_words.split(",") if w]
    if len(words) + 2 != label_count:
        raise KwsError(f"--wanted_words {wanted_words} gives {len(words) + 2} labels with "
                       f"_silence_ and _unknown_, but --graph {g.path} has {label_count} outputs")
    return ["_silence_", "_unknown_", *words], ",".join(words)


# ---------------------------------------------------------------------------------------------

def import_graph(graph_path, *, model_architecture=None, model_size_info=None,
                 wanted_words=None, sample_rate=None, clip_duration_ms=None,
                 window_size_ms=None, window_stride_ms=None, dct_coefficient_count=None,
                 feature_type=None, mel_bands=None, feature_bits=None, feature_frac_bits=None):
    """Builds the kws_tf model of a Hello Edge frozen graph and loads all its weights.

    Arguments other than graph_path default to what the graph says; given, they must agree
    with it. Returns (model, info), info being the checkpoint sidecar described above.
    """
    if model_architecture is not None:
        architecture_module(model_architecture)
    g = _Graph(read_graph(graph_path), graph_path)
    flags = {"sample_rate": sample_rate, "clip_duration_ms": clip_duration_ms,
             "window_size_ms": window_size_ms, "window_stride_ms": window_stride_ms,
             "dct_coefficient_count": dct_coefficient_count, "feature_type": feature_type,
             "mel_bands": mel_bands, "feature_bits": feature_bits,
             "feature_frac_bits": feature_frac_bits}
    config = _feature_config(g, flags)
    if "labels_softmax" not in g.nodes:
        raise g.error("no labels_softmax node")
    try:
        architecture, size_info, weights = _parse(g, _layer_chain(g), config.shape)
    except (KeyError, IndexError, StopIteration) as error:
        raise g.error(f"unexpected structure: {type(error).__name__} {error}") from None
    if model_architecture is not None and model_architecture != architecture:
        raise KwsError(f"--model_architecture {model_architecture} does not match --graph "
                       f"{graph_path}: its structure is {architecture}")
    if model_size_info is not None and [int(v) for v in model_size_info] != size_info:
        raise KwsError(f"--model_size_info {' '.join(str(v) for v in model_size_info)} does not "
                       f"match --graph {graph_path}: its {architecture} has "
                       f"{' '.join(str(v) for v in size_info)}")
    unplaced = sorted(g.variables - g.used)
    if unplaced:
        raise g.error(f"weights the importer cannot place: {', '.join(unplaced)}")
    label_count = int(weights[-1][1][0].shape[1])
    labels, words = _labels(g, label_count, wanted_words)

    model = build_model(architecture, size_info, config.shape, label_count)
    for name, arrays in weights:
        try:
            model.get_layer(name).set_weights(arrays)
        except ValueError as error:
            raise g.error(f"weights that do not fit layer {name} of a {architecture} with "
                          f"--model_size_info {' '.join(map(str, size_info))} and input "
                          f"{config.shape[0]}x{config.shape[1]}: {error}") from None
    placed = sum(a.size for _, arrays in weights for a in arrays)
    if placed != sum(int(np.prod(w.shape)) for w in model.weights):
        raise g.error(f"{placed} weights for a {architecture} model of "
                      f"{sum(int(np.prod(w.shape)) for w in model.weights)}")
    spec = ModelSpec(architecture, tuple(size_info), config.shape, tuple(labels), config,
                     wanted_words=words, extra={
                         "parameters": {"trainable": int(g.size(g.variables - g.moving_statistics)),
                                        "non_trainable": int(g.size(g.moving_statistics))},
                         "source": {"hello_edge_graph": os.path.abspath(graph_path)}})
    return model, spec.to_dict()


if __name__ == "__main__":
    from kws_tf.commands.hello_edge_import import main

    sys.exit(main())
