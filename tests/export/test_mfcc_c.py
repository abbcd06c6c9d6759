"""The C MFCC front end (kws_tf/export/c/kws_mfcc.c) against TensorFlow's AudioSpectrogram + Mfcc
(kws_tf.features.mfcc), in both its builds: the default float-float FFT (KWS_MFCC_PRECISE 1), whose
maps match TF's float32 output to its last bits, and the plain float32 FFT (KWS_MFCC_PRECISE 0).

A driver written here reads clips (int32 length, then int16 PCM) and prints their maps. Measured
figures go to RECORD, printed at the end of the module (run with -s to see them).
"""
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import kws_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from kws_tf import features
from kws_tf.config import FeatureConfig
from kws_tf.data.wav import probe_wav, read_wav

C_DIR = pathlib.Path(__file__).resolve().parents[2] / "kws_tf" / "export" / "c"
SAMPLE_RATE = 16000
SETTINGS = {  # name: (window_size_ms, window_stride_ms, dct_coefficient_count)
    "30/10/40 (Hello Edge default)": (30, 10, 40),
    "40/20/10 (demo)": (40, 20, 10),
    "40/40/10": (40, 40, 10),
}
MODES = {"precise": [], "plain": ["-DKWS_MFCC_PRECISE=0"]}  # build: extra compiler flags
REAL_DEV_SAMPLE = 30

# Bounds on max |C - TF| of the float maps, from measurements (RECORD prints them).
# precise: measured 7.6e-6 everywhere, one or two float32 ulps of TF's own output (|values| up
#   to ~175; a ulp at 128..256 is 1.5e-5), silence (the log floor) included.
# plain: TF computes in double; a float32 FFT's rounding error is ~1e-7 of the frame's total
#   energy. Real recordings have a noise floor far above that (measured <= 1.4e-4), as have
#   noise and silence (exact zeros stay zeros: 7.6e-6). Pure digital tones and chirps do not:
#   int16 rounding of a periodic tone is itself periodic, so their spectra have valleys more than
#   130 dB deep, which float32 cannot resolve; the bands there move by up to 0.24 (a 7 kHz tone,
#   all of whose energy lies above the 4 kHz filterbank). 0.3 is the honest bound for them.
FLOAT_BOUND = {"precise": {}, "plain": {"tone": 0.3, "chirp": 0.3}}
DEFAULT_FLOAT_BOUND = {"precise": 1e-4, "plain": 1e-3}
# Shares of identical integer map values (feature_bits 6): precise 100% measured; plain 100% on
# real clips, 98.7% on the generated ones (the tones' moved bands cross rounding boundaries).
IDENTICAL_SHARE = {("precise", "generated"): 0.999, ("precise", "real"): 0.999,
                   ("plain", "generated"): 0.985, ("plain", "real"): 0.999}

RECORD = []
_CACHE = {}

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kws_mfcc.h"

static kws_mfcc_state_t state;

/* mfcc_driver PCM_FILE WINDOW_MS STRIDE_MS DCT BITS FRAC MODE (float | int32 | int8)
 * mfcc_driver quantize BITS FRAC VALUE...                                           */
int main(int argc, char **argv)
{
    kws_mfcc_config_t config;
    FILE *file;
    int32_t n;
    int i;

    if (argc >= 4 && strcmp(argv[1], "quantize") == 0) {
        kws_mfcc_default_config(&config, 16000, 30, 10, 10);
        config.feature_bits = atoi(argv[2]);
        config.feature_frac_bits = atoi(argv[3]);
        if (kws_mfcc_init(&state, &config) != KWS_MFCC_OK)
            return 2;
        for (i = 4; i < argc; ++i)
            printf("%ld\n", (long)kws_mfcc_quantize(&state, strtof(argv[i], NULL)));
        return 0;
    }
    if (argc != 8)
        return 1;
    kws_mfcc_default_config(&config, 16000, atof(argv[2]), atof(argv[3]), atoi(argv[4]));
    config.feature_bits = atoi(argv[5]);
    config.feature_frac_bits = atoi(argv[6]);
    if (kws_mfcc_init(&state, &config) != KWS_MFCC_OK)
        return 2;
    file = fopen(argv[1], "rb");
    if (!file)
        return 1;
    while (fread(&n, sizeof n, 1, file) == 1) {
        int16_t *pcm = malloc(sizeof *pcm * (size_t)(n + config.clip_samples));
        int frames = kws_mfcc_frame_count(&state, n), count = frames * config.dct_count;
        float *map = malloc(sizeof *map * (size_t)count + 1);
        if (!pcm || !map || fread(pcm, sizeof *pcm, (size_t)n, file) != (size_t)n)
            return 1;
        if (strcmp(argv[7], "float") == 0) {
            float coefficients[KWS_MFCC_MAX_DCT];
            if (kws_mfcc_clip(&state, pcm, n, map) != frames)
                return 3;
            /* kws_mfcc_frame on the padded clip must give the same bits. */
            memset(pcm + n, 0, sizeof *pcm * (size_t)config.clip_samples);
            for (i = 0; i < frames; ++i) {
                kws_mfcc_frame(&state, pcm + i * config.stride, coefficients);
                if (memcmp(coefficients, map + i * config.dct_count,
                           sizeof *map * (size_t)config.dct_count) != 0)
                    return 4;
            }
            for (i = 0; i < count; ++i)
                printf("%.9g\n", map[i]);
        } else if (strcmp(argv[7], "int32") == 0) {
            int32_t *q = malloc(sizeof *q * (size_t)count + 1);
            if (!q || kws_mfcc_clip_quantized(&state, pcm, n, q) != frames)
                return 3;
            for (i = 0; i < count; ++i)
                printf("%ld\n", (long)q[i]);
            free(q);
        } else {
            int8_t *q = malloc((size_t)count + 1);
            if (!q || kws_mfcc_clip_int8(&state, pcm, n, q) != frames)
                return 3;
            for (i = 0; i < count; ++i)
                printf("%d\n", q[i]);
            free(q);
        }
        free(pcm);
        free(map);
    }
    fclose(file);
    return 0;
}
"""


def _compiler():
    names = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc"]
    return next((shutil.which(name) for name in names if shutil.which(name)), None)


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    """mode -> the driver program built with that mode's flags."""
    compiler = _compiler()
    if compiler is None:
        pytest.skip("no C compiler (cc or gcc) on this machine")
    folder = tmp_path_factory.mktemp("mfcc_c")
    (folder / "mfcc_driver.c").write_text(DRIVER)
    programs = {}
    for mode, flags in MODES.items():
        programs[mode] = folder / f"mfcc_driver_{mode}"
        result = subprocess.run(
            [compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", *flags,
             "-I", str(C_DIR), str(C_DIR / "kws_mfcc.c"), str(folder / "mfcc_driver.c"),
             "-o", str(programs[mode]), "-lm"], check=False, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    return programs


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if RECORD:
        print("\nC MFCC front end vs TensorFlow (kws_tf.features.mfcc):")
        for line in RECORD:
            print("  " + line)


def _config(setting, bits=0, frac_bits=0):
    window, stride, dct = SETTINGS[setting]
    return FeatureConfig(window_size_ms=window, window_stride_ms=stride,
                         dct_coefficient_count=dct, feature_bits=bits,
                         feature_frac_bits=frac_bits)


def _generated():
    """name -> int16 PCM: tones, a chirp, white noise at several levels, silence, and lengths
    that need padding or trimming."""
    rng = np.random.default_rng(1234)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE

    def pcm(x):
        return np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype(np.int16)

    clips = {}
    for frequency, amplitude in [(100, .5), (440, .5), (1000, .99), (3000, .1), (7000, .5)]:
        clips[f"tone {frequency} Hz x{amplitude}"] = pcm(
            amplitude * np.sin(2 * np.pi * frequency * t))
    # 50 Hz -> 7.5 kHz, linear in frequency.
    clips["chirp"] = pcm(.5 * np.sin(2 * np.pi * (50 * t + (7450 / 2) * t ** 2)))
    for level in (.5, .05, .001):
        clips[f"noise {level}"] = pcm(rng.uniform(-level, level, SAMPLE_RATE))
    clips["noise +-1 LSB"] = rng.integers(-1, 2, SAMPLE_RATE).astype(np.int16)
    clips["noise full scale"] = rng.integers(-32768, 32768, SAMPLE_RATE).astype(np.int16)
    clips["silence"] = np.zeros(SAMPLE_RATE, np.int16)
    clips["click in silence"] = np.zeros(SAMPLE_RATE, np.int16)
    clips["click in silence"][8000] = 20000
    clips["tone 0.6 s (padded)"] = pcm(.3 * np.sin(2 * np.pi * 600 * t[:9600]))
    clips["noise 1.3 s (trimmed)"] = pcm(rng.normal(0, .1, int(1.3 * SAMPLE_RATE)))
    return clips


def _real(fixtures_dir):
    """name -> int16 PCM: the audio fixtures and a fixed sample of real_dev."""
    paths = sorted((fixtures_dir / "audio").glob("*.wav"))
    real_dev = sorted((fixtures_dir / "real_dev").rglob("*.wav"))
    rng = np.random.default_rng(0)
    if len(real_dev) > REAL_DEV_SAMPLE:
        real_dev = [real_dev[i] for i in sorted(rng.choice(len(real_dev), REAL_DEV_SAMPLE,
                                                           replace=False))]
    clips = {}
    for path in paths + real_dev:
        if not probe_wav(path).is_standard(SAMPLE_RATE):
            continue
        samples = read_wav(path, SAMPLE_RATE)  # int16 / 32768, exactly
        clips[str(path.relative_to(fixtures_dir))] = np.round(samples * 32768.0).astype(np.int16)
    if not clips:
        pytest.skip("no 16 kHz 16-bit wav fixtures")
    return clips


def _kind(name):
    """The signal kind a clip is reported under."""
    if "/" not in name:
        return name.split(" ")[0]
    if "_background_noise_" in name or "noise" in name or "silence" in name:
        return "real noise/silence"
    return "real speech"


def _run(driver, tmp_path, clips, config, mode):
    pcm_file = tmp_path / "clips.pcm"
    with open(pcm_file, "wb") as out:
        for samples in clips.values():
            out.write(np.int32(len(samples)).tobytes())
            out.write(samples.astype(np.int16).tobytes())
    result = subprocess.run(
        [str(driver), str(pcm_file), str(config.window_size_ms), str(config.window_stride_ms),
         str(config.dct_coefficient_count), str(config.feature_bits),
         str(config.feature_frac_bits), mode], check=False, capture_output=True, text=True)
    assert result.returncode == 0, (result.returncode, result.stderr)
    # "%.9g" round-trips float32; integers are exact either way.
    values = np.array(result.stdout.split(), np.float32).astype(np.float64)
    return values.reshape((len(clips),) + config.shape)


def _clips(source, request):
    if source not in _CACHE:
        _CACHE[source] = (_generated() if source == "generated"
                          else _real(request.getfixturevalue("fixtures_dir")))
    return _CACHE[source]


def _tensorflow(source, clips, config):
    """TF's float maps of the clips, padded or trimmed to the clip length as the pipeline does."""
    assert not config.feature_bits
    key = (source, config.window_size_ms, config.window_stride_ms, config.dct_coefficient_count)
    if key not in _CACHE:
        audio = np.stack([features.pad_or_trim(c.astype(np.float32) / 32768.0,
                                               config.desired_samples) for c in clips.values()])
        _CACHE[key] = features.mfcc(audio, config).numpy()
    return _CACHE[key]


@pytest.mark.parametrize("source", ["generated", "real"])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("mode", list(MODES))
def test_float_map_matches_tensorflow(drivers, tmp_path, request, mode, setting, source):
    clips = _clips(source, request)
    config = _config(setting)
    ours = _run(drivers[mode], tmp_path, clips, config, "float")
    difference = np.abs(ours - _tensorflow(source, clips, config)).reshape(len(clips), -1).max(1)
    by_kind = {}
    for name, d in zip(clips, difference):
        by_kind[_kind(name)] = max(by_kind.get(_kind(name), 0.0), d)
    RECORD.append(f"{mode:7s} float {setting}, {source} ({len(clips)} clips): max |C - TF| "
                  f"{difference.max():.1e} ({list(clips)[difference.argmax()]}); by kind: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in by_kind.items()))
    over = {name: d for name, d in zip(clips, difference)
            if d >= FLOAT_BOUND[mode].get(_kind(name), DEFAULT_FLOAT_BOUND[mode])}
    assert not over


@pytest.mark.parametrize("source", ["generated", "real"])
@pytest.mark.parametrize("frac_bits", [0, 1])
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("mode", list(MODES))
def test_integer_map_matches_python(drivers, tmp_path, request, mode, setting, frac_bits,
                                    source):
    clips = _clips(source, request)
    config = _config(setting, bits=6, frac_bits=frac_bits)
    ours = _run(drivers[mode], tmp_path, clips, config, "int32")
    assert np.array_equal(_run(drivers[mode], tmp_path, clips, config, "int8"), ours)
    float_map = _tensorflow(source, clips, _config(setting))
    reference = features.quantize(float_map, 6, frac_bits)
    # The training path's TF rounding (scaled back by 2**-frac_bits; scaling up is exact) agrees.
    np.testing.assert_array_equal(
        features.quantize_tf(float_map, config).numpy().astype(np.float64) * 2.0 ** frac_bits,
        reference)
    same = ours == reference
    RECORD.append(f"{mode:7s} int6 frac {frac_bits} {setting}, {source}: {same.mean():.4%} "
                  f"identical ({(~same).sum()} of {same.size} differ, by at most "
                  f"{np.abs(ours - reference).max():.0f})")
    assert same.mean() >= IDENTICAL_SHARE[mode, source]
    assert np.abs(ours - reference).max() <= 1


def test_quantize_rounds_half_to_even_and_saturates(drivers):
    values = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 2.75, -2.25, 31.4, 31.5, 32.0,
              -32.4, -32.5, -33.0, 1e9, -1e9, 0.0, -0.0, 7.25, -7.75]
    for frac_bits in (-1, 0, 1, 3):
        result = subprocess.run([str(drivers["precise"]), "quantize", "6", str(frac_bits)]
                                + [repr(np.float32(v).item()) for v in values],
                                capture_output=True, text=True, check=True)
        ours = np.array(result.stdout.split(), np.int64)
        expected = features.quantize(np.float32(values), 6, frac_bits)
        np.testing.assert_array_equal(ours, expected)
