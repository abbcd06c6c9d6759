"""The supernet: every candidate op of every edge, one architecture-logit vector per edge.

``SuperNet(space)(features, paths)`` runs one op per edge (``paths[e]``, an int tensor)
behind a tree of tf.conds, so only the sampled network executes and only its batch-norm
statistics move. The space (kws_tf.nas.space, kws_tf.nas.ds_cnn_bf_space) supplies the stem,
the candidates and the head, and turns a path into the derived model (``export``).

Training does not differentiate through those conds: TF's gradient of control flow makes
every branch output the intermediates its gradient needs, padded in the others, which takes
minutes to trace for 18 candidates. The search runs each edge's backward by hand instead,
``MixedEdge.backward``: the sampled op's branch recomputes it on the saved edge input under a
local tape and returns the input gradient, after handing its weight gradients to ``update``.
So a weight step costs about one network plus one recomputed forward, touches only the
sampled path's variables, and the graph grows linearly with the candidates. For an
architecture step the same backward also returns every involved candidate's <o_j, dL/dy>, the
binary-gate gradient of kws_tf.nas.gates.
"""
import functools

import tensorflow as tf
import tf_keras as keras

from kws_tf.nas.candidates import ZeroOp

ARCH_INIT_TYPES = ("normal", "uniform")


@keras.utils.register_keras_serializable(package="kws_tf")
class MixedEdge(keras.layers.Layer):
    """All candidates of one block, its architecture logits `alpha` and its shortcut."""

    def __init__(self, candidates, shortcut, arch_init_type="normal", arch_init_ratio=1e-3,
                 **kwargs):
        super().__init__(**kwargs)
        self.candidates = list(candidates)
        self.shortcut = shortcut
        self.arch_init_type, self.arch_init_ratio = arch_init_type, arch_init_ratio

    @classmethod
    def from_edge(cls, edge, space, name, **kwargs):
        """The MixedEdge of one of `space`'s edges."""
        return cls([space.candidate(op, f"{name}_{op.name}") for op in edge.ops],
                   edge.shortcut, name=name, **kwargs)

    def build(self, input_shape):
        for candidate in self.candidates:
            if not candidate.built:
                candidate.build(input_shape)
        if self.arch_init_type == "normal":
            initializer = keras.initializers.RandomNormal(stddev=self.arch_init_ratio)
        else:
            initializer = keras.initializers.RandomUniform(-self.arch_init_ratio,
                                                           self.arch_init_ratio)
        self.alpha = self.add_weight("alpha", shape=(len(self.candidates),),
                                     initializer=initializer, trainable=True)
        super().build(input_shape)

    def call(self, inputs, path, training=None):
        out = _select(path, [functools.partial(candidate, inputs, training=training)
                             for candidate in self.candidates])
        return out + inputs if self.shortcut else out

    def backward(self, inputs, path, output_gradient, training=None, update=None,
                 involved=None):
        """(dL/dinputs, dL/dgates) for the op `path` run on `inputs`.

        `update([(variable, gradient)])` receives the sampled op's weight gradients (weight
        steps). With `involved` (architecture steps) dL/dgates[j] = <o_j, dL/dy> for every
        involved candidate j, else None.
        """
        branches = [functools.partial(self._backward_op, candidate, inputs, output_gradient,
                                      training, update)
                    for candidate in self.candidates]
        input_gradient, sampled_inner = _select(path, branches)
        if self.shortcut:
            input_gradient += output_gradient
        if involved is None:
            return input_gradient, None
        inner = []
        for j, candidate in enumerate(self.candidates):
            if isinstance(candidate, ZeroOp):
                inner.append(tf.constant(0.0))
                continue
            other = tf.cond(involved[j] & tf.not_equal(path, j),
                            lambda c=candidate: tf.reduce_sum(
                                c(inputs, training=training) * output_gradient),
                            lambda: tf.constant(0.0))
            inner.append(tf.where(tf.equal(path, j), sampled_inner, other))
        return input_gradient, tf.stack(inner)

    @staticmethod
    def _backward_op(candidate, inputs, output_gradient, training, update):
        """(input gradient, <op output, output gradient>) of one candidate, recomputed."""
        if isinstance(candidate, ZeroOp):
            return tf.zeros_like(inputs), tf.constant(0.0)
        variables = candidate.trainable_variables if update else []
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            tape.watch(variables)
            out = candidate(inputs, training=training)
        input_gradient, *gradients = tape.gradient(out, [inputs, *variables],
                                                   output_gradients=output_gradient)
        if update:
            update(list(zip(variables, gradients)))
        return input_gradient, tf.reduce_sum(out * output_gradient)

    def get_config(self):
        """The candidates without their build_config: a rebuilt edge builds them in its own
        build(), as this one did, so their weights get the same names (edge/kernel...)."""
        candidates = [{key: value for key, value in keras.layers.serialize(c).items()
                       if key != "build_config"} for c in self.candidates]
        return {**super().get_config(), "shortcut": self.shortcut,
                "arch_init_type": self.arch_init_type, "arch_init_ratio": self.arch_init_ratio,
                "candidates": candidates}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["candidates"] = [keras.layers.deserialize(c) for c in config["candidates"]]
        return cls(**config)


def _select(index, branches, first=0):
    """The output of branches[index - first], running only that branch.

    A balanced tree of conds, log2(len(branches)) deep. (A tf.switch_case would make every
    branch take every other branch's captured variables as inputs, which takes minutes to
    trace for 18 candidates.)
    """
    if len(branches) == 1:
        return branches[0]()
    half = len(branches) // 2
    return tf.cond(index < first + half,
                   lambda: _select(index, branches[:half], first),
                   lambda: _select(index, branches[half:], first + half))


class SuperNet(keras.Model):
    """nas-for-kws's supernet on a time-major feature map [batch, frames, n_mfcc]."""

    def __init__(self, space, arch_init_type="normal", arch_init_ratio=1e-3, **kwargs):
        super().__init__(name=kwargs.pop("name", "supernet"), **kwargs)
        self.space = space
        self.stem = space.stem_layers()
        self.edges = [MixedEdge.from_edge(edge, space, f"edge{i}", arch_init_type=arch_init_type,
                                          arch_init_ratio=arch_init_ratio)
                      for i, edge in enumerate(space.edges)]
        self.head = space.head_layers()

    def build_for(self, input_shape):
        """Creates every variable (all candidates and logits) for [frames, n_mfcc] inputs."""
        self(tf.zeros((1, *input_shape)), tf.zeros([len(self.edges)], tf.int32))
        return self

    def call(self, inputs, paths, training=None):
        x = self.stem_forward(inputs, training)
        for e, edge in enumerate(self.edges):
            x = edge(x, paths[e], training=training)
        return self.head_forward(x, training)

    def stem_forward(self, features, training=None):
        x = features[..., tf.newaxis]
        for layer in self.stem:
            x = layer(x, training=training)
        return x

    def head_forward(self, x, training=None):
        for layer in self.head:
            x = layer(x, training=training)
        return x

    def stem_variables(self):
        return [v for layer in self.stem for v in layer.trainable_variables]

    def head_variables(self):
        """Feature mix and classifier weights."""
        return [v for layer in self.head for v in layer.trainable_variables]

    @property
    def arch_parameters(self):
        return [edge.alpha for edge in self.edges]

    def probabilities(self):
        return [tf.nn.softmax(alpha).numpy() for alpha in self.arch_parameters]

    def argmax_paths(self):
        """The op of largest probability per edge (the first on ties, as torch's argmax)."""
        return [int(tf.argmax(alpha)) for alpha in self.arch_parameters]

    def export(self, paths, input_shape):
        """The network of `paths` with the supernet's weights (kws_tf.nas.space.Export)."""
        return self.space.export(self, paths, input_shape)
