"""``python -m kws_tf.profile``: see kws_tf.commands.profile."""
import sys

if __name__ == "__main__":
    from kws_tf.commands.profile import main

    sys.exit(main())
