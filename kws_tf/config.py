"""The settings of every command: frozen dataclasses, their flags, and the checkpoint sidecar.

Each setting is written once, as a dataclass field: its default, its flag's help text and, where
the flag's text differs from the value (``--wanted_words a,b``), how to convert it. The flags
are generated from the fields (``add_flags``) and the parsed flags mapped back onto them
(``from_flags``), so a default cannot differ between a dataclass and its flag. Like Keras's
``get_config``, every settings class has ``to_dict`` / ``from_dict``; a checkpoint's sidecar is
``ModelSpec.to_dict()``.

This module sits below everything else (it imports only ``errors``), so any layer may use it.
"""
import dataclasses
import math
import typing

from kws_tf.errors import KwsError

DEFAULT_WANTED_WORDS = "yes,no,up,down,left,right,on,off,stop,go"
DEFAULT_DATA_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
SILENCE_LABEL = "_silence_"
UNKNOWN_WORD_LABEL = "_unknown_"
# soxr (libsoxr, high quality) by default; tensorflow-io's when installed and chosen.
RESAMPLERS = ("soxr", "tfio")
DEFAULT_RESAMPLER = "soxr"
# Mfcc op attributes; Hello Edge left them at the op defaults.
MFCC_LOWER_FREQUENCY_LIMIT = 20.0
MFCC_UPPER_FREQUENCY_LIMIT = 4000.0
MFCC_FILTERBANK_CHANNELS = 40
# --feature_type: Hello Edge's MFCCs, or the log mel energies they are the DCT of.
FEATURE_TYPES = ("mfcc", "log_mel")
# About the bins a 30 ms window's spectrum has in 20-4000 Hz at 16 kHz: more bands only
# share bins.
MAX_MEL_BANDS = 128


def setting(default, help, **flag):  # noqa: A002 (argparse's name)
    """A dataclass field with its flag: `help`, and argparse's `type`, `choices` or `action`;
    `parse` / `text` convert between the flag's text and the value where they differ."""
    return dataclasses.field(default=default, metadata={"help": help, **flag})


class Settings:
    """to_dict / from_dict for a frozen dataclass of plain values (and nested Settings)."""

    def to_dict(self):
        return {field.name: _plain(getattr(self, field.name))
                for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values, where=None):
        """The settings in `values`; names it does not know are a KwsError naming `where`."""
        if not isinstance(values, dict):
            raise KwsError(f"{where or cls.__name__}: expected a JSON object, got {values!r}")
        names = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise KwsError(f"{where or cls.__name__}: unknown {cls.__name__} setting(s) "
                           f"{', '.join(unknown)}")
        kinds = typing.get_type_hints(cls)
        return cls(**{name: _typed(kinds.get(name), value) for name, value in values.items()})

    def validate(self):
        return self


def _plain(value):
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _typed(kind, value):
    if isinstance(kind, type) and issubclass(kind, Settings) and isinstance(value, dict):
        return kind.from_dict(value)
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    return value


def add_flags(group, cls, names=None, defaults=True):
    """Adds the flags of `cls`'s fields (those in `names`, in that order) to `group`. With
    `defaults` False they default to None, for tools that take them from a checkpoint."""
    fields = {field.name: field for field in dataclasses.fields(cls)}
    texts = flag_defaults(cls)
    for name in names or fields:
        meta = fields[name].metadata
        kwargs = {key: meta[key] for key in ("type", "choices", "action") if key in meta}
        group.add_argument(f"--{name}", help=meta["help"],
                           default=texts[name] if defaults else None, **kwargs)
    return group


def flag_defaults(cls):
    """{flag: its default, as the flag's text gives it} for the fields of `cls`."""
    return {field.name: field.metadata["text"](field.default) if "text" in field.metadata
            else field.default for field in dataclasses.fields(cls)}


def from_flags(cls, args, **given):
    """`cls` from the parsed flags (fields without a flag keep their default, `given` wins)."""
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in given:
            values[field.name] = given[field.name]
        elif hasattr(args, field.name) and getattr(args, field.name) is not None:
            value = getattr(args, field.name)
            values[field.name] = field.metadata["parse"](value) \
                if "parse" in field.metadata else value
    return cls(**values).validate()


def parse_wanted_words(text):
    """The words of a --wanted_words list; KwsError for an empty, repeated or reserved one."""
    words = [word.strip() for word in text.split(",")]
    if not text.strip() or any(not word for word in words):
        raise KwsError(f"--wanted_words {text!r}: expected a comma-separated list of words")
    duplicates = sorted({word for word in words if words.count(word) > 1})
    if duplicates:
        raise KwsError(f"--wanted_words lists {', '.join(duplicates)} more than once")
    reserved = [word for word in words if word in (SILENCE_LABEL, UNKNOWN_WORD_LABEL)]
    if reserved:
        raise KwsError(f"--wanted_words must not name {reserved[0]}: it is added automatically")
    return words


@dataclasses.dataclass(frozen=True)
class FeatureConfig(Settings):
    """Hello Edge's feature flags, with its defaults (``prepare_model_settings``)."""

    sample_rate: int = setting(
        16000, "Expected sample rate of the wavs; other rates are resampled to it.", type=int)
    clip_duration_ms: float = setting(
        1000, "Expected duration in milliseconds of the wavs; shorter clips are zero-padded at "
              "the end, longer ones truncated.", type=float)
    window_size_ms: float = setting(30.0, "How long each spectrogram timeslice is.", type=float)
    window_stride_ms: float = setting(
        10.0, "How far to move in time between spectrogram timeslices.", type=float)
    dct_coefficient_count: int = setting(
        40, "How many MFCC coefficients (bins) to keep per frame.", type=int)
    feature_type: str = setting(
        "mfcc", "'mfcc' (default): Hello Edge's MFCCs. 'log_mel': the log mel filterbank "
                "energies the MFCCs are the DCT of, --mel_bands of them per frame.",
        choices=FEATURE_TYPES)
    mel_bands: int = setting(
        MFCC_FILTERBANK_CHANNELS, "Mel bands of --feature_type log_mel (20-4000 Hz, as the "
                                  "MFCCs' filterbank); MFCCs keep Hello Edge's 40.", type=int)
    # 0: Hello Edge's float MFCCs. N: round(mfcc * 2**feature_frac_bits) saturated to signed
    # N bits, times 2**-feature_frac_bits: the integer graph's input, seen by the float model.
    feature_bits: int = setting(
        0, "0 (default): Hello Edge's float MFCCs. N: round them to what the integer graph "
           "takes, round(mfcc * 2**--feature_frac_bits) in signed N bits (scaled back), so a "
           "float model trains on its input.", type=int)
    feature_frac_bits: int = setting(
        0, "The power-of-two input scale exponent for --feature_bits.", type=int)

    @property
    def desired_samples(self):
        return int(self.sample_rate * self.clip_duration_ms / 1000)

    @property
    def window_size_samples(self):
        return int(self.sample_rate * self.window_size_ms / 1000)

    @property
    def window_stride_samples(self):
        return int(self.sample_rate * self.window_stride_ms / 1000)

    @property
    def spectrogram_length(self):
        """Frames: only complete windows count, as in AudioSpectrogram."""
        if self.desired_samples < self.window_size_samples:
            return 0
        return 1 + (self.desired_samples - self.window_size_samples) // self.window_stride_samples

    @property
    def shape(self):
        """(frames, coefficients): time-major, as Hello Edge flattens it."""
        if self.feature_type == "log_mel":
            return (self.spectrogram_length, self.mel_bands)
        return (self.spectrogram_length, self.dct_coefficient_count)

    def validate(self):
        """Raises KwsError naming the flag when the settings give no features."""
        for name in ("sample_rate", "clip_duration_ms", "window_size_ms",
                     "window_stride_ms", "dct_coefficient_count"):
            if getattr(self, name) <= 0:
                raise KwsError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.window_stride_samples < 1:
            raise KwsError(f"--window_stride_ms {self.window_stride_ms} is shorter than one sample")
        if self.spectrogram_length < 1:
            raise KwsError(f"--window_size_ms {self.window_size_ms} is longer than "
                           f"--clip_duration_ms {self.clip_duration_ms}: no complete window")
        if self.feature_bits and not 2 <= self.feature_bits <= 16:
            raise KwsError(f"--feature_bits must be 0 (float) or between 2 and 16, got "
                           f"{self.feature_bits}")
        if self.feature_type not in FEATURE_TYPES:
            raise KwsError(f"--feature_type must be one of {', '.join(FEATURE_TYPES)}, got "
                           f"{self.feature_type!r}")
        if not 1 <= self.mel_bands <= MAX_MEL_BANDS:
            raise KwsError(f"--mel_bands must be between 1 and {MAX_MEL_BANDS}, got "
                           f"{self.mel_bands}")
        if self.feature_type == "mfcc" and self.mel_bands != MFCC_FILTERBANK_CHANNELS:
            raise KwsError(f"--mel_bands {self.mel_bands} is for --feature_type log_mel; MFCCs "
                           f"use Hello Edge's {MFCC_FILTERBANK_CHANNELS}")
        if self.feature_type == "mfcc" and self.dct_coefficient_count > MFCC_FILTERBANK_CHANNELS:
            raise KwsError(f"--dct_coefficient_count {self.dct_coefficient_count} is more than the "
                           f"{MFCC_FILTERBANK_CHANNELS} mel channels it is computed from")
        return self


# The feature flags, one per FeatureConfig setting and named alike.
FEATURE_FLAGS = tuple(field.name for field in dataclasses.fields(FeatureConfig))


def given_flags(args):
    """The feature flags set on the command line (where they default to None)."""
    return {name: getattr(args, name) for name in FEATURE_FLAGS
            if getattr(args, name) is not None}


def same_setting(a, b):
    """Whether two values of a feature setting agree: numbers to rounding, text exactly."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def setting_text(value):
    """A feature setting as a flag would give it: `30`, `0.5`, `log_mel`."""
    return value if isinstance(value, str) else f"{value:g}"


def resolve_features(fixed, given, where):
    """FeatureConfig from the model's `fixed` settings and the `given` flags (must agree)."""
    for name, value in given.items():
        if name in fixed and not same_setting(value, fixed[name]):
            raise KwsError(f"--{name} {setting_text(value)} disagrees with {where}, which uses "
                           f"{setting_text(fixed[name])}")
    return FeatureConfig(**{**fixed, **given}).validate()


@dataclasses.dataclass(frozen=True)
class DataConfig(Settings):
    """Hello Edge's data flags (same defaults), plus the split source, the bad-file policy and
    the resampler."""

    data_dir: str = setting("/tmp/speech_dataset/",
                            "Where to download the speech training data to, or where it is.")
    wanted_words: tuple = setting(
        tuple(DEFAULT_WANTED_WORDS.split(",")),
        "Words to use (others will be added to an unknown label).",
        parse=lambda text: tuple(parse_wanted_words(text)), text=",".join)
    validation_percentage: float = setting(
        10, "What percentage of wavs to use as a validation set.", type=int)
    testing_percentage: float = setting(
        10, "What percentage of wavs to use as a test set.", type=int)
    silence_percentage: float = setting(
        10.0, "How much of the training data should be silence.", type=float)
    unknown_percentage: float = setting(
        10.0, "How much of the training data should be unknown words.", type=float)
    split: str = setting(
        "hash", "'hash': Hello Edge's SHA-1 split by the percentages above; 'lists': the data "
                "set's own validation_list.txt / testing_list.txt (the official v0.02 split).",
        choices=("hash", "lists"))
    skip_bad_files: bool = setting(
        False, "Skip (and count) wavs that cannot be decoded instead of stopping.",
        action="store_true")
    resampler: str = setting(
        DEFAULT_RESAMPLER,
        "How wavs at other sample rates are converted: 'soxr' (aligned in time) or 'tfio' "
        "(tensorflow-io, if installed and its ops load; output delayed by 32 samples at the "
        "lower rate).", choices=RESAMPLERS)
    data_url: str = setting(
        DEFAULT_DATA_URL, "Location of the speech training data archive; empty means use "
                          "--data_dir as it is.")

    def validate(self):
        for name in ("validation_percentage", "testing_percentage"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise KwsError(f"--{name} must be between 0 and 100, got {value}")
        if self.validation_percentage + self.testing_percentage >= 100:
            raise KwsError("--validation_percentage plus --testing_percentage leave no "
                           "training data")
        for name in ("silence_percentage", "unknown_percentage"):
            if getattr(self, name) < 0:
                raise KwsError(f"--{name} must not be negative, got {getattr(self, name)}")
        if self.split not in ("hash", "lists"):
            raise KwsError(f"--split must be 'hash' or 'lists', got {self.split!r}")
        if self.resampler not in RESAMPLERS:
            raise KwsError(f"--resampler must be one of {', '.join(RESAMPLERS)}, got "
                           f"{self.resampler!r}")
        return self


@dataclasses.dataclass(frozen=True)
class AugmentConfig(Settings):
    """Hello Edge's training-time augmentation flags."""

    time_shift_ms: float = setting(
        100.0, "Range to randomly shift the training audio by in time.", type=float)
    background_frequency: float = setting(
        0.8, "How many of the training samples have background noise mixed in.", type=float)
    background_volume: float = setting(
        0.1, "How loud the background noise should be, between 0 and 1.", type=float)
    background_snr_db: str = setting(
        "", "Mix the noise at a signal-to-noise ratio instead of a volume: a list of "
            "conditions each clip draws one of, each 'clean', a level in dB or a 'low:high' "
            "range (e.g. clean,10,5,0,-5,-10 or -10:20), measured against the clip's active "
            "speech. Silence clips keep --background_volume.")
    reverb_probability: float = setting(
        0.0, "How many of the training clips are reverberated by a room impulse response "
             "(simulated rooms, plus --rir_dir's).", type=float)
    rir_dir: str = setting(
        "", "A folder of measured room impulse response wavs to reverberate with, besides the "
            "simulated rooms.")
    rir_bank_size: int = setting(
        200, "How many rooms to simulate for --reverb_probability (made once per --seed and "
             "cached; 0: only --rir_dir's).", type=int)
    time_masks_number: int = setting(
        0, "SpecAugment: how many runs of frames of each training clip's features are masked "
           "(each masked value becomes the clip's mean of its coefficient).", type=int)
    time_mask_max_size: int = setting(
        10, "The longest --time_masks_number run, in frames.", type=int)
    frequency_masks_number: int = setting(
        0, "SpecAugment: how many runs of feature coefficients of each training clip are "
           "masked the same way.", type=int)
    frequency_mask_max_size: int = setting(
        2, "The longest --frequency_masks_number run, in coefficients.", type=int)

    def validate(self):
        if self.time_shift_ms < 0:
            raise KwsError(f"--time_shift_ms must not be negative, got {self.time_shift_ms}")
        if not 0 <= self.background_frequency <= 1:
            raise KwsError("--background_frequency must be between 0 and 1, got "
                           f"{self.background_frequency}")
        if not 0 <= self.background_volume <= 1:
            raise KwsError("--background_volume must be between 0 and 1, got "
                           f"{self.background_volume}")
        parse_snr_conditions(self.background_snr_db)
        if not 0 <= self.reverb_probability <= 1:
            raise KwsError("--reverb_probability must be between 0 and 1, got "
                           f"{self.reverb_probability}")
        if self.rir_bank_size < 0:
            raise KwsError(f"--rir_bank_size must not be negative, got {self.rir_bank_size}")
        if self.reverb_probability and not (self.rir_bank_size or self.rir_dir):
            raise KwsError("--reverb_probability needs rooms: --rir_bank_size 0 and no --rir_dir")
        for flag in _SPEC_AUGMENT_FLAGS:
            if getattr(self, flag) < 0:
                raise KwsError(f"--{flag} must not be negative, got {getattr(self, flag)}")
        return self


def parse_snr_conditions(text, flag="--background_snr_db"):
    """The (low, high) dB pairs of an SNR list such as ``clean,10,0,-5:5``; None is clean.
    Empty text: no conditions (Hello Edge's volume rule)."""
    if not text.strip():
        return ()
    conditions = []
    for item in text.split(","):
        item = item.strip()
        try:
            if item == "clean":
                conditions.append(None)
            elif ":" in item:
                low, high = (float(part) for part in item.split(":"))
                if not low <= high:
                    raise ValueError
                conditions.append((low, high))
            else:
                conditions.append((float(item), float(item)))
        except ValueError:
            raise KwsError(f"{flag} {text!r}: {item!r} is not 'clean', a number of dB or a "
                           "'low:high' range") from None
    return tuple(conditions)


# Hello Edge's order of the data and augmentation flags in --help.
_HELLO_EDGE_DATA_FLAGS = (
    (DataConfig, ("data_url", "data_dir")),
    (AugmentConfig, ("background_volume", "background_frequency")),
    (DataConfig, ("silence_percentage", "unknown_percentage")),
    (AugmentConfig, ("time_shift_ms",)),
    (DataConfig, ("testing_percentage", "validation_percentage", "wanted_words", "split",
                  "skip_bad_files", "resampler")))
# The multi-condition options, after Hello Edge's.
_MULTI_CONDITION_FLAGS = ("background_snr_db", "reverb_probability", "rir_dir", "rir_bank_size")
_SPEC_AUGMENT_FLAGS = ("time_masks_number", "time_mask_max_size", "frequency_masks_number",
                       "frequency_mask_max_size")


def add_data_flags(parser):
    """Hello Edge's data flags (DataConfig and AugmentConfig): same names, defaults, meaning."""
    group = parser.add_argument_group("data (as Hello Edge)")
    for cls, names in _HELLO_EDGE_DATA_FLAGS:
        add_flags(group, cls, names)
    return group


def add_multi_condition_flags(parser):
    """Training's noise-at-SNR and reverberation flags (AugmentConfig's beyond Hello Edge)."""
    return add_flags(parser.add_argument_group("noise and reverberation (docs/robustness.md)"),
                     AugmentConfig, _MULTI_CONDITION_FLAGS)


def add_spec_augment_flags(parser):
    """Training's SpecAugment masks (AugmentConfig's, on the features)."""
    return add_flags(parser.add_argument_group("SpecAugment (docs/training.md)"),
                     AugmentConfig, _SPEC_AUGMENT_FLAGS)


def add_feature_flags(parser, defaults=True):
    """Hello Edge's feature flags: same names, defaults and meaning."""
    return add_flags(parser.add_argument_group("features (as Hello Edge)"), FeatureConfig,
                     defaults=defaults)


def add_resampler_flag(parser):
    """--resampler alone, for tools that read wavs without a data set."""
    return add_flags(parser, DataConfig, ("resampler",))


SIDECAR_VERSION = 3  # 1: before the version field; 2: before --feature_type and --mel_bands


@dataclasses.dataclass(frozen=True)
class ModelSpec(Settings):
    """What rebuilds a model around its checkpoint: its sidecar is ``to_dict()``.

    ``quantize`` is None for a float model, else how it was quantization-aware trained
    (kws_tf.quant.qat's or kws_tf.quant.integer_sim's entry); ``net_config`` is a nas model's
    network; ``extra`` keeps what else a sidecar records (provenance, parameter counts).
    """

    model_architecture: str
    model_size_info: tuple
    input_shape: tuple
    labels: tuple
    features: FeatureConfig = FeatureConfig()
    quantize: typing.Optional[dict] = None
    net_config: typing.Optional[dict] = None
    wanted_words: typing.Optional[str] = None
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        values = super().to_dict()
        extra = values.pop("extra")
        return {"version": SIDECAR_VERSION, **values, **extra}

    @classmethod
    def from_dict(cls, values, where=None):
        """Reads a sidecar of any version up to SIDECAR_VERSION; features missing from an old
        one take their defaults."""
        where = where or "the sidecar"
        if not isinstance(values, dict):
            raise KwsError(f"{where}: expected a JSON object")
        values = dict(values)
        version = values.pop("version", 1)
        if not isinstance(version, int) or not 1 <= version <= SIDECAR_VERSION:
            raise KwsError(f"{where}: sidecar version {version!r} is not one this kws-tf reads "
                           f"(1 to {SIDECAR_VERSION}); a newer kws-tf wrote it")
        required = [field.name for field in dataclasses.fields(cls)
                    if field.default is dataclasses.MISSING
                    and field.default_factory is dataclasses.MISSING]
        missing = [name for name in required + ["features"] if name not in values]
        if missing:
            raise KwsError(f"{where}: missing {', '.join(missing)}")
        names = {field.name for field in dataclasses.fields(cls)} - {"extra"}
        extra = {key: values.pop(key) for key in list(values) if key not in names}
        features = FeatureConfig.from_dict(values.pop("features"), f"{where}: features")
        return super().from_dict({**values, "features": features, "extra": extra}, where)
