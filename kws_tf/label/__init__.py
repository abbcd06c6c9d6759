"""label_wav.py: run a frozen graph (.pb) or a TFLite model on wav files.

Hello Edge's label_wav.py fed one file's bytes to a frozen graph and printed the top
labels. This package does that unchanged for its published graphs, and also labels
.tflite models (computing their MFCC input), several files per call, and recordings
longer than a clip (a sliding window with TensorFlow's RecognizeCommands smoothing).

Modules: ``main`` (the command line and its text output), ``model`` (opening a model:
the feature settings it fixes against the flags, and its labels file), ``frozen_graph``
and ``tflite_model`` (the two kinds of model behind one interface: ``features``,
``output_count``, ``probabilities(clips)``), ``audio`` (the wavs to label), ``classify``
(one recording's result) and ``recognize`` (detections in a stream).
"""
