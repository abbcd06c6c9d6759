"""The two compiled steps of the search, as nas-for-kws's ArchSearchRunManager runs them.

Weight step (training batch): draw one op per edge from the architecture distribution, train
that network with label-smoothed cross entropy, update its weights with PathSGD (momentum and
decay of the sampled path only). Architecture step (validation batch): draw gates, plain cross
entropy, multiply in the FLOPs regulariser, update the logits with ArchAdam; an edge whose
sampled op is Zero keeps its logits for that step (the reference sets their gradient to None).
"""
import dataclasses
import functools
import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from kws_tf.nas import gates, regularizer
from kws_tf.nas.candidates import ZeroOp
from kws_tf.nas.optimizers import ArchAdam, PathSGD

NO_DECAY_KEYS = ("bn", "bn#bias")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """The step settings of arch_search.py (same names and defaults)."""

    label_smoothing: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5
    no_decay_keys: object = None  # None, "bn" or "bn#bias"
    arch_adam_beta1: float = 0.0
    arch_adam_beta2: float = 0.999
    arch_adam_eps: float = 1e-8
    arch_weight_decay: float = 0.0
    grad_binary_mode: str = "full_v2"
    target_hardware: object = None  # None or "flops"
    grad_reg_loss_type: str = "mul#log"
    grad_reg_loss_alpha: float = 0.2
    grad_reg_loss_beta: float = 0.3
    grad_reg_loss_lambda: float = 0.1
    flops_ref_value: float = 100e6
    seed: int = 0


def cosine_rate(peak, step, total):
    """The weight learning rate: 0.5 * peak * (1 + cos(pi * step / total))."""
    return 0.5 * peak * (1 + math.cos(math.pi * step / total))


def arch_rate(peak, step, total):
    """nas-for-kws's architecture learning rate, rising from 0 to peak over the search:
    peak * (1 - cos(pi * step / (2 * total)))."""
    return peak * (1 - math.cos(math.pi * step / (2 * total)))


def smoothed_cross_entropy(labels, logits, smoothing):
    count = tf.shape(logits)[-1]
    target = tf.one_hot(labels, count) * (1 - smoothing) + smoothing / tf.cast(count, tf.float32)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))


def _batch_norm_variables(net):
    return [v for module in net.submodules
            if isinstance(module, keras.layers.BatchNormalization)
            for v in module.trainable_variables]


class Searcher:
    """The weight and architecture steps of one built SuperNet on [frames, n_mfcc] inputs."""

    def __init__(self, net, input_shape, settings):
        self.net, self.settings = net, settings
        self.flops = net.space.flops_model(input_shape)
        self.generator = tf.random.Generator.from_seed(settings.seed)
        self.fixed = net.stem_variables() + net.head_variables()
        self.weights = self.fixed + [v for edge in net.edges for v in edge.trainable_variables
                                     if v is not edge.alpha]
        no_decay = _batch_norm_variables(net) if settings.no_decay_keys in NO_DECAY_KEYS else []
        self.weight_optimizer = PathSGD(self.weights, settings.momentum, settings.nesterov,
                                        settings.weight_decay, no_decay)
        self.arch_optimizer = ArchAdam(net.arch_parameters, settings.arch_adam_beta1,
                                       settings.arch_adam_beta2, settings.arch_adam_eps,
                                       settings.arch_weight_decay)
        self.is_zero = [tf.constant([isinstance(c, ZeroOp) for c in edge.candidates])
                        for edge in net.edges]
        self.weight_step = tf.function(self._weight_step, autograph=False)
        self.arch_step = tf.function(self._arch_step, autograph=False)
        self._predict = {}

    def _edges_forward(self, x, paths):
        """The edges in training mode: (their inputs, the last output)."""
        inputs = []
        for e, edge in enumerate(self.net.edges):
            inputs.append(x)
            x = edge(x, paths[e], training=True)
        return inputs, x

    def _weight_step(self, features, labels, learning_rate):
        """One SGD step on a sampled network: (loss, accuracy, paths)."""
        net = self.net
        paths = gates.sample_paths(self.generator, net.arch_parameters)
        with tf.GradientTape() as stem_tape:
            stem_out = net.stem_forward(features, training=True)
        inputs, x = self._edges_forward(stem_out, paths)
        with tf.GradientTape() as head_tape:
            head_tape.watch(x)
            logits = net.head_forward(x, training=True)
            loss = smoothed_cross_entropy(labels, logits, self.settings.label_smoothing)
        head_variables = net.head_variables()
        gradient, *head_gradients = head_tape.gradient(loss, [x, *head_variables])
        update = functools.partial(self.weight_optimizer.apply, learning_rate=learning_rate)
        for e in reversed(range(len(net.edges))):
            gradient, _ = net.edges[e].backward(inputs[e], paths[e], gradient, training=True,
                                                update=update)
        stem_variables = net.stem_variables()
        stem_gradients = stem_tape.gradient(stem_out, stem_variables, output_gradients=gradient)
        update(list(zip(stem_variables + head_variables, stem_gradients + head_gradients)))
        return loss, _accuracy(labels, logits), paths

    def _arch_step(self, features, labels, learning_rate):
        """One Adam step on the logits: (cross entropy, loss, expected FLOPs, sampled ops)."""
        net, alphas = self.net, self.net.arch_parameters
        active, involved = gates.sample_gates(self.generator, alphas,
                                              self.settings.grad_binary_mode)
        inputs, x = self._edges_forward(net.stem_forward(features, training=True), active)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            tape.watch(alphas)
            logits = net.head_forward(x, training=True)
            cross_entropy = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            probabilities = [gates.involved_probabilities(a, i) for a, i in zip(alphas, involved)]
            expected = self.flops.expected(probabilities)
            loss = self._loss(cross_entropy, expected)
        gradient, *regularizer_gradients = tape.gradient(loss, [x, *alphas])
        logit_gradients = [None] * len(alphas)
        for e in reversed(range(len(net.edges))):
            gradient, gate_gradient = net.edges[e].backward(inputs[e], active[e], gradient,
                                                            training=True, involved=involved[e])
            logit_gradients[e] = gates.logit_gradient(probabilities[e], gate_gradient)
            if regularizer_gradients[e] is not None:
                logit_gradients[e] += regularizer_gradients[e]
        before = [tf.identity(alpha) for alpha in alphas]
        skip = [tf.gather(zero, active[e]) for e, zero in enumerate(self.is_zero)]
        self.arch_optimizer.apply(logit_gradients, skip, learning_rate)
        if self.settings.grad_binary_mode == "two":
            for alpha, old, inv in zip(alphas, before, involved):
                alpha.assign(gates.rescale(alpha, old, inv))
        return cross_entropy, loss, expected, active

    def _loss(self, cross_entropy, expected):
        s = self.settings
        return regularizer.regularized_loss(
            cross_entropy, expected, s.target_hardware, s.grad_reg_loss_type,
            s.grad_reg_loss_alpha, s.grad_reg_loss_beta, s.grad_reg_loss_lambda,
            s.flops_ref_value)

    def expected_flops(self):
        """E[FLOPs] under the current architecture distribution."""
        return float(self.flops.expected([tf.nn.softmax(a) for a in self.net.arch_parameters]))

    def accuracy(self, dataset, paths, training):
        """Accuracy of the network `paths` on `dataset`. training=True uses batch statistics,
        as the reference validates during the search (running statistics lag behind)."""
        if training not in self._predict:
            self._predict[training] = tf.function(lambda x, p: tf.argmax(
                self.net(x, p, training=training), axis=-1, output_type=tf.int32))
        paths = tf.constant(paths, tf.int32)
        correct = total = 0
        for features, labels in dataset:
            predicted = self._predict[training](features, paths).numpy()
            correct += int(np.sum(predicted == labels.numpy()))
            total += len(predicted)
        return correct / max(total, 1)


def _accuracy(labels, logits):
    predicted = tf.argmax(logits, axis=-1, output_type=labels.dtype)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))
