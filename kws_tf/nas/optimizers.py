"""The search's two optimisers, with PyTorch's update rules and its per-parameter skipping.

In the reference, only parameters that received a gradient this step are updated: the
unsampled candidates of a weight step keep their weights *and* momentum (no decay), and an
edge whose sampled op is Zero keeps its logits and Adam state for that architecture step.
Keras optimisers update every variable they are given, so these two are written out:

* PathSGD: SGD with momentum, Nesterov and coupled L2 (torch.optim.SGD, dampening 0; a zero
  buffer gives torch's first step exactly). ``apply`` updates only the (variable, gradient)
  pairs it is given; the supernet calls it from the sampled op's branch of each edge.
* ArchAdam: Adam on each edge's logits with its own step count (torch.optim.Adam, including
  its eps outside the bias-corrected square root and its coupled weight decay); ``skip[e]``
  leaves edge e untouched.
"""
import tensorflow as tf


class PathSGD:
    def __init__(self, variables, momentum=0.9, nesterov=True, weight_decay=4e-5,
                 no_decay=()):
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self._buffers = {v.ref(): tf.Variable(tf.zeros_like(v), trainable=False,
                                              name=v.name.split(":")[0] + "/momentum")
                         for v in variables}
        self._no_decay = {v.ref() for v in no_decay}

    def buffer(self, variable):
        return self._buffers[variable.ref()]

    def apply(self, pairs, learning_rate):
        """Updates each variable of `pairs` [(variable, gradient)]."""
        for variable, gradient in pairs:
            if self.weight_decay and variable.ref() not in self._no_decay:
                gradient += self.weight_decay * variable
            # TF's ApplyMomentum is torch's rule: buffer = m * buffer + g; variable -= lr *
            # buffer (Nesterov: lr * (g + m * buffer)).
            tf.raw_ops.ResourceApplyMomentum(
                var=variable.handle, accum=self.buffer(variable).handle,
                lr=tf.cast(learning_rate, variable.dtype), grad=gradient,
                momentum=tf.constant(self.momentum, variable.dtype),
                use_nesterov=self.nesterov)


class ArchAdam:
    def __init__(self, alphas, beta_1=0.0, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        self.alphas = list(alphas)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.weight_decay = weight_decay
        self.first = [tf.Variable(tf.zeros_like(a), trainable=False) for a in self.alphas]
        self.second = [tf.Variable(tf.zeros_like(a), trainable=False) for a in self.alphas]
        self.steps = [tf.Variable(0.0, trainable=False) for _ in self.alphas]

    def apply(self, gradients, skip, learning_rate):
        """One Adam step on every edge e with skip[e] False."""
        for e, gradient in enumerate(gradients):
            tf.cond(skip[e], lambda: tf.constant(0),
                    lambda e=e, gradient=gradient: self._update(e, gradient, learning_rate))

    def _update(self, e, gradient, learning_rate):
        alpha, first, second, step = self.alphas[e], self.first[e], self.second[e], self.steps[e]
        gradient = gradient + self.weight_decay * alpha
        step.assign_add(1.0)
        first.assign(self.beta_1 * first + (1 - self.beta_1) * gradient)
        second.assign(self.beta_2 * second + (1 - self.beta_2) * tf.square(gradient))
        bias_1 = 1 - tf.pow(self.beta_1, step)
        bias_2 = 1 - tf.pow(self.beta_2, step)
        denominator = tf.sqrt(second) / tf.sqrt(bias_2) + self.epsilon
        alpha.assign_sub(learning_rate / bias_1 * first / denominator)
        return tf.constant(0)
