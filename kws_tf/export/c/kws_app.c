/*
 * kws_app: the whole chain on a device or a host. Each wav file named on the command line is
 * read (kws_wav), turned into the model's integer feature map (kws_mfcc) and run through the
 * integer graph (kws_int); one line per file:
 *
 *   <path> <label> <logit 0> <logit 1> ...
 *
 * the logits being the FC accumulators, as quant_test.py's integer graph computes them.
 * An argument @LIST names a file that lists wav files, one per line (a semihosting command
 * line is short). With --features first, it prints each file's integer feature map instead:
 * "<path> <value> ...", frames first, as `python -m kws_tf.features --quantize_bits` does.
 * Built with -DKWS_PROFILE=1 (the Cortex-M4 image is), it also prints per file on stderr
 * "profile <path> mfcc <ticks> <stage> <ticks> ...": SysTick ticks of the processor clock
 * spent in each part (under QEMU with -icount shift=0, one tick is 40 instructions).
 * Exit status: 0, or 1 when a file could not be read (its line says why, on stderr).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kws_features.h"
#include "kws_int.h"
#include "kws_mfcc.h"
#include "kws_wav.h"

#ifndef KWS_PROFILE
#define KWS_PROFILE 0
#endif

#if KWS_PROFILE
#define SYST_CSR (*(volatile unsigned long *)0xE000E010u)
#define SYST_RVR (*(volatile unsigned long *)0xE000E014u)
#define SYST_CVR (*(volatile unsigned long *)0xE000E018u)

static unsigned long last_tick;
static unsigned long stage_ticks[64];

/* SysTick counts down from 2**24 - 1 on the processor clock; the ticks since the last call. */
static unsigned long ticks_since_last(void)
{
    unsigned long now = SYST_CVR, elapsed = (last_tick - now) & 0xFFFFFFu;
    last_tick = now;
    return elapsed;
}

static void start_clock(void)
{
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enabled, processor clock, no interrupt */
    last_tick = SYST_CVR;
}

static void profile_stage(void *context, int stage, const int32_t *acc, const kws_act_t *out)
{
    (void)context, (void)acc, (void)out;
    stage_ticks[stage] = ticks_since_last();
}
#define PROFILE_TRACE profile_stage

static void print_profile(const char *path, unsigned long mfcc_ticks)
{
    fprintf(stderr, "profile %s mfcc %lu", path, mfcc_ticks);
    for (int s = 0; s < kws_model.stage_count; ++s)
        fprintf(stderr, " %s %lu", kws_model.stages[s].name, stage_ticks[s]);
    fprintf(stderr, "\n");
}

/* The stack's high-water mark below main: STACK_PAINT bytes under main's frame are painted
   with a pattern first; the lowest word no longer holding it is as deep as the stack went.
   (newlib's start-up places the stack where the semihosting host says, not at the end of
   the linker script's RAM, so the painted range is taken from the stack pointer.) */
#define STACK_PATTERN 0xA5A5A5A5u
#define STACK_PAINT 65536u
static volatile uint32_t *paint_low, *paint_high;

static void paint_stack(void)
{
    volatile uint32_t here = 0;
    /* 256 bytes below this frame, clear of it */
    paint_high = (volatile uint32_t *)((uintptr_t)&here - 256u);
    paint_low = paint_high - STACK_PAINT / sizeof(uint32_t);
    for (volatile uint32_t *word = paint_low; word < paint_high; ++word)
        *word = STACK_PATTERN;
}

static void print_stack_use(void)
{
    volatile uint32_t *word = paint_low;
    while (word < paint_high && *word == STACK_PATTERN)
        ++word;
    fprintf(stderr, "stack %lu bytes used below main\n",
            (unsigned long)((uintptr_t)paint_high - (uintptr_t)word));
}
#else
/* Without profiling the timing calls cost nothing. */
#define PROFILE_TRACE 0
static void start_clock(void) {}
static unsigned long ticks_since_last(void) { return 0; }
static void print_profile(const char *path, unsigned long mfcc_ticks)
{
    (void)path, (void)mfcc_ticks;
}
static void paint_stack(void) {}
static void print_stack_use(void) {}
#endif

static int16_t pcm[KWS_CLIP_SAMPLES];
static int8_t features[KWS_FRAMES * KWS_COEFFICIENTS];

static void print_features(const char *path)
{
    printf("%s", path);
    for (int i = 0; i < KWS_FRAMES * KWS_COEFFICIENTS; ++i)
        printf(" %d", features[i]);
    printf("\n");
}

static int label_file(const char *path, int features_only)
{
    char error[128];
    int32_t logits[KWS_OUTPUTS];
    unsigned long mfcc_ticks;
    int best;
    if (kws_wav_read(path, KWS_SAMPLE_RATE, pcm, KWS_CLIP_SAMPLES, error) < 0) {
        fprintf(stderr, "error: %s\n", error);
        return 1;
    }
    start_clock();
    kws_features_int8(pcm, features);
    mfcc_ticks = ticks_since_last();
    if (features_only) {
        print_features(path);
        return 0;
    }
    best = kws_int_run(features, logits, PROFILE_TRACE, 0);
    printf("%s %s", path, kws_model.labels[best]);
    for (int i = 0; i < kws_model.label_count; ++i)
        printf(" %ld", (long)logits[i]);
    printf("\n");
    print_profile(path, mfcc_ticks);
    return 0;
}

/* Labels the files listed in `list`, one path per line. */
static int label_list(const char *list, int features_only)
{
    char path[1024];
    int failed = 0;
    FILE *file = fopen(list, "r");
    if (!file) {
        fprintf(stderr, "error: %s: cannot open the list of wav files\n", list);
        return 1;
    }
    while (fgets(path, sizeof path, file)) {
        path[strcspn(path, "\r\n")] = 0;
        if (path[0])
            failed |= label_file(path, features_only);
    }
    fclose(file);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0, first = 1, features_only = argc > 1 && !strcmp(argv[1], "--features");
    if (argc < 2 + features_only) {
        fprintf(stderr, "usage: %s [--features] FILE.wav [FILE.wav ...]\n", argv[0]);
        return 2;
    }
    first += features_only;
    paint_stack();
    if (kws_features_init() != KWS_MFCC_OK) {
        fprintf(stderr, "error: the feature settings of kws_features.h are out of range\n");
        return 2;
    }
    for (int i = first; i < argc; ++i)
        failed |= argv[i][0] == '@' ? label_list(argv[i] + 1, features_only)
                                    : label_file(argv[i], features_only);
    print_stack_use();
    return failed;
}
