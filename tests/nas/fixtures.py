"""The 36 networks of nas-for-kws's published sweeps (../shared/fixtures/nas_for_kws) and the
reference's figures for them (../shared/docs/nas_for_kws_reference.md, section 5.3)."""
import json

# run: (FLOPs by the reference's formula on n_mfcc x 51, true parameters incl. the unused
# 12-value classifier bias)
REFERENCE = {
    "pless_sweep_0": (63_624_168, 911_820),
    "pless_sweep_1": (51_849_288, 711_660),
    "pless_sweep_2": (30_433_608, 374_844),
    "pless_sweep_3": (23_441_688, 280_668),
    "pless_sweep_4": (10_927_368, 131_340),
    "pless_sweep_5": (3_364_488, 43_500),
    "pless_sweep_mfcc20_0": (123_848_928, 869_268),
    "pless_sweep_mfcc20_1": (93_138_768, 628_140),
    "pless_sweep_mfcc20_2": (73_950_768, 477_660),
    "pless_sweep_mfcc20_3": (32_008_608, 195_492),
    "pless_sweep_mfcc20_4": (27_057_168, 172_668),
    "pless_sweep_mfcc20_5": (14_383_728, 72_012),
    "pless_sweep_mfcc30_0": (194_926_608, 917_364),
    "pless_sweep_mfcc30_1": (155_291_688, 709_788),
    "pless_sweep_mfcc30_2": (110_251_368, 474_060),
    "pless_sweep_mfcc30_3": (70_658_568, 282_396),
    "pless_sweep_mfcc30_4": (41_371_128, 176_700),
    "pless_sweep_mfcc30_5": (25_997_328, 95_556),
    "pless_sweep_mfcc40_0": (257_655_168, 908_724),
    "pless_sweep_mfcc40_1": (193_969_728, 658_452),
    "pless_sweep_mfcc40_2": (126_708_768, 410_124),
    "pless_sweep_mfcc40_3": (95_577_408, 303_780),
    "pless_sweep_mfcc40_4": (54_711_648, 174_972),
    "pless_sweep_mfcc40_5": (36_796_608, 104_340),
    "pless_sweep_wm0.75_0": (42_329_224, 612_988),
    "pless_sweep_wm0.75_1": (27_889_344, 385_460),
    "pless_sweep_wm0.75_2": (23_987_264, 323_860),
    "pless_sweep_wm0.75_3": (12_022_584, 163_868),
    "pless_sweep_wm0.75_4": (9_008_664, 116_380),
    "pless_sweep_wm0.75_5": (4_575_144, 45_708),
    "pless_sweep_wm1.25_0": (89_832_168, 1_255_180),
    "pless_sweep_wm1.25_1": (67_003_648, 944_980),
    "pless_sweep_wm1.25_2": (48_379_328, 606_180),
    "pless_sweep_wm1.25_3": (19_647_768, 250_572),
    "pless_sweep_wm1.25_4": (14_997_408, 177_092),
    "pless_sweep_wm1.25_5": (5_170_448, 69_908),
}
RUNS = sorted(REFERENCE)


def run_dir(fixtures_dir, run):
    return fixtures_dir / "nas_for_kws" / run


def n_mfcc(fixtures_dir, run):
    """run.config's n_mfcc; the 10-MFCC sweeps' files lack the key (the reference's default)."""
    return json.loads((run_dir(fixtures_dir, run) / "run.config").read_text()).get("n_mfcc", 10)


def net_config_json(fixtures_dir, run):
    return json.loads((run_dir(fixtures_dir, run) / "net.config").read_text())
