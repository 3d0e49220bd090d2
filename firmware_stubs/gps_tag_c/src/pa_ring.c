#include "pa_ring.h"

#include <string.h>

void pa_ring_init(struct pa_ring *r, size_t capacity)
{
    memset(r, 0, sizeof *r);
    r->capacity = (capacity == 0 || capacity > PA_RING_SIZE) ? PA_RING_SIZE : capacity;
}

static struct pa_entry *at(struct pa_ring *r, size_t i)
{
    return &r->items[(r->head + i) % PA_RING_SIZE];
}

void pa_ring_push(struct pa_ring *r, const struct pa_entry *e)
{
    if (r->count >= r->capacity) {
        size_t victim = 0;
        for (size_t i = 0; i < r->count; i++) {
            if (!at(r, i)->critical) {
                victim = i;
                break;
            }
        }
        for (size_t i = victim; i + 1 < r->count; i++)
            *at(r, i) = *at(r, i + 1);
        r->count--;
        r->dropped++;
    }
    *at(r, r->count) = *e;
    r->count++;
}

struct pa_entry *pa_ring_peek(struct pa_ring *r)
{
    return r->count ? at(r, 0) : NULL;
}

void pa_ring_pop(struct pa_ring *r)
{
    if (!r->count)
        return;
    r->head = (r->head + 1) % PA_RING_SIZE;
    r->count--;
}
