"""Differentiable architecture search with nas-for-kws's flags.

See README, "Architecture search".
"""
import sys

from kws_tf.commands.search import main

if __name__ == "__main__":
    sys.exit(main())
