"""``python -m kws_tf.evaluate``: see kws_tf.commands.evaluate."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.evaluate import main

    sys.exit(main())
