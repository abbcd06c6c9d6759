"""Settings: to_dict/from_dict round trips, flags generated from the fields, and sidecars of
every version."""
import argparse
import json

import pytest

from kws_tf import cli
from kws_tf.config import (SIDECAR_VERSION, AugmentConfig, DataConfig, FeatureConfig, ModelSpec,
                           add_data_flags, add_feature_flags, from_flags, resolve_features)
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint

SPEC = ModelSpec("ds_cnn_bf", (2, 48, 4, 4, 2, 2, 16, 3, 3, 1, 1), (49, 10),
                 ("_silence_", "_unknown_", "yes", "no"),
                 FeatureConfig(window_size_ms=40, window_stride_ms=20, dct_coefficient_count=10),
                 quantize={"mode": "tfmot", "weight_bits": 6, "activation_bits": 8},
                 wanted_words="yes,no", extra={"source": {"hello_edge_graph": "/x.pb"}})


@pytest.mark.parametrize("settings", [
    FeatureConfig(), FeatureConfig(sample_rate=8000, feature_bits=6, feature_frac_bits=1),
    FeatureConfig(feature_type="log_mel", mel_bands=64),
    DataConfig(), DataConfig(data_dir="d", wanted_words=("on", "off"), split="lists",
                             skip_bad_files=True, resampler="tfio", data_url=""),
    AugmentConfig(), AugmentConfig(time_shift_ms=0, background_frequency=1.0),
    SPEC, ModelSpec("nas", (), (25, 10), ("_silence_", "_unknown_", "go"),
                    net_config={"name": "x"})], ids=lambda s: type(s).__name__)
def test_every_settings_class_round_trips_through_json(settings):
    again = type(settings).from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings


def test_unknown_setting_names_the_place():
    with pytest.raises(KwsError, match="features.json: unknown FeatureConfig setting.*wndow"):
        FeatureConfig.from_dict({"wndow_size_ms": 30}, "features.json")


def test_flags_come_from_the_fields_with_the_same_defaults():
    parser = cli.ArgumentParser(prog="t")
    add_data_flags(parser)
    add_feature_flags(parser)
    args = parser.parse_args([])
    assert from_flags(FeatureConfig, args) == FeatureConfig()
    assert from_flags(AugmentConfig, args) == AugmentConfig()
    assert from_flags(DataConfig, args) == DataConfig()
    args = parser.parse_args(["--wanted_words", "on,off", "--window_size_ms", "40",
                              "--time_shift_ms", "0"])
    assert from_flags(DataConfig, args).wanted_words == ("on", "off")
    assert from_flags(FeatureConfig, args).window_size_ms == 40
    assert from_flags(AugmentConfig, args).time_shift_ms == 0
    assert from_flags(FeatureConfig, args, window_size_ms=30).window_size_ms == 30
    with pytest.raises(KwsError, match="--wanted_words lists on more than once"):
        from_flags(DataConfig, argparse.Namespace(wanted_words="on,on"))


def test_the_sidecar_is_the_model_spec_with_a_version():
    info = SPEC.to_dict()
    assert info["version"] == SIDECAR_VERSION and info["source"] == {"hello_edge_graph": "/x.pb"}
    assert info["model_size_info"] == list(SPEC.model_size_info)
    assert ModelSpec.from_dict(info) == SPEC


def test_an_old_sidecar_loads_with_default_features(tmp_path):
    """Version 1 sidecars had no version field, and older ones fewer feature settings."""
    old = {"model_architecture": "ds_cnn", "model_size_info": [1, 8, 3, 3, 1, 1],
           "input_shape": [49, 40], "labels": ["_silence_", "_unknown_", "yes"],
           "features": {"sample_rate": 16000, "clip_duration_ms": 1000, "window_size_ms": 30,
                        "window_stride_ms": 10, "dct_coefficient_count": 40},
           "wanted_words": "yes", "parameters": {"trainable": 10}}
    (tmp_path / "c.json").write_text(json.dumps(old))
    info = checkpoint.read_info(str(tmp_path / "c"))
    assert info["features"]["feature_bits"] == 0 and info["quantize"] is None
    assert (info["features"]["feature_type"], info["features"]["mel_bands"]) == ("mfcc", 40)
    assert info["parameters"] == {"trainable": 10} and info["version"] == SIDECAR_VERSION
    assert ModelSpec.from_dict(old).features == FeatureConfig()


@pytest.mark.parametrize("version", [SIDECAR_VERSION + 1, "2", 0])
def test_a_sidecar_of_an_unknown_version_is_one_clear_error(tmp_path, version):
    (tmp_path / "c.json").write_text(json.dumps({**SPEC.to_dict(), "version": version}))
    with pytest.raises(KwsError, match=r"c\.json: sidecar version .* is not one this kws-tf "
                                       rf"reads \(1 to {SIDECAR_VERSION}\)"):
        checkpoint.read_info(str(tmp_path / "c"))


def test_a_sidecar_without_the_model_is_one_clear_error(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"labels": ["a"]}))
    with pytest.raises(KwsError, match="c.json: missing model_architecture, model_size_info, "
                                       "input_shape, features"):
        checkpoint.read_info(str(tmp_path / "c"))


def test_given_feature_flags_must_agree_with_the_models_text_settings_too():
    fixed = {"feature_type": "log_mel", "mel_bands": 64, "window_size_ms": 30.0}
    config = resolve_features(fixed, {"window_size_ms": 30.0000001}, "the model")
    assert config.shape == (98, 64)
    with pytest.raises(KwsError, match="^--feature_type mfcc disagrees with the model, which "
                                       "uses log_mel$"):
        resolve_features(fixed, {"feature_type": "mfcc"}, "the model")
    with pytest.raises(KwsError, match="--mel_bands 40 disagrees with the model, which uses 64"):
        resolve_features(fixed, {"mel_bands": 40}, "the model")


def test_log_mel_flags_give_the_log_mel_map():
    parser = cli.ArgumentParser(prog="t")
    add_feature_flags(parser)
    args = parser.parse_args(["--feature_type", "log_mel", "--mel_bands", "64"])
    assert from_flags(FeatureConfig, args).shape == (98, 64)
    assert from_flags(FeatureConfig, parser.parse_args([])).shape == (98, 40)  # MFCCs
