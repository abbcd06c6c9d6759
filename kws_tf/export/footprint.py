"""What a model costs: parameters, multiply-accumulates and memory, per layer and in total.

Hello Edge sized its models by these figures (its table: DS-CNN S, 38.6 KB, 5.4 M operations),
so they are counted the same way for every architecture: a layer applies each weight of its
kernel once per output position (a convolution's positions are its output map's, a dense
layer's one per sample, a recurrent layer's one per time step), so its MACs are its kernel
weights times its positions. Biases, batch norm (folded away for inference) and pooling cost
no MACs. Memory: weights at 4 bytes (float32) or 1 byte (int8, biases int32), and the peak of
two consecutive activation maps (a layer's input and output, held together).
"""
import dataclasses

import numpy as np
import tf_keras as keras


@dataclasses.dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    parameters: int
    macs: int
    output_values: int  # per sample


def _positions(layer):
    shape = layer.output_shape
    shape = shape[0] if isinstance(shape, list) else shape
    return int(np.prod(shape[1:-1])) if len(shape) > 2 else 1


def _kernel_weights(layer):
    """The weights a layer multiplies by (kernels, recurrent kernels), not its biases."""
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights
               if len(w.shape) >= 2 or "peephole" in w.name)


def layer_costs(model):
    """LayerCost of every layer of a functional tf_keras model, in order."""
    costs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = layer.output_shape[0] if isinstance(layer.output_shape, list) \
            else layer.output_shape
        macs = _kernel_weights(layer) * _positions(layer)
        if isinstance(layer, keras.layers.RNN):
            steps = layer.input_shape[1]
            macs = _kernel_weights(layer) * steps
        parameters = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        costs.append(LayerCost(layer.name, type(layer).__name__, parameters, int(macs),
                               int(np.prod(shape[1:]))))
    return costs


def summary(model):
    """Totals: trainable parameters, MACs, weight bytes (float32, and int8 with int32 biases),
    the largest activation map and the peak of two consecutive ones (values per sample)."""
    costs = layer_costs(model)
    inputs = int(np.prod(model.input_shape[1:]))
    values = [inputs] + [cost.output_values for cost in costs]
    kernels = sum(_kernel_weights(layer) for layer in model.layers)
    parameters = sum(cost.parameters for cost in costs)
    return {"parameters": parameters, "macs": sum(cost.macs for cost in costs),
            "weight_bytes_float32": 4 * parameters,
            "weight_bytes_int8": kernels + 4 * (parameters - kernels),
            "largest_map_values": max(values),
            "peak_activation_values": max(a + b for a, b in zip(values, values[1:])),
            "layers": [dataclasses.asdict(cost) for cost in costs]}
