"""The command-line tools: each module holds one command's parser and ``main``.

Commands sit above every other layer, so they are where the pieces meet: quant_test.py,
for instance, runs the integer graph (``kws_tf.quant``) and writes hardware exports
(``kws_tf.export``).
"""
