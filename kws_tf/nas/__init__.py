"""Differentiable architecture search (nas-for-kws / ProxylessNAS) in tf_keras.

``net_config`` reads and writes the found network in nas-for-kws's ``net.config`` JSON and
``flops`` counts its operations exactly as the reference does. ``space`` (nas-for-kws's
MBConv choices) and ``ds_cnn_bf_space`` (bias-free blocks for the integer flow) describe what
a supernet chooses from, ``candidates`` and ``layers`` are its Keras layers, ``supernet``
builds and runs it, ``gates``, ``regularizer`` and ``optimizers`` are the pieces of the
search steps in ``searcher``, and ``search`` is the ``search.py`` command. See
../shared/docs/nas_for_kws_reference.md for the reference this reproduces.
"""
