"""Differentiable architecture search (nas-for-kws / ProxylessNAS) in tf_keras.

``net_config`` reads and writes the found network in nas-for-kws's ``net.config`` JSON,
``flops`` counts its operations exactly as the reference does, ``space`` describes a
supernet's choices, ``supernet`` builds and runs it, ``search`` is the ``search.py`` command.
See ../shared/docs/nas_for_kws_reference.md for the reference this reproduces.
"""
