"""The supernet: every candidate op of every edge, one architecture-logit vector per edge.

``SuperNet(space)(features, paths)`` runs one op per edge (``paths[e]``, an int tensor) behind
a tf.cond per candidate, so only the sampled network executes and only its batch-norm
statistics move.

Training does not differentiate through those conds (TF's gradient of control flow makes each
branch output the intermediates its gradient needs, padded in the others: minutes of tracing
for 18 candidates). The search runs each edge's backward by hand instead,
``MixedEdge.backward``: the sampled op's branch recomputes it on the saved edge input under a
local tape and returns the input gradient, after handing its weight gradients to ``update``. So a weight step costs
about one network (plus the recomputed forward), touches only the sampled path's variables,
and the graph grows linearly with the candidates. For an architecture step the same backward
also returns every involved candidate's <o_j, dL/dy>, the binary-gate gradient of
kws_tf.nas.gates.

The recomputation updates a candidate's batch-norm statistics a second time with the same
batch statistics; its layers therefore use momentum sqrt(0.9) (for net.config's 0.1), so that
two updates equal the reference's one.

Candidates are built from the same layer functions as kws_tf.models.nas, with the same names
up to the prefix, so ``derived_model`` copies the chosen ops' weights into the found network.
"""
import functools
import math
import types

import kws_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from kws_tf.models import nas as nas_model
from kws_tf.nas import layers
from kws_tf.nas import net_config as nc

ARCH_INIT_TYPES = ("normal", "uniform")


@keras.utils.register_keras_serializable(package="kws_tf")
class Candidate(keras.layers.Layer):
    """One MBConv candidate: the derived model's layers for that op, run in order."""

    def __init__(self, op, bn_momentum=0.1, bn_eps=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.op = nc.MBConv(**op) if isinstance(op, dict) else op
        self.bn_momentum, self.bn_eps = bn_momentum, bn_eps
        # Two updates with (1 - m')^2 = 1 - m are one with m (see the module docstring).
        twice = types.SimpleNamespace(bn_momentum=1 - math.sqrt(1 - bn_momentum), bn_eps=bn_eps)
        self.steps = layers.mbconv(self.op, self.name, twice)

    def build(self, input_shape):
        """Builds every step now, so that all variables exist before a compiled step runs."""
        for step in self.steps:
            step.build(input_shape)
            input_shape = step.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        for step in self.steps:
            input_shape = step.compute_output_shape(input_shape)
        return input_shape

    def call(self, inputs, training=None):
        for step in self.steps:
            inputs = step(inputs, training=training)
        return inputs

    def get_config(self):
        return {**super().get_config(), "op": dict(vars(self.op)),
                "bn_momentum": self.bn_momentum, "bn_eps": self.bn_eps}


@keras.utils.register_keras_serializable(package="kws_tf")
class ZeroOp(keras.layers.Layer):
    """The Zero candidate (stride 1): with the edge's shortcut the block becomes the identity."""

    def call(self, inputs):
        return tf.zeros_like(inputs)


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
    def from_edge(cls, edge, config, name, **kwargs):
        """The MixedEdge of a kws_tf.nas.space.Edge; `config` gives the batch-norm settings."""
        candidates = [ZeroOp(name=f"{name}_Zero") if isinstance(op, nc.Zero)
                      else Candidate(op, config.bn_momentum, config.bn_eps,
                                     name=f"{name}_{op.name}")
                      for op in edge.ops]
        return cls(candidates, edge.shortcut, name=name, **kwargs)

    def build(self, input_shape):
        for candidate in self.candidates:
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
        shape = self.candidates[0].compute_output_shape(inputs.shape)
        out = _select(path, [functools.partial(candidate, inputs, training=training)
                             for candidate in self.candidates], tf.zeros([0, *shape[1:]]))
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
        input_gradient, sampled_inner = _select(
            path, branches, (tf.zeros([0, *inputs.shape[1:]]), tf.zeros([0])))
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
            inner.append(tf.where(tf.equal(path, j), sampled_inner[0], other))
        return input_gradient, tf.stack(inner)

    @staticmethod
    def _backward_op(candidate, inputs, output_gradient, training, update):
        """(input gradient, <op output, output gradient>) of one candidate, recomputed."""
        if isinstance(candidate, ZeroOp):
            return tf.zeros_like(inputs), tf.zeros([1])
        variables = candidate.trainable_variables if update else []
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            tape.watch(variables)
            out = candidate(inputs, training=training)
        input_gradient, *gradients = tape.gradient(out, [inputs, *variables],
                                                   output_gradients=output_gradient)
        if update:
            update(list(zip(variables, gradients)))
        return input_gradient, tf.reshape(tf.reduce_sum(out * output_gradient), [1])


def _select(index, branches, empty):
    """The output of branches[index], running only that branch.

    One tf.cond per branch: a tf.switch_case would make every branch take every other branch's
    captured variables as inputs, which takes minutes to trace for 18 candidates. A cond not
    taken returns `empty` (batch 0), so concatenating the results yields the taken one's.
    """
    outputs = [tf.cond(tf.equal(index, j), branch, lambda: empty)
               for j, branch in enumerate(branches)]
    return tf.nest.map_structure(lambda *parts: tf.concat(parts, 0), *outputs)

    def get_config(self):
        return {**super().get_config(), "shortcut": self.shortcut,
                "arch_init_type": self.arch_init_type, "arch_init_ratio": self.arch_init_ratio,
                "candidates": [keras.layers.serialize(c) for c in self.candidates]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["candidates"] = [keras.layers.deserialize(c) for c in config["candidates"]]
        return cls(**config)


class SuperNet(keras.Model):
    """nas-for-kws's supernet on a time-major feature map [batch, frames, n_mfcc]."""

    def __init__(self, space, arch_init_type="normal", arch_init_ratio=1e-3, **kwargs):
        super().__init__(name=kwargs.pop("name", "supernet"), **kwargs)
        self.space = space
        self.stem = layers.conv_bn_act(space.first_conv, "first_conv", space)
        self.edges = [MixedEdge.from_edge(edge, space, f"edge{i}", arch_init_type=arch_init_type,
                                          arch_init_ratio=arch_init_ratio)
                      for i, edge in enumerate(space.edges)]
        self.head = (layers.conv_bn_act(space.feature_mix, "feature_mix", space)
                     + layers.classifier(space.classifier, space.classifier.out_features))

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

    def candidate_variables(self):
        """[edge][candidate] -> that candidate's trainable weights ([] for Zero)."""
        return [[candidate.trainable_variables for candidate in edge.candidates]
                for edge in self.edges]

    def probabilities(self):
        return [tf.nn.softmax(alpha).numpy() for alpha in self.arch_parameters]

    def argmax_paths(self):
        """The op of largest probability per edge (the first on ties, as torch's argmax)."""
        return [int(tf.argmax(alpha)) for alpha in self.arch_parameters]

    def derived_model(self, paths, input_shape):
        """The network of `paths` as a kws_tf.models.nas model holding the supernet's weights:
        (model, NetConfig)."""
        config = self.space.derive(paths)
        model = nas_model.model([], input_shape, self.space.classifier.out_features,
                                net_config=config)
        for layer in self.stem + self.head:
            if layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
        for i, (edge, path) in enumerate(zip(self.edges, paths)):
            candidate = edge.candidates[path]
            if isinstance(candidate, ZeroOp):
                continue
            for step in candidate.steps:
                if step.weights:
                    target = f"block{i}" + step.name[len(candidate.name):]
                    model.get_layer(target).set_weights(step.get_weights())
        return model, config
