"""``python -m kws_tf.label``: label_wav.py (kws_tf.commands.label_wav)."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.label_wav import main

    sys.exit(main())
