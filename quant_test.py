"""Float vs integer-graph accuracy of a checkpoint, and hardware exports. See README,
"Quantization"."""
import sys

from kws_tf.commands.quant_test import main

if __name__ == "__main__":
    sys.exit(main())
