/*
 * kws_int.c: the integer graph described by weight.h (see kws_int.h). C99, no library
 * calls, static buffers: 2 maps of kws_act_t, the sums of one position's channels (plus one
 * map of int32_t with KWS_TRACE=1).
 *
 * Every shift follows a ReLU, so it only ever shifts non-negative values; the sum pool's
 * shift is written as a floor for any sign, since >> of a negative value is
 * implementation-defined in C.
 */
#include "kws_int.h"
#include "weight.h"

#ifndef KWS_TRACE
#define KWS_TRACE 0
#endif

const kws_model_t kws_model = {
    KWS_INPUT_H, KWS_INPUT_W, KWS_INPUT_BITS, KWS_INPUT_FRAC_BITS,
    KWS_LABEL_COUNT, KWS_LABELS, KWS_STAGE_COUNT, kws_stages, KWS_MAX_MAP
};

/* floor(value / 2**shift) for any sign: ~value is -value - 1, which is >= 0 when value < 0. */
static int32_t floor_shift(int32_t value, int shift)
{
    return value >= 0 ? value >> shift : ~(~value >> shift);
}

static kws_act_t finish(const kws_stage_t *s, int32_t acc)
{
    if (!s->relu)
        return (kws_act_t)acc;
    return (kws_act_t)(acc > 0 ? acc >> s->shift : 0);
}

/* The kernel rows (or columns) [*first, *last) that fall inside the input for an output whose
   window starts at `origin` (negative in the zero padding): padding is skipped, not
   multiplied. */
static void inside(int origin, int kernel, int size, int *first, int *last)
{
    *first = origin < 0 ? -origin : 0;
    *last = size - origin < kernel ? size - origin : kernel;
}

/* Where the kernel of output position (oy, ox) lies on the input: its top-left corner
   (y0, x0), possibly in the padding, and the kernel rows [ky0, ky1) and columns [kx0, kx1)
   that fall inside the input. */
typedef struct {
    int y0, x0, ky0, ky1, kx0, kx1;
} kws_window_t;

static kws_window_t window_at(const kws_stage_t *s, int oy, int ox)
{
    kws_window_t w;
    w.y0 = oy * s->stride_h - s->pad_top;
    w.x0 = ox * s->stride_w - s->pad_left;
    inside(w.y0, s->kernel_h, s->in_h, &w.ky0, &w.ky1);
    inside(w.x0, s->kernel_w, s->in_w, &w.kx0, &w.kx1);
    return w;
}

/* Standard convolution, weights [out_c][kernel_h][kernel_w][in_c]: for one kernel row, the
   input values it meets (HWC) and its weights are both contiguous. */
static void convolve(const kws_stage_t *s, const kws_act_t *in, kws_act_t *out,
                     int32_t *accs)
{
    for (int oy = 0; oy < s->out_h; ++oy) {
        for (int ox = 0; ox < s->out_w; ++ox) {
            const kws_window_t win = window_at(s, oy, ox);
            const int run = (win.kx1 - win.kx0) * s->in_c;
            for (int oc = 0; oc < s->out_c; ++oc) {
                int32_t acc = s->bias ? s->bias[oc] : 0;
                for (int ky = win.ky0; ky < win.ky1; ++ky) {
                    const kws_act_t *x = in
                        + ((win.y0 + ky) * s->in_w + win.x0 + win.kx0) * s->in_c;
                    const int8_t *w = s->weights
                        + ((oc * s->kernel_h + ky) * s->kernel_w + win.kx0) * s->in_c;
                    for (int i = 0; i < run; ++i)
                        acc += (int32_t)x[i] * w[i];
                }
                const int index = (oy * s->out_w + ox) * s->out_c + oc;
                out[index] = finish(s, acc);
                if (accs)
                    accs[index] = acc;
            }
        }
    }
}

/* Depthwise convolution, weights [kernel_h][kernel_w][channels]: all channels of one output
   position are summed together, over contiguous inputs and weights. */
static void depthwise(const kws_stage_t *s, const kws_act_t *in, kws_act_t *out,
                      int32_t *accs)
{
    static int32_t sums[KWS_MAX_CHANNELS];
    const int channels = s->in_c;
    for (int oy = 0; oy < s->out_h; ++oy) {
        for (int ox = 0; ox < s->out_w; ++ox) {
            const kws_window_t win = window_at(s, oy, ox);
            for (int c = 0; c < channels; ++c)
                sums[c] = s->bias ? s->bias[c] : 0;
            for (int ky = win.ky0; ky < win.ky1; ++ky) {
                for (int kx = win.kx0; kx < win.kx1; ++kx) {
                    const kws_act_t *x = in
                        + ((win.y0 + ky) * s->in_w + win.x0 + kx) * channels;
                    const int8_t *w = s->weights + (ky * s->kernel_w + kx) * channels;
                    for (int c = 0; c < channels; ++c)
                        sums[c] += (int32_t)x[c] * w[c];
                }
            }
            kws_act_t *o = out + (oy * s->out_w + ox) * channels;
            for (int c = 0; c < channels; ++c)
                o[c] = finish(s, sums[c]);
            if (accs)
                for (int c = 0; c < channels; ++c)
                    accs[(oy * s->out_w + ox) * channels + c] = sums[c];
        }
    }
}

static void max_pool(const kws_stage_t *s, const kws_act_t *in, kws_act_t *out)
{
    const int positions = s->in_h * s->in_w;
    for (int c = 0; c < s->in_c; ++c) {
        kws_act_t largest = in[c];
        for (int p = 1; p < positions; ++p)
            if (in[p * s->in_c + c] > largest)
                largest = in[p * s->in_c + c];
        out[c] = largest;
    }
}

static void sum_pool(const kws_stage_t *s, const kws_act_t *in, kws_act_t *out,
                     int32_t *accs)
{
    const int positions = s->in_h * s->in_w;
    for (int c = 0; c < s->in_c; ++c) {
        int32_t sum = 0;
        for (int p = 0; p < positions; ++p)
            sum += in[p * s->in_c + c];
        out[c] = (kws_act_t)floor_shift(sum, s->shift);
        if (accs)
            accs[c] = sum;
    }
}

/* weights [out][in]; the input map is read in its HWC order. */
static void fully_connected(const kws_stage_t *s, const kws_act_t *in, int32_t *logits)
{
    const int inputs = s->in_h * s->in_w * s->in_c;
    for (int o = 0; o < s->out_c; ++o) {
        const int8_t *w = s->weights + o * inputs;
        int32_t acc = s->bias ? s->bias[o] : 0;
        for (int i = 0; i < inputs; ++i)
            acc += (int32_t)in[i] * w[i];
        logits[o] = acc;
    }
}

int kws_int_run(const int8_t *input, int32_t *logits, kws_trace_fn trace, void *context)
{
    static kws_act_t maps[2][KWS_MAX_MAP];
#if KWS_TRACE
    static int32_t trace_accs[KWS_MAX_MAP];
    int32_t *accs = trace ? trace_accs : 0;
#else
    int32_t *accs = 0;
#endif
    int32_t scores[KWS_LABEL_COUNT];
    kws_act_t *in = maps[0], *out = maps[1];

    for (int i = 0; i < KWS_INPUT_H * KWS_INPUT_W; ++i)
        in[i] = input[i];
    for (int i = 0; i < KWS_STAGE_COUNT; ++i) {
        const kws_stage_t *s = &kws_stages[i];
        switch (s->kind) {
        case KWS_CONV:
            convolve(s, in, out, accs);
            break;
        case KWS_DEPTHWISE:
            depthwise(s, in, out, accs);
            break;
        case KWS_MAX_POOL:
            max_pool(s, in, out);
            break;
        case KWS_SUM_POOL:
            sum_pool(s, in, out, accs);
            break;
        default: /* KWS_FC, the last stage */
            fully_connected(s, in, scores);
            break;
        }
        if (trace) {
            if (s->kind == KWS_FC)
                trace(context, i, scores, 0);
            else
                trace(context, i, s->kind == KWS_MAX_POOL ? 0 : accs, out);
        }
        kws_act_t *swap = in;
        in = out;
        out = swap;
    }
    int best = 0;
    for (int k = 0; k < KWS_LABEL_COUNT; ++k) {
        if (scores[k] > scores[best])
            best = k;
        if (logits)
            logits[k] = scores[k];
    }
    return best;
}
