"""``python -m kws_tf.robustness``: see kws_tf.commands.robustness."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.robustness import main

    sys.exit(main())
