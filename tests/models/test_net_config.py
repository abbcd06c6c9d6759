"""net.config: the reference's JSON read and written unchanged; bad files are one-line errors."""
import copy
import json

import pytest

from kws_tf.errors import KwsError
from kws_tf.models import net_config
from tests.nas import fixtures


def test_the_fixture_folder_holds_the_36_published_runs(fixtures_dir):
    found = sorted(path.name for path in (fixtures_dir / "nas_for_kws").iterdir())
    assert found == fixtures.RUNS


def test_every_published_config_reads_and_writes_back_unchanged(fixtures_dir, tmp_path):
    for run in fixtures.RUNS:
        data = fixtures.net_config_json(fixtures_dir, run)
        config = net_config.from_dict(data, run)
        assert net_config.to_dict(config) == data, run
    net_config.save(config, tmp_path / "net.config")
    assert net_config.load(tmp_path / "net.config") == config
    assert json.loads((tmp_path / "net.config").read_text()) == data


def test_a_config_is_read_as_its_blocks(fixtures_dir):
    config = net_config.load(fixtures.run_dir(fixtures_dir, "pless_sweep_5") / "net.config")
    assert [block.op.name for block in config.blocks] == [
        "7x7_MBConv1", "7x7_MBConv1", "Zero", "Zero", "7x7_MBConv1"] + ["Zero"] * 7
    assert [block.shortcut for block in config.blocks] == [False] + [True] * 11
    assert config.first_conv.kernel_hw == (5, 11) and config.first_conv.stride_hw == (1, 2)
    assert config.num_bits() == [8] * 6 and config.bn_momentum == 0.1


def _edit(fixtures_dir, change):
    data = copy.deepcopy(fixtures.net_config_json(fixtures_dir, "pless_sweep_5"))
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d["blocks"][1]["mobile_inverted_conv"].pop("kernel_size"),
     "blocks[1].mobile_inverted_conv: missing 'kernel_size'"),
    (lambda d: d["blocks"][1]["mobile_inverted_conv"].update(kernel_size=0),
     "kernel_size must be a positive whole number, got 0"),
    (lambda d: d["blocks"][2].update(shortcut=None),
     "blocks[2]: a ZeroLayer without a shortcut would output only zeros"),
    (lambda d: d["blocks"][4]["mobile_inverted_conv"].update(in_channels=64),
     "in_channels 64 does not follow the 72 channels before it"),
    (lambda d: d["blocks"][0].update(shortcut=d["blocks"][1]["shortcut"]),
     "an identity shortcut needs stride 1"),
    (lambda d: d["first_conv"].update(act_func="h_swish"),
     'first_conv: act_func "h_swish" is not supported (only "relu6")'),
    (lambda d: d["classifier"].update(num_bits=9), "num_bits must be null or a whole number"),
    (lambda d: d["feature_mix_layer"].update(in_channels=8),
     "feature_mix_layer.in_channels 8 does not follow"),
    (lambda d: d.update(name="MobileNetV2"), 'name "MobileNetV2" is not supported'),
])
def test_a_bad_field_is_named_with_the_file(fixtures_dir, change, message):
    with pytest.raises(KwsError) as error:
        net_config.from_dict(_edit(fixtures_dir, change), "x/net.config")
    assert str(error.value).startswith("x/net.config: ")
    assert message in str(error.value)


def test_a_missing_or_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(KwsError, match="no such file"):
        net_config.load(tmp_path / "net.config")
    (tmp_path / "net.config").write_text("{")
    with pytest.raises(KwsError, match="not a readable JSON net.config"):
        net_config.load(tmp_path / "net.config")
