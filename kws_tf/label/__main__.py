"""python -m kws_tf.label: the same as label_wav.py."""
import sys

from kws_tf.label.main import main

if __name__ == "__main__":
    sys.exit(main())
