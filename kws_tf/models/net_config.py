"""nas-for-kws's ``net.config``: the found network as JSON, read and written in its schema.

The schema is ProxylessNAS's ``ProxylessNASNets``: ``first_conv`` (a ConvLayer), ``blocks``
(MobileInvertedResidualBlocks, each an ``MBInvertedConvLayer`` or ``ZeroLayer`` plus an optional
``IdentityLayer`` shortcut), ``feature_mix_layer`` (a 1x1 ConvLayer), ``classifier`` (a
LinearLayer) and ``bn`` (PyTorch momentum and eps). Writing what was read gives the same JSON,
so files of the reference's ``models/`` folders and ours are interchangeable.

Kernel sizes and strides are (H, W) = (MFCC, time), the reference's orientation (its input is
1 x n_mfcc x frames). kws_tf's models are time-major, so kws_tf.models.nas transposes them.
"""
import dataclasses
import json
import operator

from kws_tf import cli
from kws_tf.errors import KwsError

NET_NAME = "ProxylessNASNets"
BLOCK_NAME = "MobileInvertedResidualBlock"
ACTIVATION = "relu6"
ORDER = "weight_bn_act"


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    """Conv (no bias) -> batch norm -> ReLU6; `kernel_size` and `stride` as written (int or
    [h, w])."""

    in_channels: int
    out_channels: int
    kernel_size: object
    stride: object
    num_bits: object = None

    @property
    def kernel_hw(self):
        return _pair(self.kernel_size)

    @property
    def stride_hw(self):
        return _pair(self.stride)


@dataclasses.dataclass(frozen=True)
class MBConv:
    """Inverted bottleneck: 1x1 expand (unless expand_ratio is 1), k x k depthwise, 1x1 project;
    batch norm after each, ReLU6 after the first two."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    expand_ratio: int
    mid_channels: object = None
    num_bits: object = None

    @property
    def mid(self):
        """Channels of the depthwise conv (the reference: round(in_channels * expand_ratio))."""
        if self.mid_channels is not None:
            return self.mid_channels
        return round(self.in_channels * self.expand_ratio)

    @property
    def name(self):
        return f"{self.kernel_size}x{self.kernel_size}_MBConv{self.expand_ratio}"


@dataclasses.dataclass(frozen=True)
class Zero:
    """The op that outputs zeros: with the identity shortcut its block is the identity."""

    stride: int = 1
    name = "Zero"


@dataclasses.dataclass(frozen=True)
class Block:
    op: object  # MBConv or Zero
    shortcut: bool
    channels: int  # output channels (for a Zero block, those of its shortcut)


@dataclasses.dataclass(frozen=True)
class Linear:
    """The classifier. The reference's LinearLayer has a bias that its forward never adds."""

    in_features: int
    out_features: int
    num_bits: object = None
    dropout_rate: float = 0.0


@dataclasses.dataclass(frozen=True)
class NetConfig:
    first_conv: ConvLayer
    blocks: tuple
    feature_mix: ConvLayer
    classifier: Linear
    bn_momentum: float = 0.1  # PyTorch's convention: Keras momentum = 1 - this
    bn_eps: float = 1e-3

    def num_bits(self):
        """Every weight's bit width (None: float), in network order."""
        ops = [block.op for block in self.blocks if isinstance(block.op, MBConv)]
        return [layer.num_bits for layer in (self.first_conv, *ops, self.feature_mix,
                                             self.classifier)]


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class _Reader:
    """Checked access to one JSON object; errors name the file and the key path."""

    def __init__(self, data, source, where):
        self.source, self.where = source, where
        if not isinstance(data, dict):
            self.fail(f"expected a JSON object, got {json.dumps(data)}")
        self.data = data

    def fail(self, message):
        where = f"{self.where}: " if self.where else ""
        raise KwsError(f"{self.source}: {where}{message}")

    def child(self, key):
        return _Reader(self.get(key), self.source, f"{self.where}.{key}".lstrip("."))

    def get(self, key):
        if key not in self.data:
            self.fail(f"missing {key!r}")
        return self.data[key]

    def expect(self, key, *allowed):
        """A field kws_tf supports only with the values the reference's search writes."""
        value = self.data.get(key, allowed[0])
        if value not in allowed:
            self.fail(f"{key} {json.dumps(value)} is not supported (only "
                      f"{' or '.join(json.dumps(a) for a in allowed)})")

    def positive(self, key, pairs=False):
        value = self.get(key)
        items = value if pairs and isinstance(value, list) and len(value) == 2 else [value]
        try:
            if any(isinstance(v, bool) or operator.index(v) <= 0 for v in items):
                raise TypeError
        except TypeError:
            self.fail(f"{key} must be a positive whole number{' or a pair' if pairs else ''}, "
                      f"got {json.dumps(value)}")
        return list(value) if pairs and isinstance(value, list) else value

    def bits(self):
        value = self.data.get("num_bits")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 < value <= 8):
            self.fail(f"num_bits must be null or a whole number from 1 to 8, got "
                      f"{json.dumps(value)}")
        return value


def _conv(reader):
    reader.expect("name", "ConvLayer")
    for key, allowed in (("dilation", 1), ("groups", 1), ("bias", False), ("has_shuffle", False),
                         ("use_bn", True), ("act_func", ACTIVATION), ("dropout_rate", 0),
                         ("ops_order", ORDER)):
        reader.expect(key, allowed)
    kernel = reader.positive("kernel_size", pairs=True)
    return ConvLayer(in_channels=reader.positive("in_channels"),
                     out_channels=reader.positive("out_channels"),
                     kernel_size=tuple(kernel) if isinstance(kernel, list) else kernel,
                     stride=_tuple(reader.positive("stride", pairs=True)),
                     num_bits=reader.bits())


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _block(reader, channels):
    reader.expect("name", BLOCK_NAME)
    conv = reader.child("mobile_inverted_conv")
    name = conv.get("name")
    if name == "ZeroLayer":
        op = Zero(stride=conv.positive("stride"))
        out_channels = channels
    elif name == "MBInvertedConvLayer":
        mid = conv.data.get("mid_channels")
        if mid is not None:
            conv.positive("mid_channels")
        op = MBConv(in_channels=conv.positive("in_channels"),
                    out_channels=conv.positive("out_channels"),
                    kernel_size=conv.positive("kernel_size"), stride=conv.positive("stride"),
                    expand_ratio=conv.positive("expand_ratio"), mid_channels=mid,
                    num_bits=conv.bits())
        if mid is not None and op.expand_ratio == 1 and mid != op.in_channels:
            conv.fail("mid_channels must equal in_channels when expand_ratio is 1")
        if op.in_channels != channels:
            conv.fail(f"in_channels {op.in_channels} does not follow the {channels} channels "
                      "before it")
        out_channels = op.out_channels
    else:
        conv.fail(f"name {json.dumps(name)} is not MBInvertedConvLayer or ZeroLayer")
    shortcut = reader.get("shortcut")
    if shortcut is not None:
        short = reader.child("shortcut")
        short.expect("name", "IdentityLayer")
        short.expect("use_bn", False)
        short.expect("act_func", None)
        if op.stride != 1 or out_channels != channels:
            reader.fail("an identity shortcut needs stride 1 and as many output channels as "
                        "input channels")
    elif isinstance(op, Zero):
        reader.fail("a ZeroLayer without a shortcut would output only zeros")
    return Block(op=op, shortcut=shortcut is not None, channels=out_channels)


def from_dict(data, source="net.config"):
    """A NetConfig from the parsed JSON; KwsError naming `source` and the field when invalid."""
    top = _Reader(data, source, "")
    top.expect("name", NET_NAME)
    bn = top.child("bn") if "bn" in top.data else None
    first = _conv(top.child("first_conv"))
    if first.in_channels != 1:
        top.fail(f"first_conv.in_channels must be 1 (one feature map), got {first.in_channels}")
    blocks, channels = [], first.out_channels
    items = top.get("blocks")
    if not isinstance(items, list):
        top.fail("blocks must be a list")
    for i, item in enumerate(items):
        blocks.append(_block(_Reader(item, source, f"blocks[{i}]"), channels))
        channels = blocks[-1].channels
    mix = _conv(top.child("feature_mix_layer"))
    if mix.in_channels != channels:
        top.fail(f"feature_mix_layer.in_channels {mix.in_channels} does not follow the "
                 f"{channels} channels of the last block")
    head = top.child("classifier")
    head.expect("name", "LinearLayer")
    head.expect("use_bn", False)
    head.expect("act_func", None)
    classifier = Linear(in_features=head.positive("in_features"),
                        out_features=head.positive("out_features"), num_bits=head.bits(),
                        dropout_rate=float(head.data.get("dropout_rate", 0)))
    if classifier.in_features != mix.out_channels:
        head.fail(f"in_features {classifier.in_features} does not match feature_mix_layer's "
                  f"{mix.out_channels} channels")
    if not 0 <= classifier.dropout_rate < 1:
        head.fail(f"dropout_rate must be in [0, 1), got {classifier.dropout_rate}")
    return NetConfig(first_conv=first, blocks=tuple(blocks), feature_mix=mix,
                     classifier=classifier,
                     bn_momentum=float(bn.get("momentum")) if bn else 0.1,
                     bn_eps=float(bn.get("eps")) if bn else 1e-3)


def load(path):
    return from_dict(cli.read_json(path, "net.config"), str(path))


def resolve(net_config):
    """A NetConfig from a NetConfig, a parsed dict or a path."""
    if isinstance(net_config, NetConfig):
        return net_config
    if isinstance(net_config, dict):
        return from_dict(net_config)
    return load(net_config)


def _conv_dict(conv):
    def listed(value):
        return list(value) if isinstance(value, tuple) else value

    return {"name": "ConvLayer", "kernel_size": listed(conv.kernel_size),
            "stride": listed(conv.stride), "dilation": 1, "groups": 1, "bias": False,
            "has_shuffle": False, "num_bits": conv.num_bits, "in_channels": conv.in_channels,
            "out_channels": conv.out_channels, "use_bn": True, "act_func": ACTIVATION,
            "dropout_rate": 0, "ops_order": ORDER}


def _block_dict(block):
    op = block.op
    if isinstance(op, Zero):
        conv = {"name": "ZeroLayer", "stride": op.stride}
    else:
        conv = {"name": "MBInvertedConvLayer", "in_channels": op.in_channels,
                "out_channels": op.out_channels, "kernel_size": op.kernel_size,
                "stride": op.stride, "expand_ratio": op.expand_ratio,
                "mid_channels": op.mid_channels, "num_bits": op.num_bits}
    shortcut = None
    if block.shortcut:
        shortcut = {"name": "IdentityLayer", "in_channels": block.channels,
                    "out_channels": block.channels, "use_bn": False, "act_func": None,
                    "dropout_rate": 0, "ops_order": ORDER}
    return {"name": BLOCK_NAME, "mobile_inverted_conv": conv, "shortcut": shortcut}


def to_dict(config):
    """The reference's JSON layout, key order included."""
    head = config.classifier
    dropout = int(head.dropout_rate) if head.dropout_rate == int(head.dropout_rate) \
        else head.dropout_rate
    return {"name": NET_NAME,
            "bn": {"momentum": config.bn_momentum, "eps": config.bn_eps},
            "first_conv": _conv_dict(config.first_conv),
            "blocks": [_block_dict(block) for block in config.blocks],
            "feature_mix_layer": _conv_dict(config.feature_mix),
            "classifier": {"name": "LinearLayer", "in_features": head.in_features,
                           "out_features": head.out_features, "bias": True, "use_bn": False,
                           "act_func": None, "dropout_rate": dropout, "ops_order": ORDER,
                           "num_bits": head.num_bits}}


def dumps(config):
    """The JSON text, indented as the reference writes it."""
    return json.dumps(to_dict(config), indent=4)


def save(config, path):
    """Writes `path` atomically."""
    text = dumps(config)
    cli.atomic_write(path, lambda stream: stream.write(text.encode()))
