"""``python -m kws_tf.data.synthetic``: see kws_tf.commands.synthetic."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.synthetic import main

    sys.exit(main())
