/*
 * kws_wav: reads the 16-bit PCM mono wav files the models are trained on, with stdio only (on
 * the Cortex-M4 image, stdio reaches the host's files through semihosting).
 */
#ifndef KWS_WAV_H
#define KWS_WAV_H

#include <stdint.h>

/*
 * Reads up to `capacity` samples of `path` into `pcm` and zero-fills the rest, as training
 * pads a short clip and trims a long one. Returns the samples the file holds (>= 0), or -1
 * with a one-line reason in `error` (room for 128 characters) when the file is missing or is
 * not 16-bit PCM mono at `sample_rate` Hz.
 */
long kws_wav_read(const char *path, long sample_rate, int16_t *pcm, long capacity,
                  char *error);

#endif /* KWS_WAV_H */
