"""Freeze a checkpoint into a Hello Edge frozen graph (.pb) or a TFLite model; see README."""
import sys

from kws_tf.commands.freeze import main

if __name__ == "__main__":
    sys.exit(main())
