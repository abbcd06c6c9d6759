"""Differentiable architecture search (nas-for-kws / ProxylessNAS) in tf_keras.

``flops`` counts a network's operations exactly as nas-for-kws does. ``space`` (nas-for-kws's
MBConv choices) and ``ds_cnn_bf_space`` (bias-free blocks for the integer flow) describe what
a supernet chooses from, ``candidates`` are its Keras layers, ``supernet`` builds and runs it,
``gates``, ``regularizer`` and ``optimizers`` are the pieces of the search steps in
``searcher``. The found network's ``net.config`` and its layers live in ``kws_tf.models``
(``net_config``, ``nas_layers``), where the model zoo builds it; ``search.py`` is
``kws_tf.commands.search``. docs/nas.md describes the reference this reproduces.
"""
