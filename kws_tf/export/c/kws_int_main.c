/*
 * kws_int_main: runs kws_int on input maps read from standard input, to check an
 * implementation against it or to time it. Not needed on the device.
 *
 *   cc -std=c99 -O2 -DKWS_TRACE=1 kws_int.c kws_int_main.c -o kws_int
 *   ./kws_int < inputs.txt        every stage's values, for each input
 *   ./kws_int -t 100 < inputs.txt microseconds per run, each input run 100 times
 *
 * inputs.txt: whitespace-separated integers, input_h * input_w per map (frames first, as
 * in examples/N.txt), any number of maps. For each map the output has one line per stage
 * and kind of value, "<stage> acc v v ..." (with KWS_TRACE=1) and "<stage> out v v ...",
 * maps in the order of examples/N.txt (channel by channel, rows first), the FC stage's
 * logits as "<stage> acc", then "prediction <index> <label>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kws_int.h"

static void print_map(const char *name, const char *what, const kws_stage_t *s,
                      const int32_t *accs, const kws_act_t *outs)
{
    const int h = s->kind == KWS_FC ? 1 : s->out_h, w = s->kind == KWS_FC ? 1 : s->out_w;
    printf("%s %s", name, what);
    for (int c = 0; c < s->out_c; ++c)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const int i = (y * w + x) * s->out_c + c;
                printf(" %ld", accs ? (long)accs[i] : (long)outs[i]);
            }
    printf("\n");
}

static void print_stage(void *context, int stage, const int32_t *acc, const kws_act_t *out)
{
    const kws_stage_t *s = &kws_model.stages[stage];
    (void)context;
    if (acc)
        print_map(s->name, "acc", s, acc, 0);
    if (out)
        print_map(s->name, "out", s, 0, out);
}

int main(int argc, char **argv)
{
    const int size = kws_model.input_h * kws_model.input_w;
    long repeat = 0;
    if (argc == 3 && strcmp(argv[1], "-t") == 0)
        repeat = strtol(argv[2], 0, 10);
    if (argc != 1 && repeat <= 0) {
        fprintf(stderr, "usage: %s [-t REPEAT] < inputs.txt\n", argv[0]);
        return 2;
    }
    int capacity = 64, count = 0, got = 1;
    int8_t *inputs = malloc((size_t)capacity * size);
    while (inputs && got == 1) {
        long value;
        int i = 0;
        if (count == capacity) {
            capacity *= 2;
            inputs = realloc(inputs, (size_t)capacity * size);
            if (!inputs)
                break;
        }
        while (i < size && (got = scanf("%ld", &value)) == 1)
            inputs[(size_t)count * size + i++] = (int8_t)value;
        if (got == 0) {
            fprintf(stderr, "error: input %d: not an integer\n", count);
            return 2;
        }
        if (i > 0 && i < size) {
            fprintf(stderr, "error: input %d has %d values, expected %d\n", count, i, size);
            return 2;
        }
        count += i == size;
    }
    if (!inputs) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    if (!repeat) {
        for (int n = 0; n < count; ++n) {
            const int best = kws_int_run(inputs + (size_t)n * size, 0, print_stage, 0);
            printf("prediction %d %s\n", best, kws_model.labels[best]);
        }
        return 0;
    }
    volatile int sink = 0;
    const clock_t start = clock();
    for (long r = 0; r < repeat; ++r)
        for (int n = 0; n < count; ++n)
            sink += kws_int_run(inputs + (size_t)n * size, 0, 0, 0);
    const double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("%.3f microseconds per run (%ld runs)\n",
           seconds * 1e6 / ((double)repeat * count), repeat * count);
    return sink < 0;
}
