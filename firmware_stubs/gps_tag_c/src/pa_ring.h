/* Fixed-size offline buffer: messages kept, byte for byte, until the broker acked them. */
#ifndef PA_RING_H
#define PA_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PA_RING_SIZE
#define PA_RING_SIZE 64
#endif
#define PA_PAYLOAD_MAX 256

struct pa_entry {
    uint8_t channel; /* enum pa_channel */
    bool critical;   /* sos, sos_cancel: evicted last */
    uint32_t seq;
    uint16_t len;
    char payload[PA_PAYLOAD_MAX];
};

struct pa_ring {
    struct pa_entry items[PA_RING_SIZE];
    size_t head, count, capacity;
    uint32_t dropped; /* evicted because the buffer was full; reported in the heartbeat */
};

void pa_ring_init(struct pa_ring *r, size_t capacity);
/* Appends; when full, evicts the oldest non-critical entry (the oldest if all are critical). */
void pa_ring_push(struct pa_ring *r, const struct pa_entry *e);
struct pa_entry *pa_ring_peek(struct pa_ring *r);
void pa_ring_pop(struct pa_ring *r);

#endif
