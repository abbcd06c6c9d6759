"""search.py: nas-for-kws's flags, a short run end to end, its outputs, its flag errors."""
import functools
import json

import pytest
import tensorflow as tf

from kws_tf.models import checkpoint, nas
from kws_tf.models import net_config
from kws_tf.commands import search
from kws_tf.nas import space
from tests.conftest import make_dataset

# nas-for-kws README's search line (BETA = 4, OMEGA = 1), "--path" included.
README = ("--path {path} --dataset speech_commands --init_lr 0.2 --train_batch_size 100 "
          "--test_batch_size 100 --target_hardware flops --flops_ref_value 20e6 --n_worker 4 "
          "--arch_lr 4e-3 --grad_reg_loss_alpha 1 --grad_reg_loss_beta 4 --weight_bits 8 "
          "--width_mult 1 --n_mfcc 10")


def _readme(path):
    return README.format(path=path).split()


def test_the_readme_command_has_the_reference_meaning(tmp_path):
    args = search.build_parser().parse_args(_readme(tmp_path) + ["--data_dir", "d"])
    assert (args.warmup_epochs, args.n_epochs, args.grad_update_arch_param_every) == (40, 120, 5)
    settings = search.settings_from_flags(args)
    assert settings.target_hardware == "flops" and settings.flops_ref_value == 20e6
    assert (settings.grad_reg_loss_alpha, settings.grad_reg_loss_beta) == (1, 4)
    assert settings.grad_binary_mode == "full_v2" and settings.nesterov
    assert search.n_mfcc_from_flags(args) == 10
    assert (args.window_size_ms, args.window_stride_ms) == (40, 20)
    supernet_space = search.search_space_from_flags(args, 12)
    assert len(supernet_space.edges) == 12 and supernet_space.first_conv.out_channels == 72
    assert [len(edge.ops) for edge in supernet_space.edges] == [18] + [19] * 11
    assert supernet_space.first_conv.num_bits == 8


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("search") / "data", speakers=20)


def test_a_short_search_writes_the_learned_net_its_weights_and_logs(data_dir, tmp_path,
                                                                    monkeypatch, capsys):
    # Two candidates per edge keep the compiled steps small; the flags are the README's.
    monkeypatch.setattr(space, "proxyless", functools.partial(
        space.proxyless, kernel_sizes=(3, 5), expand_ratios=(1,)))
    out = tmp_path / "out"
    argv = _readme(out) + [
        "--data_dir", str(data_dir), "--data_url=", "--wanted_words", "yes,no",
        "--width_mult", "0.1", "--n_cell_stages", "2", "--warmup_epochs", "1", "--n_epochs", "2",
        "--train_batch_size", "16", "--grad_update_arch_param_every", "2",
        "--flops_ref_value", "1e5", "--json_out", str(tmp_path / "figures.json")]
    assert search.main(argv) == 0
    figures = json.loads((tmp_path / "figures.json").read_text())
    learned = out / "learned_net"
    config = net_config.load(learned / "net.config")
    assert figures["train_flags"] == (f"--model_architecture nas --net_config {learned}/net.config"
                                      f" --start_checkpoint {learned}/init")
    assert [block.op.name for block in config.blocks] == figures["argmax"]
    assert config.first_conv.num_bits == 8 and config.classifier.out_features == 4
    assert json.loads((learned / "run.config").read_text())["n_mfcc"] == 10
    sidecar = checkpoint.read_info(learned / "init")
    assert sidecar["model_architecture"] == "nas" and sidecar["model_size_info"] == []
    assert sidecar["input_shape"] == [49, 10] and sidecar["net_config"] == \
        net_config.to_dict(config)
    model = nas.model([], sidecar["input_shape"], 4, net_config=sidecar["net_config"])
    tf.train.Checkpoint(model=model).read(str(learned / "init")).assert_consumed()
    lines = [json.loads(line) for line in (out / "logs" / "search.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["epoch"]) for r in lines] == [("warmup", 1), ("search", 1),
                                                         ("search", 2)]
    assert lines[1]["arch_steps"] == 0 and lines[2]["arch_steps"] > 0
    assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-3 for p in lines[2]["probabilities"][:1])
    assert list((out / "logs").glob("events.out.tfevents.*"))
    assert figures["flops"] == lines[-1]["argmax_flops"]
    printed = capsys.readouterr().out
    assert "search epoch 2/2" in printed and "learned net:" in printed


@pytest.mark.parametrize("extra, message", [
    (["--n_mfcc", "10", "--dct_coefficient_count", "20"],
     "--n_mfcc 10 and --dct_coefficient_count 20 disagree"),
    (["--weight_bits", "9"], "--weight_bits must be from 1 to 8, got 9"),
    (["--width_stages", "72,64"], "--width_stages, --n_cell_stages and --stride_stages need as "
                                  "many values each, got 2, 1, 1"),
    (["--flops_ref_value", "1"], "--flops_ref_value must be more than 1"),
    (["--data_dir", "/nonexistent/kws"], "--data_dir /nonexistent/kws does not exist"),
])
def test_user_errors_are_one_line(tmp_path, capsys, extra, message):
    argv = _readme(tmp_path) + ["--data_url=", "--data_dir", str(tmp_path)] + extra
    with pytest.raises(SystemExit) as exit_:
        search.main(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


def test_path_is_required(capsys):
    with pytest.raises(SystemExit) as exit_:
        search.main(["--data_dir", "x"])
    assert exit_.value.code == 2
    assert "error: the following arguments are required: --path" in capsys.readouterr().err

