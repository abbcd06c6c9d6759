"""kws-tf: keyword spotting for microcontrollers in TensorFlow 2 / tf_keras.

The process environment is set up here, once, before any kws_tf module imports TensorFlow:

* tfmot cannot quantize Keras 3 models, so the legacy tf_keras must back ``tf.keras``; the
  variable has to be set before TensorFlow is first imported.
* TensorFlow's C++ start-up lines (CUDA-stub and CPU-feature notices on CPU-only machines)
  go to stderr while its library loads, before TF_CPP_MIN_LOG_LEVEL is read (TF >= 2.20), so
  that file descriptor points at /dev/null while ``import tensorflow`` runs. Python's own
  warnings and errors during the import still reach stderr.
"""
import importlib.abc
import importlib.util
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        python_stderr = sys.stderr
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
        os.dup2(null, 2)
        try:
            self.loader.exec_module(module)
        finally:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Loads the `tensorflow` package through _QuietLoader, once."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


if "tensorflow" not in sys.modules and os.environ.get("KWS_TF_VERBOSE_STARTUP") != "1":
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
