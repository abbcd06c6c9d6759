/*
 * kws_mfcc: TensorFlow's AudioSpectrogram + Mfcc in C99 float arithmetic. See kws_mfcc.h.
 *
 * The steps mirror tensorflow/core/kernels/spectrogram.cc, mfcc_mel_filterbank.cc,
 * mfcc_dct.cc and mfcc.cc; the code is written afresh for a small float target.
 */
#include "kws_mfcc.h"

#include <math.h>
#include <string.h>

/* log(1e-12): TensorFlow floors filterbank energies at 1e-12 before the log. Using the
 * double value's float rather than logf(1e-12f) keeps silent bands exactly TF's. */
#define KWS_FILTERBANK_FLOOR 1e-12f
#define KWS_LOG_FLOOR (-27.631021115928547f)

/* TF derives pi as 4 atan(1) (not every platform has M_PI); same here, in double. */
static double kws_pi(void)
{
    return 4.0 * atan(1.0);
}

/* The mel scale of TF's filterbank (HTK's): 1127 ln(1 + f / 700). */
static double freq_to_mel(double freq)
{
    return 1127.0 * log1p(freq / 700.0);
}

static int is_power_of_two(int n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

void kws_mfcc_default_config(kws_mfcc_config_t *config, int sample_rate, double window_size_ms,
                             double window_stride_ms, int dct_count)
{
    memset(config, 0, sizeof *config);
    config->sample_rate = sample_rate;
    /* int() of the product in double, as kws_tf.config.FeatureConfig does. */
    config->window_size = (int)((double)sample_rate * window_size_ms / 1000.0);
    config->stride = (int)((double)sample_rate * window_stride_ms / 1000.0);
    config->fft_size = 0;
    config->clip_samples = sample_rate; /* 1000 ms */
    config->channel_count = 40;
    config->dct_count = dct_count;
    config->lower_frequency = 20.0f;
    config->upper_frequency = 4000.0f;
    config->feature_bits = 0;
    config->feature_frac_bits = 0;
}

/* The mel filterbank of mfcc_mel_filterbank.cc: for every FFT bin in [start_bin, end_bin],
 * the channel whose falling side it is on (band, -1 below the first centre) and its weight
 * there; the rest of the bin (1 - weight) goes to the rising side of band + 1. Built in
 * double so the bin-to-band comparisons and weights are TF's, then stored as float. */
static int init_filterbank(kws_mfcc_state_t *s)
{
    const kws_mfcc_config_t *c = &s->config;
    double centers[KWS_MFCC_MAX_CHANNELS + 1];
    const double mel_low = freq_to_mel((double)c->lower_frequency);
    const double mel_high = freq_to_mel((double)c->upper_frequency);
    /* channel_count + 1 centres: the extra one closes the last triangle. */
    const double spacing = (mel_high - mel_low) / (double)(c->channel_count + 1);
    /* TF spaces bins over the spectrogram's bin_count - 1 intervals up to Nyquist. */
    const double hz_per_bin = 0.5 * c->sample_rate / (double)(s->bin_count - 1);
    int i, channel = 0;

    for (i = 0; i < c->channel_count + 1; ++i)
        centers[i] = mel_low + spacing * (i + 1);
    /* DC is always skipped (the 1.5 rounds up past the lower limit's bin, as HTK does);
     * both ends are truncated to int as TF does. */
    s->start_bin = (int)(1.5 + (double)c->lower_frequency / hz_per_bin);
    s->end_bin = (int)((double)c->upper_frequency / hz_per_bin);
    if (s->end_bin >= s->bin_count)
        return KWS_MFCC_BAD_CONFIG; /* upper limit above Nyquist: TF refuses to compute */

    for (i = 0; i < s->bin_count; ++i) {
        const double mel = freq_to_mel(i * hz_per_bin);
        int band;
        if (i < s->start_bin || i > s->end_bin) {
            s->band[i] = -1;
            s->weight[i] = 0.0f;
            continue;
        }
        while (channel < c->channel_count && centers[channel] < mel)
            ++channel;
        band = channel - 1;
        s->band[i] = (int8_t)band;
        if (band >= 0)
            s->weight[i] = (float)((centers[band + 1] - mel) / (centers[band + 1] - centers[band]));
        else
            s->weight[i] = (float)((centers[0] - mel) / (centers[0] - mel_low));
    }
    return KWS_MFCC_OK;
}

int kws_mfcc_init(kws_mfcc_state_t *s, const kws_mfcc_config_t *config)
{
    const double pi = kws_pi();
    int fft_size, i, j;

    memset(s, 0, sizeof *s); /* a failed init leaves a state that yields no frames */
    if (config->sample_rate <= 0 || config->window_size < 2 || config->stride < 1
        || config->clip_samples < 0 || config->channel_count < 1 || config->dct_count < 1
        || config->dct_count > config->channel_count || !(config->lower_frequency >= 0.0f)
        || !(config->upper_frequency > config->lower_frequency)
        || (config->feature_bits != 0 && (config->feature_bits < 2 || config->feature_bits > 24))
        || config->feature_frac_bits < -30 || config->feature_frac_bits > 30)
        return KWS_MFCC_BAD_CONFIG;
    fft_size = config->fft_size;
    if (fft_size == 0) /* TF: the next power of two that holds the window */
        for (fft_size = 2; fft_size < config->window_size && fft_size <= KWS_MFCC_MAX_FFT;)
            fft_size <<= 1;
    if (fft_size > KWS_MFCC_MAX_FFT || config->channel_count > KWS_MFCC_MAX_CHANNELS
        || config->dct_count > KWS_MFCC_MAX_DCT)
        return KWS_MFCC_TOO_BIG;
    if (!is_power_of_two(fft_size) || fft_size < config->window_size)
        return KWS_MFCC_BAD_CONFIG;

    s->config = *config;
    s->fft_size = fft_size;
    s->bin_count = fft_size / 2 + 1;
    s->scale = ldexpf(1.0f, config->feature_frac_bits);
    /* Saturation limits; exact in float for up to 24 bits. */
    s->quant_high = config->feature_bits ? ldexpf(1.0f, config->feature_bits - 1) - 1.0f : 0.0f;
    s->quant_low = -s->quant_high - 1.0f;

    /* Periodic Hann (denominator window_size, not window_size - 1), as GetPeriodicHann.
     * The int16 -> [-1, 1) scale 1/32768 is folded in: a power of two, so exact. */
    for (i = 0; i < config->window_size; ++i) {
        const double w = (0.5 - 0.5 * cos((2.0 * pi * i) / config->window_size)) / 32768.0;
        s->window[i] = (float)w;
#if KWS_MFCC_PRECISE
        s->window_lo[i] = (float)(w - (double)s->window[i]);
#endif
    }

    /* One table serves both the half-length complex FFT (every other entry) and the
     * real-FFT split (every entry). Computed in double: float twiddles rounded once. */
    for (i = 0; i < fft_size / 2; ++i) {
        const double c = cos(2.0 * pi * i / fft_size), sn = sin(2.0 * pi * i / fft_size);
        s->cos_table[i] = (float)c;
        s->sin_table[i] = (float)sn;
#if KWS_MFCC_PRECISE
        s->cos_lo[i] = (float)(c - (double)s->cos_table[i]);
        s->sin_lo[i] = (float)(sn - (double)s->sin_table[i]);
#endif
    }

    i = init_filterbank(s);
    if (i != KWS_MFCC_OK)
        return i;

    /* mfcc_dct.cc's DCT-II: sqrt(2 / C) cos(pi i (j + 0.5) / C), no special first row. */
    for (i = 0; i < config->dct_count; ++i)
        for (j = 0; j < config->channel_count; ++j)
            s->dct[i][j] = (float)(sqrt(2.0 / config->channel_count)
                                   * cos(i * (pi / config->channel_count) * (j + 0.5)));
    return KWS_MFCC_OK;
}

int kws_mfcc_frame_count(const kws_mfcc_state_t *s, int n_samples)
{
    const int length = s->config.clip_samples > 0 ? s->config.clip_samples : n_samples;
    if (s->config.stride < 1 || length < s->config.window_size) /* not initialised; too short */
        return 0;
    /* Only complete windows, as AudioSpectrogram. */
    return 1 + (length - s->config.window_size) / s->config.stride;
}

#if KWS_MFCC_PRECISE
/* Float-float ("double-float") numbers: hi + lo with |lo| <= ulp(hi) / 2, about 48 bits.
 * Built from error-free float operations (two-sum, fmaf's exact product error), so the
 * FFT's rounding error drops from ~1e-7 to ~1e-14 of the frame's energy. Needs IEEE float
 * semantics: no -ffast-math (see kws_mfcc.h). */
typedef struct {
    float hi, lo;
} kws_ff_t;

static kws_ff_t ff_renormalize(float big, float small) /* needs |big| >= |small| or big 0 */
{
    kws_ff_t r;
    r.hi = big + small;
    r.lo = small - (r.hi - big);
    return r;
}

static kws_ff_t ff_add(kws_ff_t a, kws_ff_t b)
{
    const float sum = a.hi + b.hi, b_part = sum - a.hi;
    const float error = (a.hi - (sum - b_part)) + (b.hi - b_part); /* exact: two-sum */
    return ff_renormalize(sum, error + (a.lo + b.lo));
}

static kws_ff_t ff_sub(kws_ff_t a, kws_ff_t b)
{
    b.hi = -b.hi;
    b.lo = -b.lo;
    return ff_add(a, b);
}

static kws_ff_t ff_mul(kws_ff_t a, kws_ff_t b)
{
    const float product = a.hi * b.hi;
    const float error = fmaf(a.hi, b.hi, -product); /* exact: the product's rounding error */
    return ff_renormalize(product, error + (a.hi * b.lo + a.lo * b.hi));
}

static kws_ff_t ff_get(const kws_mfcc_state_t *s, int i)
{
    kws_ff_t r;
    r.hi = s->fft[i];
    r.lo = s->fft_lo[i];
    return r;
}

static void ff_put(kws_mfcc_state_t *s, int i, kws_ff_t v)
{
    s->fft[i] = v.hi;
    s->fft_lo[i] = v.lo;
}

static kws_ff_t twiddle_cos(const kws_mfcc_state_t *s, int k)
{
    kws_ff_t r;
    r.hi = s->cos_table[k];
    r.lo = s->cos_lo[k];
    return r;
}

static kws_ff_t twiddle_sin(const kws_mfcc_state_t *s, int k)
{
    kws_ff_t r;
    r.hi = s->sin_table[k];
    r.lo = s->sin_lo[k];
    return r;
}

/* s->fft = the windowed frame: `available` samples, then zeros (see compute_frame). */
static void load_frame(kws_mfcc_state_t *s, const int16_t *pcm, int available)
{
    int i;
    for (i = 0; i < available; ++i) { /* sample * (window hi + lo), to ~48 bits */
        const float x = (float)pcm[i], product = x * s->window[i];
        const float error = fmaf(x, s->window[i], -product) + x * s->window_lo[i];
        const kws_ff_t v = ff_renormalize(product, error);
        ff_put(s, i, v);
    }
    for (; i < s->fft_size; ++i)
        s->fft[i] = s->fft_lo[i] = 0.0f;
}

/* The plain complex_fft below, on float-float values. */
static void complex_fft(kws_mfcc_state_t *s)
{
    const int n = s->fft_size, m = n / 2;
    int i, j, bit, len;

    for (i = 1, j = 0; i < m; ++i) {
        for (bit = m >> 1; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            const kws_ff_t re = ff_get(s, 2 * i), im = ff_get(s, 2 * i + 1);
            ff_put(s, 2 * i, ff_get(s, 2 * j));
            ff_put(s, 2 * i + 1, ff_get(s, 2 * j + 1));
            ff_put(s, 2 * j, re);
            ff_put(s, 2 * j + 1, im);
        }
    }
    for (len = 2; len <= m; len <<= 1) {
        const int half = len / 2, step = n / len;
        int k, start;
        for (k = 0; k < half; ++k) {
            const kws_ff_t wr = twiddle_cos(s, k * step), ws = twiddle_sin(s, k * step);
            for (start = k; start < m; start += len) {
                const int p = 2 * start, q = 2 * (start + half);
                const kws_ff_t pr = ff_get(s, p), pi = ff_get(s, p + 1);
                const kws_ff_t qr = ff_get(s, q), qi = ff_get(s, q + 1);
                /* t = q * exp(-i angle) = q * (cos - i sin) */
                const kws_ff_t tr = ff_add(ff_mul(wr, qr), ff_mul(ws, qi));
                const kws_ff_t ti = ff_sub(ff_mul(wr, qi), ff_mul(ws, qr));
                ff_put(s, q, ff_sub(pr, tr));
                ff_put(s, q + 1, ff_sub(pi, ti));
                ff_put(s, p, ff_add(pr, tr));
                ff_put(s, p + 1, ff_add(pi, ti));
            }
        }
    }
}

static kws_ff_t ff_half(kws_ff_t a) /* exact */
{
    a.hi *= 0.5f;
    a.lo *= 0.5f;
    return a;
}

/* The plain power_spectrum below, on float-float values. */
static void power_spectrum(kws_mfcc_state_t *s)
{
    const int m = s->fft_size / 2;
    int k;
    kws_ff_t x;

    x = ff_add(ff_get(s, 0), ff_get(s, 1)); /* DC and Nyquist are real */
    s->power[0] = x.hi * x.hi;
    x = ff_sub(ff_get(s, 0), ff_get(s, 1));
    s->power[m] = x.hi * x.hi;
    for (k = 1; k < m; ++k) {
        const kws_ff_t zr = ff_get(s, 2 * k), zi = ff_get(s, 2 * k + 1);
        const kws_ff_t cr = ff_get(s, 2 * (m - k)), ci_neg = ff_get(s, 2 * (m - k) + 1);
        const kws_ff_t er = ff_half(ff_add(zr, cr)), ei = ff_half(ff_sub(zi, ci_neg));
        const kws_ff_t or_ = ff_half(ff_add(zi, ci_neg)), oi = ff_half(ff_sub(cr, zr));
        const kws_ff_t c = twiddle_cos(s, k), sn = twiddle_sin(s, k);
        const kws_ff_t xr = ff_add(er, ff_add(ff_mul(c, or_), ff_mul(sn, oi)));
        const kws_ff_t xi = ff_add(ei, ff_sub(ff_mul(c, oi), ff_mul(sn, or_)));
        /* Each bin is now right to ~1e-7 of itself: float is enough from here on. */
        s->power[k] = xr.hi * xr.hi + xi.hi * xi.hi;
    }
}
#else /* plain float */
static void load_frame(kws_mfcc_state_t *s, const int16_t *pcm, int available)
{
    int i;
    for (i = 0; i < available; ++i)
        s->fft[i] = (float)pcm[i] * s->window[i];
    for (; i < s->fft_size; ++i) /* the rest of the window, then the FFT's zero padding */
        s->fft[i] = 0.0f;
}

/* In-place radix-2 decimation-in-time FFT of the fft_size / 2 complex values packed in
 * s->fft (re, im interleaved). Twiddle exp(-2 pi i k / len) is table entry k * fft_size / len. */
static void complex_fft(kws_mfcc_state_t *s)
{
    float *a = s->fft;
    const int n = s->fft_size, m = n / 2;
    int i, j, bit, len;

    for (i = 1, j = 0; i < m; ++i) { /* bit-reversed order */
        for (bit = m >> 1; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float t = a[2 * i];
            a[2 * i] = a[2 * j];
            a[2 * j] = t;
            t = a[2 * i + 1];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j + 1] = t;
        }
    }
    for (len = 2; len <= m; len <<= 1) {
        const int half = len / 2, step = n / len;
        int k, start;
        for (k = 0; k < half; ++k) {
            const float wr = s->cos_table[k * step], wi = -s->sin_table[k * step];
            for (start = k; start < m; start += len) {
                float *p = a + 2 * start, *q = a + 2 * (start + half);
                const float tr = wr * q[0] - wi * q[1];
                const float ti = wr * q[1] + wi * q[0];
                q[0] = p[0] - tr;
                q[1] = p[1] - ti;
                p[0] += tr;
                p[1] += ti;
            }
        }
    }
}

/* |X[k]|^2 for k = 0..fft_size/2 of the real signal in s->fft. The signal was transformed as
 * z[t] = x[2t] + i x[2t+1]; its even and odd halves are separated from Z[k] and
 * conj(Z[m-k]) and recombined with the twiddle exp(-2 pi i k / fft_size). */
static void power_spectrum(kws_mfcc_state_t *s)
{
    const float *a = s->fft;
    const int m = s->fft_size / 2;
    int k;

    s->power[0] = (a[0] + a[1]) * (a[0] + a[1]); /* DC and Nyquist are real */
    s->power[m] = (a[0] - a[1]) * (a[0] - a[1]);
    for (k = 1; k < m; ++k) {
        const float zr = a[2 * k], zi = a[2 * k + 1];
        const float cr = a[2 * (m - k)], ci = -a[2 * (m - k) + 1]; /* conj(Z[m - k]) */
        const float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);  /* even samples' DFT */
        const float or_ = 0.5f * (zi - ci), oi = -0.5f * (zr - cr); /* odd samples' DFT */
        const float c = s->cos_table[k], sn = s->sin_table[k];
        const float xr = er + c * or_ + sn * oi;
        const float xi = ei + c * oi - sn * or_;
        s->power[k] = xr * xr + xi * xi;
    }
}
#endif

/* One frame from `available` samples at pcm (0..window_size; the rest are zeros, as the
 * clip's padding), into out[dct_count]. */
static void compute_frame(kws_mfcc_state_t *s, const int16_t *pcm, int available, float *out)
{
    const kws_mfcc_config_t *c = &s->config;
    int i, j;

    load_frame(s, pcm, available);
    complex_fft(s);
    power_spectrum(s);

    /* Filterbank over magnitudes (TF takes sqrt of the squared-magnitude spectrogram). */
    for (j = 0; j < c->channel_count; ++j)
        s->mel[j] = 0.0f;
    for (i = s->start_bin; i <= s->end_bin; ++i) {
        const float magnitude = sqrtf(s->power[i]);
        const float falling = magnitude * s->weight[i];
        const int band = s->band[i];
        if (band >= 0)
            s->mel[band] += falling;
        if (band + 1 < c->channel_count)
            s->mel[band + 1] += magnitude - falling;
    }
    for (j = 0; j < c->channel_count; ++j)
        s->mel[j] = s->mel[j] < KWS_FILTERBANK_FLOOR ? KWS_LOG_FLOOR : logf(s->mel[j]);

    /* DCT with a compensated (Kahan) sum: the log energies are large (down to -27.6 for
     * silence) and of one sign, so a plain float sum would lose ~1e-4 on coefficient 0,
     * which TF (summing in double) does not. Costs 4 more adds per term. */
    for (i = 0; i < c->dct_count; ++i) {
        float sum = 0.0f, carry = 0.0f;
        for (j = 0; j < c->channel_count; ++j) {
            const float term = s->dct[i][j] * s->mel[j] - carry;
            const float next = sum + term;
            carry = (next - sum) - term;
            sum = next;
        }
        out[i] = sum;
    }
}

void kws_mfcc_frame(kws_mfcc_state_t *s, const int16_t *window_samples, float *out_coefficients)
{
    compute_frame(s, window_samples, s->config.window_size, out_coefficients);
}

/* Frame f of the clip: the clip is pcm[0..n_samples) padded with zeros or truncated to
 * clip_samples (when set), as kws_tf.features.pad_or_trim. */
static void clip_frame(kws_mfcc_state_t *s, const int16_t *pcm, int n_samples, int f,
                       float *out)
{
    const int length = s->config.clip_samples > 0 ? s->config.clip_samples : n_samples;
    const int present = n_samples < length ? n_samples : length;
    const int start = f * s->config.stride;
    int available = present - start;

    if (available > s->config.window_size)
        available = s->config.window_size;
    if (available < 0)
        available = 0;
    compute_frame(s, available > 0 ? pcm + start : pcm, available, out);
}

int kws_mfcc_clip(kws_mfcc_state_t *s, const int16_t *pcm, int n_samples, float *out_map)
{
    const int frames = kws_mfcc_frame_count(s, n_samples);
    int f;

    for (f = 0; f < frames; ++f)
        clip_frame(s, pcm, n_samples, f, out_map + (long)f * s->config.dct_count);
    return frames;
}

int32_t kws_mfcc_quantize(const kws_mfcc_state_t *s, float value)
{
    const float x = value * s->scale; /* exact: a power-of-two scale */
    float fraction;
    int32_t r;

    if (s->config.feature_bits == 0 || x != x) /* no integer map; NaN */
        return 0;
    /* Saturating first is the same as after rounding (the limits are integers) and keeps
     * the conversion to int32 defined. */
    if (x >= s->quant_high)
        return (int32_t)s->quant_high;
    if (x <= s->quant_low)
        return (int32_t)s->quant_low;
    /* Round half to even (np.round, tf.round) without depending on the FP rounding mode.
     * |x| < 2**23 here, so the int conversion (toward zero) and x - floor(x) are exact. */
    r = (int32_t)x;
    if ((float)r > x) /* floor */
        --r;
    fraction = x - (float)r;
    if (fraction > 0.5f || (fraction == 0.5f && (r & 1)))
        ++r;
    return r;
}

/* Frame by frame through s->coefficients, so no float map is needed. */
int kws_mfcc_clip_quantized(kws_mfcc_state_t *s, const int16_t *pcm, int n_samples,
                            int32_t *out_map)
{
    const int frames = kws_mfcc_frame_count(s, n_samples);
    const int count = s->config.dct_count;
    int f, i;

    if (s->config.feature_bits == 0)
        return -1;
    for (f = 0; f < frames; ++f) {
        clip_frame(s, pcm, n_samples, f, s->coefficients);
        for (i = 0; i < count; ++i)
            out_map[(long)f * count + i] = kws_mfcc_quantize(s, s->coefficients[i]);
    }
    return frames;
}

int kws_mfcc_clip_int8(kws_mfcc_state_t *s, const int16_t *pcm, int n_samples, int8_t *out_map)
{
    const int frames = kws_mfcc_frame_count(s, n_samples);
    const int count = s->config.dct_count;
    int f, i;

    if (s->config.feature_bits == 0 || s->config.feature_bits > 8)
        return -1;
    for (f = 0; f < frames; ++f) {
        clip_frame(s, pcm, n_samples, f, s->coefficients);
        for (i = 0; i < count; ++i) /* saturated to <= 8 bits, so the cast is exact */
            out_map[(long)f * count + i] = (int8_t)kws_mfcc_quantize(s, s->coefficients[i]);
    }
    return frames;
}
