"""nas-for-kws's search space: what its supernet chooses from, edge by edge.

A SearchSpace is a net.config with a list of candidate ops instead of one op per block: the
fixed stem, feature mix and classifier, and one Edge per block. ``derive(choices)`` turns one
choice per edge into the NetConfig of that network; ``flops_table`` gives the reference's
operation counts (kws_tf.nas.flops) of the fixed part and of every candidate, from which the
expected FLOPs under the architecture distribution follow exactly.

Every search space gives kws_tf.nas.supernet the same few things: ``edges`` (each with its
``ops`` and ``shortcut``), ``stem_layers()``, ``candidate(op, name)``, ``head_layers()``,
``flops_model(input_shape)`` (kws_tf.nas.regularizer) and ``export(net, paths, input_shape)``
(the derived model with the supernet's weights, and how to rebuild it).
"""
import dataclasses

from kws_tf.models import nas as nas_model
from kws_tf.models import nas_layers as layers
from kws_tf.models import net_config as nc
from kws_tf.nas import candidates, flops, regularizer

KERNEL_SIZES = (3, 5, 7)
EXPAND_RATIOS = (1, 2, 3, 4, 5, 6)
STEM_WIDTH = 72   # hard-coded in the reference, independent of --width_stages
HEAD_WIDTH = 144  # the feature-mix width
STEM_KERNEL = (5, 11)  # (MFCC, time)
STEM_STRIDE = (1, 2)


@dataclasses.dataclass(frozen=True)
class Edge:
    """One block's candidates (in order: the architecture logits' order) and its shortcut."""

    ops: tuple
    shortcut: bool
    channels: int  # output channels


@dataclasses.dataclass(frozen=True)
class Export:
    """A derived network: the model (holding the supernet's weights), the sidecar fields that
    rebuild it, and the files that describe it ({name: text} for learned_net/)."""

    model: object
    sidecar: dict
    files: dict
    train_flags: str


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    first_conv: nc.ConvLayer
    edges: tuple
    feature_mix: nc.ConvLayer
    classifier: nc.Linear
    bn_momentum: float = 0.1
    bn_eps: float = 1e-3

    def derive(self, choices):
        """The NetConfig with op `choices[i]` on edge i."""
        blocks = tuple(nc.Block(op=edge.ops[int(choice)], shortcut=edge.shortcut,
                                channels=edge.channels)
                       for edge, choice in zip(self.edges, choices, strict=True))
        return nc.NetConfig(first_conv=self.first_conv, blocks=blocks,
                            feature_mix=self.feature_mix, classifier=self.classifier,
                            bn_momentum=self.bn_momentum, bn_eps=self.bn_eps)

    def flops_table(self, input_shape):
        """(FLOPs of the fixed layers, [[FLOPs of each candidate] per edge]) on a
        (frames, n_mfcc) map. All candidates of an edge give the same output size."""
        frames, n_mfcc = input_shape
        constant, hw = flops.op_flops(self.first_conv, (n_mfcc, frames))
        table = []
        for edge in self.edges:
            counted = [flops.op_flops(op, hw) for op in edge.ops]
            table.append([count for count, _ in counted])
            hw = counted[0][1]
        constant += flops.op_flops(self.feature_mix, hw)[0]
        constant += self.classifier.in_features * self.classifier.out_features
        return constant, table

    @property
    def label_count(self):
        return self.classifier.out_features

    def flops_model(self, input_shape):
        return regularizer.LinearFlops(*self.flops_table(input_shape))

    def stem_layers(self):
        return layers.conv_bn_act(self.first_conv, "first_conv", self)

    def head_layers(self):
        return (layers.conv_bn_act(self.feature_mix, "feature_mix", self)
                + layers.classifier(self.classifier, self.label_count))

    def candidate(self, op, name):
        if isinstance(op, nc.Zero):
            return candidates.ZeroOp(name=name)
        return candidates.MBConvCandidate(op, self.bn_momentum, self.bn_eps, name=name)

    def export(self, net, paths, input_shape):
        """The kws_tf.models.nas model of `paths` with the chosen candidates' weights."""
        config = self.derive(paths)
        model = nas_model.model([], input_shape, self.label_count, net_config=config)
        for layer in net.stem + net.head:
            if layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
        for i, (edge, path) in enumerate(zip(net.edges, paths)):
            candidate = edge.candidates[path]
            for step in getattr(candidate, "steps", []):
                if step.weights:
                    target = f"block{i}" + step.name[len(candidate.name):]
                    model.get_layer(target).set_weights(step.get_weights())
        return Export(model=model,
                      sidecar={"model_architecture": "nas", "model_size_info": [],
                               "net_config": nc.to_dict(config)},
                      files={"net.config": nc.dumps(config)},
                      train_flags="--model_architecture nas --net_config {folder}/net.config")


def make_divisible(value, divisor=8):
    """The reference's channel rounding: to a multiple of 8, at least 8, never below 90 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def mbconv_candidates(in_channels, out_channels, stride, num_bits, kernel_sizes=KERNEL_SIZES,
                      expand_ratios=EXPAND_RATIOS):
    """The reference's 18 ops, 3x3_MBConv1..6, 5x5_..., 7x7_..., plus Zero where the block can
    be skipped (stride 1, same width)."""
    ops = [nc.MBConv(in_channels, out_channels, kernel, stride, ratio, num_bits=num_bits)
           for kernel in kernel_sizes for ratio in expand_ratios]
    if stride == 1 and in_channels == out_channels:
        ops.append(nc.Zero())
    return tuple(ops)


def proxyless(label_count, width_mult=1.0, width_stages=(72,), n_cell_stages=(12,),
              stride_stages=(2,), weight_bits=None, dropout=0.0, bn_momentum=0.1,
              bn_eps=1e-3, kernel_sizes=KERNEL_SIZES, expand_ratios=EXPAND_RATIOS):
    """nas-for-kws's supernet (super_proxyless.py): stem, stages of mixed MBConv edges, head.
    `kernel_sizes` and `expand_ratios` narrow the candidates (the reference: all 18)."""
    stem = make_divisible(STEM_WIDTH * width_mult)
    first = nc.ConvLayer(1, stem, STEM_KERNEL, STEM_STRIDE, weight_bits)
    edges, channels = [], stem
    for width, cells, stride in zip(width_stages, n_cell_stages, stride_stages, strict=True):
        width = make_divisible(width * width_mult)
        for cell in range(cells):
            block_stride = stride if cell == 0 else 1
            ops = mbconv_candidates(channels, width, block_stride, weight_bits, kernel_sizes,
                                    expand_ratios)
            edges.append(Edge(ops, shortcut=block_stride == 1 and channels == width,
                              channels=width))
            channels = width
    head = make_divisible(HEAD_WIDTH * width_mult)
    return SearchSpace(first_conv=first, edges=tuple(edges),
                       feature_mix=nc.ConvLayer(channels, head, 1, 1, weight_bits),
                       classifier=nc.Linear(head, label_count, weight_bits, dropout),
                       bn_momentum=bn_momentum, bn_eps=bn_eps)
