"""Train a keyword spotting model with Hello Edge's flags. See README, "Training"."""
import sys

from kws_tf.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
