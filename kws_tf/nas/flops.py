"""Operations (multiply-accumulates) exactly as nas-for-kws counts them ("FLOPs", the paper's ops).

A convolution costs C_in * C_out * kh * kw * floor(H_in / s_h) * floor(W_in / s_w) / groups,
on the size of its *input*; a linear layer in * out. Batch norm, activations, residual adds and
pooling are free. Because the formula floors the input size instead of taking the output size,
the reference's stem (51 frames, stride 2) is counted at width 25 although it outputs 26; later
layers see the real sizes. This module keeps that formula, so its numbers are the reference's.

Sizes are given time-major, as kws_tf's models take them: ``input_shape = (frames, n_mfcc)``;
the reference's input is n_mfcc x 51 frames, ``reference_input_shape(n_mfcc)``.
"""
from kws_tf.models import net_config as nc

REFERENCE_FRAMES = 51  # torchaudio's centred STFT: 1 + 16000 // 320


def reference_input_shape(n_mfcc):
    return (REFERENCE_FRAMES, n_mfcc)


def conv_flops(in_channels, out_channels, kernel_hw, stride_hw, in_hw, groups=1):
    (kh, kw), (sh, sw), (h, w) = kernel_hw, stride_hw, in_hw
    return in_channels * out_channels * kh * kw * (h // sh) * (w // sw) // groups


def conv_output(in_hw, kernel_hw, stride_hw):
    """Output size with the reference's symmetric padding of k // 2."""
    return tuple((n + 2 * (k // 2) - k) // s + 1 for n, k, s in zip(in_hw, kernel_hw, stride_hw))


def op_flops(op, in_hw):
    """(operations, output size) of one layer of a net.config on an (H, W) = (MFCC, time) map."""
    if isinstance(op, nc.ConvLayer):
        return (conv_flops(op.in_channels, op.out_channels, op.kernel_hw, op.stride_hw, in_hw),
                conv_output(in_hw, op.kernel_hw, op.stride_hw))
    if isinstance(op, nc.Zero):
        return 0, conv_output(in_hw, (1, 1), (op.stride, op.stride))
    kernel, stride = (op.kernel_size,) * 2, (op.stride,) * 2
    total = 0
    if op.expand_ratio != 1:
        total += conv_flops(op.in_channels, op.mid, (1, 1), (1, 1), in_hw)
    total += conv_flops(op.mid, op.mid, kernel, stride, in_hw, groups=op.mid)
    out_hw = conv_output(in_hw, kernel, stride)
    total += conv_flops(op.mid, op.out_channels, (1, 1), (1, 1), out_hw)
    return total, out_hw


def net_flops(config, input_shape):
    """Operations of a whole net.config on a (frames, n_mfcc) feature map."""
    frames, n_mfcc = input_shape
    hw = (n_mfcc, frames)
    total = 0
    for layer in (config.first_conv, *(block.op for block in config.blocks), config.feature_mix):
        flops, hw = op_flops(layer, hw)
        total += flops
    return total + config.classifier.in_features * config.classifier.out_features
