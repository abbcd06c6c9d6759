"""``python -m kws_tf.data``: see kws_tf.commands.data."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.data import main

    sys.exit(main())
