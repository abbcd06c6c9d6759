"""Label wav files with a frozen graph or TFLite model (Hello Edge's flags); see README."""
import sys

from kws_tf.commands.label_wav import main

if __name__ == "__main__":
    sys.exit(main())
