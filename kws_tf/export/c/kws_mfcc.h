/*
 * kws_mfcc: the MFCC front end of kws_tf in dependency-free C99 (libm only, no malloc),
 * for microcontrollers with a single-precision FPU (Cortex-M4F and up).
 *
 * It computes the features the models were trained on: TensorFlow's
 *   AudioSpectrogram(audio, window_size, stride, magnitude_squared=True)
 *   Mfcc(spectrogram, sample_rate, upper_frequency_limit=4000, lower_frequency_limit=20,
 *        filterbank_channel_count=40, dct_coefficient_count=N)
 * (kws_tf/features.py), with audio = int16 PCM / 32768:
 *   periodic Hann window, zero-padded real FFT of the next power of two, |X|^2,
 *   mel filterbank over sqrt(|X|^2) (TF's triangle weights and bin range), log with a
 *   1e-12 floor, DCT-II scaled by sqrt(2 / channels).
 *
 * Tables (window, twiddles, filterbank, DCT cosines) are built once by kws_mfcc_init, in
 * double precision, so their float values and the filterbank's bin-to-band decisions are
 * TensorFlow's; each frame then uses float arithmetic only (no double, no malloc).
 *
 * Precision. TensorFlow computes in double. A plain float32 FFT's rounding error is ~1e-7 of
 * a frame's total energy, which is below the noise floor of real recordings (maps within
 * ~1.5e-4 of TF's on speech) but not below the >130 dB spectral valleys of pure digital tones
 * and chirps, whose coefficients then move by up to ~0.25 (measured). So by default
 * (KWS_MFCC_PRECISE 1) the window product, FFT and real-FFT split run in float-float
 * arithmetic (pairs of floats, exact via fmaf and two-sum: hardware VFMA on a Cortex-M4F):
 * maps agree with TF's float32 output to its last bit or so (< 1e-5) on every signal tested,
 * and the integer maps are identical. It costs about 3.6x the plain FFT's instructions
 * (Cortex-M4, 30 ms window / 512-point FFT: ~210k instructions a frame instead of ~60k;
 * 40 ms / 1024: ~440k instead of ~115k) and 3 KB more RAM per 256 FFT points.
 * -DKWS_MFCC_PRECISE=0 selects the plain float FFT. Do not build with -ffast-math
 * (reassociation would cancel the compensation terms); FMA contraction as compilers do it
 * by default is harmless (also tested with GCC -ffp-contract=fast -mfma).
 * tests/export/test_mfcc_c.py measures both modes.
 *
 * Sizes are bounded at compile time: KWS_MFCC_MAX_FFT (power of two, default 1024: up to
 * 64 ms windows at 16 kHz), KWS_MFCC_MAX_CHANNELS (default 40) and KWS_MFCC_MAX_DCT
 * (default 40). With the defaults a kws_mfcc_state_t takes about 36 KB (24 KB with
 * KWS_MFCC_PRECISE 0); -DKWS_MFCC_MAX_FFT=512 brings it to 21 KB (windows up to 32 ms).
 * These macros change the state's layout: define them alike for every file that includes
 * this header.
 *
 * Maps are row-major [frame][coefficient], frames oldest first.
 *
 *   kws_mfcc_config_t config;
 *   static kws_mfcc_state_t state;
 *   kws_mfcc_default_config(&config, 16000, 40, 20, 10);   // 40 ms window, 20 ms stride
 *   if (kws_mfcc_init(&state, &config) != KWS_MFCC_OK) ...;
 *   frames = kws_mfcc_clip(&state, pcm, n_samples, map);    // map: frames * 10 floats
 */
#ifndef KWS_MFCC_H
#define KWS_MFCC_H

#include <stdint.h>

#ifndef KWS_MFCC_MAX_FFT
#define KWS_MFCC_MAX_FFT 1024
#endif
#ifndef KWS_MFCC_MAX_CHANNELS
#define KWS_MFCC_MAX_CHANNELS 40
#endif
#ifndef KWS_MFCC_MAX_DCT
#define KWS_MFCC_MAX_DCT 40
#endif
#ifndef KWS_MFCC_PRECISE
#define KWS_MFCC_PRECISE 1
#endif
#if KWS_MFCC_MAX_CHANNELS > 127
#error "KWS_MFCC_MAX_CHANNELS must fit the int8_t band table"
#endif

/* kws_mfcc_init's results. */
#define KWS_MFCC_OK 0
#define KWS_MFCC_BAD_CONFIG (-1) /* a setting out of range; see kws_mfcc_config_t */
#define KWS_MFCC_TOO_BIG (-2)    /* fft_size, channels or dct above the compile-time bounds */

typedef struct {
    int sample_rate;         /* Hz, > 0 (16000) */
    int window_size;         /* samples per frame, >= 2 (sample_rate * window_size_ms / 1000) */
    int stride;              /* samples between frame starts, >= 1 */
    int fft_size;            /* 0: the next power of two >= window_size (TensorFlow's choice);
                                else that power of two, <= KWS_MFCC_MAX_FFT */
    int clip_samples;        /* kws_mfcc_clip*'s clip length: shorter input is zero-padded, longer
                                input truncated (sample_rate * clip_duration_ms / 1000);
                                0: use the samples given as they are */
    int channel_count;       /* mel filterbank channels, 1..KWS_MFCC_MAX_CHANNELS (40) */
    int dct_count;           /* coefficients per frame, 1..min(channel_count, KWS_MFCC_MAX_DCT) */
    float lower_frequency;   /* Hz, >= 0 (20) */
    float upper_frequency;   /* Hz, > lower_frequency (4000) */
    int feature_bits;        /* integer maps: signed bits, 2..24 (0: float maps only) */
    int feature_frac_bits;   /* integer maps: value = round_half_even(mfcc * 2**frac_bits), may be
                                negative (-30..30) */
} kws_mfcc_config_t;

/* Precomputed tables and work buffers; treat as opaque. Not shared between threads. */
typedef struct {
    kws_mfcc_config_t config;
    int fft_size;
    int bin_count;                      /* fft_size / 2 + 1 spectrum bins */
    int start_bin, end_bin;             /* filterbank bins, inclusive */
    float scale;                        /* 2**feature_frac_bits */
    float quant_low, quant_high;        /* the signed feature_bits range */
    float window[KWS_MFCC_MAX_FFT];     /* periodic Hann times 1/32768 (int16 -> [-1, 1)) */
    float cos_table[KWS_MFCC_MAX_FFT / 2]; /* cos(2 pi k / fft_size) */
    float sin_table[KWS_MFCC_MAX_FFT / 2]; /* sin(2 pi k / fft_size) */
    float fft[KWS_MFCC_MAX_FFT];        /* work: packed complex half-length FFT */
#if KWS_MFCC_PRECISE
    float window_lo[KWS_MFCC_MAX_FFT];  /* the tables' and the FFT's low parts */
    float cos_lo[KWS_MFCC_MAX_FFT / 2];
    float sin_lo[KWS_MFCC_MAX_FFT / 2];
    float fft_lo[KWS_MFCC_MAX_FFT];
#endif
    float power[KWS_MFCC_MAX_FFT / 2 + 1];  /* work: |X[k]|^2 */
    float weight[KWS_MFCC_MAX_FFT / 2 + 1]; /* a bin's share of its band's falling side */
    int8_t band[KWS_MFCC_MAX_FFT / 2 + 1];  /* a bin's falling-side channel, -1: none */
    float dct[KWS_MFCC_MAX_DCT][KWS_MFCC_MAX_CHANNELS]; /* sqrt(2/C) cos(pi i (j + 1/2) / C) */
    float mel[KWS_MFCC_MAX_CHANNELS];   /* work: filterbank energies, then their logs */
    float coefficients[KWS_MFCC_MAX_DCT]; /* work: one frame, for the integer maps */
} kws_mfcc_state_t;

/* Fills `config` with kws_tf's fixed settings (40 channels, 20..4000 Hz, a 1 s clip, float
 * maps) and the given rate, window and stride in milliseconds (truncated to whole samples,
 * as kws_tf.config does) and coefficient count. */
void kws_mfcc_default_config(kws_mfcc_config_t *config, int sample_rate, double window_size_ms,
                             double window_stride_ms, int dct_count);

/* Checks `config` and builds the tables into `state`: KWS_MFCC_OK, or an error above. */
int kws_mfcc_init(kws_mfcc_state_t *state, const kws_mfcc_config_t *config);

/* Frames in a clip of `n_samples` (clip_samples when set): 1 + (n - window) / stride complete
 * windows, 0 when shorter than one window. */
int kws_mfcc_frame_count(const kws_mfcc_state_t *state, int n_samples);

/* One frame: window_size samples in, dct_count coefficients out. */
void kws_mfcc_frame(kws_mfcc_state_t *state, const int16_t *window_samples,
                    float *out_coefficients);

/* A whole clip: fills frame_count * dct_count floats; returns the frame count. */
int kws_mfcc_clip(kws_mfcc_state_t *state, const int16_t *pcm, int n_samples, float *out_map);

/* The integer map value of one coefficient: round_half_even(value * 2**feature_frac_bits)
 * saturated to signed feature_bits bits (kws_tf.features.quantize); 0 when feature_bits is 0. */
int32_t kws_mfcc_quantize(const kws_mfcc_state_t *state, float value);

/* kws_mfcc_clip, then kws_mfcc_quantize: the integer graph's input. Return the frame count,
 * or -1 when feature_bits is 0 (or, for int8, above 8). */
int kws_mfcc_clip_quantized(kws_mfcc_state_t *state, const int16_t *pcm, int n_samples,
                            int32_t *out_map);
int kws_mfcc_clip_int8(kws_mfcc_state_t *state, const int16_t *pcm, int n_samples,
                       int8_t *out_map);

#endif /* KWS_MFCC_H */
