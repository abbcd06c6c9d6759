"""The reference's FLOPs formula: all 36 published networks, the candidates, the supernets."""
from fractions import Fraction

import pytest

from kws_tf.models import net_config
from kws_tf.nas import flops, space
from tests.nas import fixtures


def test_all_36_published_networks_have_the_reference_flops(fixtures_dir):
    found = {}
    for run in fixtures.RUNS:
        config = net_config.from_dict(fixtures.net_config_json(fixtures_dir, run), run)
        shape = flops.reference_input_shape(fixtures.n_mfcc(fixtures_dir, run))
        found[run] = flops.net_flops(config, shape)
    assert found == {run: figures[0] for run, figures in fixtures.REFERENCE.items()}


def test_the_stem_is_counted_at_floor_51_over_2_though_it_outputs_26():
    stem = space.proxyless(12).first_conv
    count, out_hw = flops.op_flops(stem, (10, 51))
    assert count == 1 * 72 * 5 * 11 * 10 * 25 == 990_000
    assert out_hw == (10, 26)


def test_candidate_flops_are_the_reference_table():
    constant, table = space.proxyless(12).flops_table(flops.reference_input_shape(10))
    assert constant == 1_665_648
    assert table[0] == [379_080, 3_453_840, 5_180_760, 6_907_680, 8_634_600, 10_361_520,
                        453_960, 3_603_600, 5_405_400, 7_207_200, 9_009_000, 10_810_800,
                        566_280, 3_828_240, 5_742_360, 7_656_480, 9_570_600, 11_484_720]
    assert table[1] == [379_080, 1_432_080, 2_148_120, 2_864_160, 3_580_200, 4_296_240,
                        453_960, 1_581_840, 2_372_760, 3_163_680, 3_954_600, 4_745_520,
                        566_280, 1_806_480, 2_709_720, 3_612_960, 4_516_200, 5_419_440, 0]
    assert all(row == table[1] for row in table[2:]) and len(table) == 12


@pytest.mark.parametrize("n_mfcc, width_mult, constant, uniform, largest, smallest", [
    (10, 1.0, 1_665_648, 36_508_700, 72_764_208, 2_044_728),
    (20, 1.0, 3_329_568, 73_015_671, 145_526_688, 4_087_728),
    (30, 1.0, 4_993_488, 109_522_643, 218_289_168, 6_130_728),
    (40, 1.0, 6_657_408, 146_029_614, 291_051_648, 8_173_728),
    (10, 0.75, 1_179_024, 23_151_501, 47_043_024, 1_415_624),
    (10, 1.25, 2_264_688, 52_908_414, 103_989_168, 2_819_528),
])
def test_supernet_flops_are_the_reference_summary(n_mfcc, width_mult, constant, uniform,
                                                  largest, smallest):
    """Expected FLOPs with all logits equal, and the largest and smallest paths."""
    found_constant, table = space.proxyless(12, width_mult=width_mult).flops_table(
        flops.reference_input_shape(n_mfcc))
    expected = found_constant + sum(Fraction(sum(row), len(row)) for row in table)
    assert found_constant == constant
    assert round(expected) == uniform
    assert found_constant + sum(max(row) for row in table) == largest
    assert found_constant + sum(min(row) for row in table) == smallest


def test_widths_follow_make_divisible():
    assert [space.make_divisible(72 * w) for w in (0.75, 1.0, 1.25)] == [56, 72, 88]
    assert [space.make_divisible(144 * w) for w in (0.75, 1.0, 1.25)] == [112, 144, 184]
    assert space.make_divisible(3) == 8


def test_the_initial_all_3x3_mbconv1_supernet_path_is_the_reference_s_6_2_m():
    """The dev fork's warm-up log: 6.2 M FLOPs with every edge on index 0."""
    model = space.proxyless(12).flops_model(flops.reference_input_shape(10))
    assert model.of([0] * 12) == 1_665_648 + 12 * 379_080 == 6_214_608
