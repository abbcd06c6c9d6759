/*
 * kws_wav.c: a RIFF/WAVE reader for 16-bit PCM mono (see kws_wav.h). Chunks other than
 * "fmt " and "data" are skipped, as tf.audio.decode_wav does for the common ones.
 */
#include "kws_wav.h"

#include <stdio.h>
#include <string.h>

static unsigned long le(const unsigned char *bytes, int count)
{
    unsigned long value = 0;
    for (int i = count - 1; i >= 0; --i)
        value = (value << 8) | bytes[i];
    return value;
}

static long fail(FILE *file, char *error, const char *path, const char *reason)
{
    if (file)
        fclose(file);
    snprintf(error, 128, "%s: %s", path, reason);
    return -1;
}

/* Reads the format chunk: 0 when it is PCM, mono, 16 bits, at sample_rate. */
static int check_format(const unsigned char *fmt, unsigned long size, long sample_rate)
{
    return size >= 16 && le(fmt, 2) == 1 && le(fmt + 2, 2) == 1
        && (long)le(fmt + 4, 4) == sample_rate && le(fmt + 14, 2) == 16 ? 0 : -1;
}

static long read_samples(FILE *file, unsigned long size, int16_t *pcm, long capacity)
{
    long count = 0;
    unsigned char bytes[2];
    while ((unsigned long)count * 2 + 1 < size && count < capacity
           && fread(bytes, 1, 2, file) == 2)
        pcm[count++] = (int16_t)(uint16_t)le(bytes, 2);
    for (long i = count; i < capacity; ++i)
        pcm[i] = 0;
    return count;
}

long kws_wav_read(const char *path, long sample_rate, int16_t *pcm, long capacity,
                  char *error)
{
    FILE *file = fopen(path, "rb");
    unsigned char header[12], chunk[8], fmt[40];
    int format_ok = 0;
    if (!file)
        return fail(0, error, path, "cannot open the file");
    if (fread(header, 1, 12, file) != 12 || memcmp(header, "RIFF", 4)
        || memcmp(header + 8, "WAVE", 4))
        return fail(file, error, path, "not a RIFF/WAVE file");
    while (fread(chunk, 1, 8, file) == 8) {
        unsigned long size = le(chunk + 4, 4);
        if (!memcmp(chunk, "fmt ", 4)) {
            unsigned long keep = size < sizeof fmt ? size : sizeof fmt;
            if (fread(fmt, 1, keep, file) != keep || fseek(file, (long)(size - keep), SEEK_CUR))
                return fail(file, error, path, "truncated format chunk");
            if (check_format(fmt, size, sample_rate))
                return fail(file, error, path, "not 16-bit PCM mono at the model's rate");
            format_ok = 1;
            if (size & 1)
                fseek(file, 1, SEEK_CUR);
        } else if (!memcmp(chunk, "data", 4)) {
            long count;
            if (!format_ok)
                return fail(file, error, path, "no format chunk before the data");
            count = read_samples(file, size, pcm, capacity);
            fclose(file);
            return count;
        } else if (fseek(file, (long)(size + (size & 1)), SEEK_CUR)) {
            return fail(file, error, path, "truncated chunk");
        }
    }
    return fail(file, error, path, "no data chunk");
}
