"""Quantization: the bias-free floor-shift integer graph and its analysis.

stages (the graph's stages and their array maths), extract (a trained DS-CNN as float
stages, batch norm folded), integer_graph (quantize, choose scales and shifts, run in numpy
integers), tf_integer (the same in TensorFlow int32 ops), analysis (value ranges and bit
widths), evaluate (quant_test.py); qat holds quantization-aware training with tfmot (qat_nas
annotates the nas models' Q layers for it).
"""
