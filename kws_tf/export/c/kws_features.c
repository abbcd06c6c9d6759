/*
 * kws_features.c: the MFCC front end (kws_mfcc) set up with the model's settings
 * (kws_features.h) and the integer graph's input scale and width (kws_model).
 */
#include "kws_features.h"

#include "kws_int.h"

/* The front end's tables and work buffers (see kws_mfcc.h for their size). */
static kws_mfcc_state_t state;

int kws_features_init(void)
{
    kws_mfcc_config_t config;
    kws_mfcc_default_config(&config, KWS_SAMPLE_RATE, 1.0f, 1.0f, KWS_COEFFICIENTS);
    config.window_size = KWS_WINDOW_SAMPLES;
    config.stride = KWS_STRIDE_SAMPLES;
    config.clip_samples = KWS_CLIP_SAMPLES;
    config.feature_bits = kws_model.input_bits;
    config.feature_frac_bits = kws_model.input_frac_bits;
    return kws_mfcc_init(&state, &config);
}

void kws_features_int8(const int16_t *pcm, int8_t *map)
{
    kws_mfcc_clip_int8(&state, pcm, KWS_CLIP_SAMPLES, map);
}
