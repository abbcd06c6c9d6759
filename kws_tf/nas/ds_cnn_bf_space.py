"""--search_space ds_cnn_bf: bias-free depthwise-separable blocks for the integer flow.

The found network is a kws_tf ``ds_cnn_bf`` model (--model_architecture ds_cnn_bf with a
--model_size_info), which the integer export takes as it is: no batch norm, no bias except
the classifier's, ReLU, a VALID first conv, SAME depthwise convs, a global max pool after the
last depthwise conv.

Supernet: the first conv (``first_conv`` = features, kernel_t, kernel_f, stride_t, stride_f)
and ReLU, then one edge per block. An edge's candidates: for every kernel size k and width w,
a k x k depthwise conv, ReLU, a 1x1 conv to w channels, ReLU; plus Skip (the block is left
out) on every edge but the last, whose candidates hold the global max pool between their two
convs, where ds_cnn_bf has it. Every candidate pads its output with zero channels up to the
edge's width (the largest); zeros stay zeros through the next bias-free op, so the derived
model simply drops them (its next kernels are cut to the real width).

FLOPs are the derived model's exact multiply-accumulates. A block's cost depends on its input
width, the width of the last block before it that was not skipped; edges are drawn
independently, so ``ChainFlops`` has E[F] = F_stem + sum_e E[W_in,e] * sum_j p_j c_j
+ E[W_last] * labels with E[W_out,e] = sum_(j not Skip) p_j w_j + p_Skip E[W_in,e].
"""
import dataclasses
import math

import tensorflow as tf
import tf_keras as keras

from kws_tf.errors import KwsError
from kws_tf.models import ds_cnn_bf
from kws_tf.nas import candidates
from kws_tf.nas.space import Edge, Export

DEFAULT_FIRST_CONV = (48, 4, 4, 2, 2)  # ds_cnn_bf's default first layer
DEFAULT_KERNEL_SIZES = (3, 5)
DEFAULT_WIDTHS = (16, 32, 48)
DEFAULT_BLOCKS = 4


@dataclasses.dataclass(frozen=True)
class DsOp:
    kernel_size: int
    width: int
    pool: bool = False  # the last block: global max pool between the two convs

    @property
    def name(self):
        return f"{self.kernel_size}x{self.kernel_size}_DS{self.width}"


@dataclasses.dataclass(frozen=True)
class Skip:
    name = "Skip"


class ChainFlops:
    """Expected and exact FLOPs where a block's cost scales with its input width."""

    def __init__(self, stem_flops, stem_width, edges, map_size, label_count):
        self.stem_flops, self.stem_width = stem_flops, stem_width
        self.edges, self.map_size, self.label_count = edges, map_size, label_count

    def _op_cost(self, op):
        """FLOPs per input channel: depthwise k*k per position, pointwise w per position."""
        if isinstance(op, Skip):
            return 0
        return op.kernel_size ** 2 * self.map_size + op.width * (1 if op.pool else self.map_size)

    def expected(self, probabilities):
        total = tf.constant(float(self.stem_flops))
        width = tf.constant(float(self.stem_width))
        for probs, edge in zip(probabilities, self.edges, strict=True):
            costs = tf.constant([float(self._op_cost(op)) for op in edge.ops])
            widths = tf.constant([0.0 if isinstance(op, Skip) else float(op.width)
                                  for op in edge.ops])
            skip = tf.constant([float(isinstance(op, Skip)) for op in edge.ops])
            total += width * tf.reduce_sum(probs * costs)
            width = tf.reduce_sum(probs * widths) + tf.reduce_sum(probs * skip) * width
        return total + width * self.label_count

    def of(self, paths):
        total, width = self.stem_flops, self.stem_width
        for edge, path in zip(self.edges, paths, strict=True):
            op = edge.ops[int(path)]
            total += width * self._op_cost(op)
            width = width if isinstance(op, Skip) else op.width
        return total + width * self.label_count


@dataclasses.dataclass(frozen=True)
class DsCnnBfSpace:
    first_conv: tuple  # features, kernel_t, kernel_f, stride_t, stride_f
    edges: tuple
    label_count: int

    @property
    def channels(self):
        return self.edges[0].channels

    def stem_layers(self):
        features, kt, kf, st, sf = self.first_conv
        return [keras.layers.Conv2D(features, (kt, kf), strides=(st, sf), padding="valid",
                                    use_bias=False, kernel_initializer="glorot_uniform",
                                    name="conv_1"),
                keras.layers.ReLU(name="conv_1_relu")]

    def head_layers(self):
        return [keras.layers.Flatten(name="squeeze"),
                keras.layers.Dense(self.label_count, kernel_initializer="glorot_uniform",
                                   bias_initializer="zeros", name="fc1")]

    def candidate(self, op, name):
        if isinstance(op, Skip):
            return candidates.ChannelFill(self.channels, name=name)
        return candidates.DsCandidate(op.kernel_size, op.width, self.channels, pool=op.pool,
                                      name=name)

    def _stem_map(self, input_shape):
        _, kt, kf, st, sf = self.first_conv
        return tuple(math.ceil((size - k + 1) / s)
                     for size, k, s in zip(input_shape, (kt, kf), (st, sf)))

    def flops_model(self, input_shape):
        features, kt, kf, _, _ = self.first_conv
        height, width = self._stem_map(input_shape)
        return ChainFlops(features * kt * kf * height * width, features, self.edges,
                          height * width, self.label_count)

    def model_size_info(self, paths):
        blocks = [self.edges[e].ops[p] for e, p in enumerate(paths)]
        blocks = [op for op in blocks if not isinstance(op, Skip)]
        info = [1 + len(blocks), *self.first_conv]
        for op in blocks:
            info += [op.width, op.kernel_size, op.kernel_size, 1, 1]
        return info

    def export(self, net, paths, input_shape):
        """The ds_cnn_bf model of `paths`, its kernels cut to the real channel counts."""
        info = self.model_size_info(paths)
        model = ds_cnn_bf.model(info, input_shape, self.label_count)
        model.get_layer("conv_1").set_weights(net.stem[0].get_weights())
        width, block = self.first_conv[0], 1
        for edge, mixed, path in zip(self.edges, net.edges, paths):
            op, candidate = edge.ops[path], mixed.candidates[path]
            if isinstance(op, Skip):
                continue
            depthwise, pointwise = candidate.steps[0], candidate.steps[-3]
            model.get_layer(f"conv_ds_{block}_dw").set_weights(
                [depthwise.depthwise_kernel[:, :, :width, :]])
            model.get_layer(f"conv_ds_{block}_pw").set_weights(
                [pointwise.kernel[:, :, :width, :]])
            width, block = op.width, block + 1
        dense = net.head[-1]
        model.get_layer("fc1").set_weights([dense.kernel[:width], dense.bias])
        text = " ".join(str(v) for v in info)
        return Export(model=model,
                      sidecar={"model_architecture": "ds_cnn_bf", "model_size_info": info},
                      files={"model_size_info": text + "\n"},
                      train_flags=f"--model_architecture ds_cnn_bf --model_size_info {text}")


def ds_cnn_bf_space(label_count, first_conv=DEFAULT_FIRST_CONV, blocks=DEFAULT_BLOCKS,
                    kernel_sizes=DEFAULT_KERNEL_SIZES, widths=DEFAULT_WIDTHS):
    if len(first_conv) != 5 or any(v <= 0 for v in first_conv):
        raise KwsError(f"--ds_first_conv: expected 5 positive numbers (features, kernel_t, "
                       f"kernel_f, stride_t, stride_f), got {','.join(map(str, first_conv))}")
    if blocks < 1:
        raise KwsError(f"--ds_blocks must be positive, got {blocks}")
    if not kernel_sizes or not widths or min(*kernel_sizes, *widths) <= 0:
        raise KwsError("--ds_kernel_sizes and --ds_widths need positive numbers")
    channels = max(first_conv[0], *widths)
    edges = []
    for block in range(blocks):
        last = block == blocks - 1
        ops = tuple(DsOp(k, w, pool=last) for k in kernel_sizes for w in widths)
        edges.append(Edge(ops if last else ops + (Skip(),), shortcut=False, channels=channels))
    return DsCnnBfSpace(first_conv=tuple(first_conv), edges=tuple(edges),
                        label_count=label_count)
