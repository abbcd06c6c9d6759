/*
 * kws_int: the bias-free floor-shift integer DS-CNN of kws_tf, in dependency-free C99.
 *
 * The graph, weights and shifts come from weight.h (written by quant_test.py
 * --export_dir); kws_int.c includes it. Arithmetic: int8 weights, int32 accumulators,
 * ReLU, arithmetic right shifts (floor), max, argmax: nothing else, so the results are
 * bit for bit those of kws_tf's numpy and TensorFlow integer graphs (a test checks it).
 *
 * Maps are stored HWC: index (row * width + column) * channels + channel, rows being
 * time steps and columns MFCC coefficients / frequency positions.
 *
 * Activations are stored as kws_act_t, int32_t unless KWS_ACT_T is defined when
 * compiling kws_int.c: -DKWS_ACT_T=int16_t halves the buffers when analysis.txt shows
 * that every output fits 15 bits. The type must be signed, as the input map is held in it
 * too. Nothing saturates: a value that does not fit is converted as the compiler converts
 * it (GCC, Clang and Arm's keep the low bits), as a datapath of that width would overflow.
 * Define KWS_TRACE=1 to also hand every stage's accumulators to the trace callback
 * (costs one more map of RAM).
 */
#ifndef KWS_INT_H
#define KWS_INT_H

#include <stdint.h>

#ifndef KWS_ACT_T
#define KWS_ACT_T int32_t
#endif
typedef KWS_ACT_T kws_act_t;

enum kws_kind {
    KWS_CONV = 0,      /* convolution, standard or 1x1 pointwise */
    KWS_DEPTHWISE = 1, /* depthwise convolution, one filter per channel */
    KWS_MAX_POOL = 2,  /* global max pool */
    KWS_SUM_POOL = 3,  /* global sum pool, then >> shift (an average pool, rescaled) */
    KWS_FC = 4         /* fully connected: logits = accumulators, bias included */
};

typedef struct {
    const char *name;
    int kind;                        /* enum kws_kind */
    int in_h, in_w, in_c;            /* input map: rows (time), columns, channels */
    int out_h, out_w, out_c;
    int kernel_h, kernel_w, stride_h, stride_w;
    int pad_top, pad_left;           /* zeros before the first row / column */
    const int8_t *weights;           /* layout: see weight.h; NULL for pools */
    const int32_t *bias;             /* accumulator units; NULL when the stage has none */
    int relu;                        /* 1: ReLU then >> shift */
    int shift;
} kws_stage_t;

typedef struct {
    int input_h, input_w;            /* frames x MFCC coefficients */
    int input_bits, input_frac_bits; /* input = round(mfcc * 2**input_frac_bits), saturated */
    int label_count;
    const char *const *labels;
    int stage_count;
    const kws_stage_t *stages;
    int max_map;                     /* values in the largest map: the buffers' size */
} kws_model_t;

/* The model of weight.h (defined in kws_int.c). */
extern const kws_model_t kws_model;

/*
 * Called after every stage: acc holds its accumulators before ReLU and shift (NULL for a
 * max pool, and always NULL unless built with KWS_TRACE=1), out its outputs (for the FC
 * stage the logits, int32, passed as acc and with out NULL). Both HWC.
 */
typedef void (*kws_trace_fn)(void *context, int stage, const int32_t *acc,
                             const kws_act_t *out);

/*
 * Runs the graph on one input map (input_h x input_w values, frames as rows) and returns
 * the index of the largest logit (the first one on ties). logits: NULL or room for
 * label_count values. trace: NULL or a callback. Not reentrant: it uses static buffers.
 */
int kws_int_run(const int8_t *input, int32_t *logits, kws_trace_fn trace, void *context);

#endif /* KWS_INT_H */
