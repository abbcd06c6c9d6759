"""--search_space ds_cnn_bf: the derived ds_cnn_bf model, its FLOPs, a short search."""
import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.errors import KwsError
from kws_tf.quant import restore
from kws_tf.commands import search
from kws_tf.nas import ds_cnn_bf_space, searcher, supernet
from kws_tf.commands import train as train_command
from tests.conftest import make_dataset

INPUT_SHAPE = (25, 10)


@pytest.fixture(scope="module")
def searched():
    """A small supernet after a few weight steps (so the weights are not the initial ones)."""
    tf.keras.utils.set_random_seed(0)
    space = ds_cnn_bf_space.ds_cnn_bf_space(4, first_conv=(8, 4, 4, 2, 2), blocks=3,
                                            kernel_sizes=(3, 5), widths=(4, 12))
    net = supernet.SuperNet(space).build_for(INPUT_SHAPE)
    search_steps = searcher.Searcher(net, INPUT_SHAPE, searcher.SearchSettings())
    x = tf.constant(np.random.default_rng(0).normal(size=(6, *INPUT_SHAPE)), tf.float32)
    for _ in range(3):
        search_steps.weight_step(x, tf.constant([0, 1, 2, 3, 0, 1]), tf.constant(0.01))
    return net, search_steps, x


def test_ops_and_skips(searched):
    net, _, _ = searched
    names = [[op.name for op in edge.ops] for edge in net.space.edges]
    assert names[0] == ["3x3_DS4", "3x3_DS12", "5x5_DS4", "5x5_DS12", "Skip"]
    assert names[2] == names[0][:4] and all(op.pool for op in net.space.edges[2].ops)


@pytest.mark.parametrize("paths, size_info", [
    ([0, 4, 1], [3, 8, 4, 4, 2, 2, 4, 3, 3, 1, 1, 12, 3, 3, 1, 1]),
    ([3, 2, 0], [4, 8, 4, 4, 2, 2, 12, 5, 5, 1, 1, 4, 5, 5, 1, 1, 4, 3, 3, 1, 1]),
    ([4, 4, 3], [2, 8, 4, 4, 2, 2, 12, 5, 5, 1, 1]),
])
def test_the_derived_ds_cnn_bf_model_computes_what_the_supernet_path_does(searched, paths,
                                                                         size_info):
    net, _, x = searched
    export = net.export(paths, INPUT_SHAPE)
    assert export.sidecar == {"model_architecture": "ds_cnn_bf", "model_size_info": size_info}
    assert np.allclose(export.model(x), net(x, tf.constant(paths)), atol=1e-6)
    assert export.train_flags.endswith(" ".join(map(str, size_info)))


def _model_macs(model):
    """Multiply-accumulates of a ds_cnn_bf model, counted from its layers."""
    total = 0
    for layer in model.layers:
        out = layer.output.shape
        if layer.name == "conv_1" or layer.name.endswith("_pw"):
            total += int(np.prod(layer.kernel.shape)) * out[1] * out[2]
        elif layer.name.endswith("_dw"):
            total += int(np.prod(layer.depthwise_kernel.shape)) * out[1] * out[2]
        elif layer.name == "fc1":
            total += int(np.prod(layer.kernel.shape))
    return total


def test_flops_are_the_derived_model_s_and_their_expectation_is_exact(searched):
    net, search_steps, _ = searched
    for alpha in net.arch_parameters:
        alpha.assign(tf.random.normal(alpha.shape))
    probabilities = net.probabilities()
    brute_force = 0.0
    for paths in itertools.product(*(range(len(edge.ops)) for edge in net.space.edges)):
        flops = search_steps.flops.of(paths)
        brute_force += np.prod([p[j] for p, j in zip(probabilities, paths)]) * flops
        if paths in ((0, 4, 1), (3, 2, 0)):
            assert flops == _model_macs(net.export(list(paths), INPUT_SHAPE).model)
    assert search_steps.expected_flops() == pytest.approx(brute_force, rel=1e-5)


def test_a_short_ds_cnn_bf_search_writes_a_ds_cnn_bf_checkpoint(tmp_path):
    data = make_dataset(tmp_path / "data", speakers=20)
    argv = ["--path", str(tmp_path / "out"), "--data_url=", "--data_dir", str(data),
            "--wanted_words", "yes,no", "--search_space", "ds_cnn_bf", "--ds_blocks", "2",
            "--ds_kernel_sizes", "3", "--ds_widths", "8,16", "--ds_first_conv", "16,4,4,2,2",
            "--warmup_epochs", "1", "--n_epochs", "2", "--train_batch_size", "16",
            "--init_lr", "0.05", "--grad_update_arch_param_every", "2",
            "--target_hardware", "flops", "--flops_ref_value", "1e5",
            "--json_out", str(tmp_path / "figures.json")]
    assert search.main(argv) == 0
    learned = tmp_path / "out" / "learned_net"
    figures = json.loads((tmp_path / "figures.json").read_text())
    size_info = [int(v) for v in (learned / "model_size_info").read_text().split()]
    model, info = restore.load(learned / "init")
    assert info["model_architecture"] == "ds_cnn_bf" and info["model_size_info"] == size_info
    assert model.output_shape == (None, 4) and figures["argmax"][-1].startswith("3x3_DS")
    assert figures["train_flags"].startswith("--model_architecture ds_cnn_bf --model_size_info")
    # train.py fine-tunes the found network from the inherited weights.
    train_argv = (["--data_url=", "--data_dir", str(data), "--wanted_words", "yes,no",
                   "--window_size_ms", "40", "--window_stride_ms", "20",
                   "--dct_coefficient_count", "10", "--how_many_training_steps", "2",
                   "--learning_rate", "0.001", "--batch_size", "8",
                   "--train_dir", str(tmp_path / "train"),
                   "--summaries_dir", str(tmp_path / "logs")]
                  + figures["train_flags"].split())
    assert train_command.main(train_argv) == 0


@pytest.mark.parametrize("extra, message", [
    (["--weight_bits", "8"], "--weight_bits does not apply to --search_space ds_cnn_bf"),
    (["--ds_first_conv", "48,4,4"], "--ds_first_conv: expected 5 positive numbers"),
    (["--ds_widths", "8,x"], "--ds_widths '8,x': expected comma-separated whole numbers"),
])
def test_ds_flag_errors(tmp_path, capsys, extra, message):
    argv = ["--path", str(tmp_path), "--data_url=", "--data_dir", str(tmp_path),
            "--search_space", "ds_cnn_bf"] + extra
    with pytest.raises(SystemExit) as exit_:
        search.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_space_checks_its_settings():
    with pytest.raises(KwsError, match="--ds_blocks must be positive"):
        ds_cnn_bf_space.ds_cnn_bf_space(12, blocks=0)
