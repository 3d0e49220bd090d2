/* Ping'an GPS tag: protocol v1 device logic, free of any OS or MQTT library.
 *
 * Time, the MQTT transport and the board (GPS receiver, battery gauge, buzzer, log) are
 * injected, so the same code runs on an MCU and in host tests on a virtual clock.
 * Call pa_tag_tick() often (every 100 ms to 1 s) with the current Unix time (UTC).
 */
#ifndef PA_GPS_TAG_H
#define PA_GPS_TAG_H

#include <stdbool.h>
#include <stdint.h>

#include "pa_ring.h"
#include "pa_transport.h"

#define PA_TOPIC_MAX 128

enum pa_channel { PA_CH_HEARTBEAT, PA_CH_EVENT, PA_CH_GPS, PA_CH_STATUS, PA_CH_CMD, PA_CH_COUNT };

struct pa_fix {
    double lat, lon; /* WGS-84, as the GPS module reports them */
    double acc;      /* accuracy radius, metres */
    double speed;    /* m/s */
};

struct pa_board {
    void *ctx;
    bool (*read_fix)(void *ctx, struct pa_fix *out); /* false: no fix (indoors, cold start) */
    int (*battery)(void *ctx);                        /* percent 0..100, < 0 unknown */
    void (*indicate)(void *ctx, const char *what, const char *detail); /* buzzer/vibration */
    void (*log)(void *ctx, const char *line);
};

struct pa_tag_config {
    const char *device_id;
    const char *root;     /* "pingan/v1" */
    const char *host;
    int port;
    const char *username; /* per-device credentials: username = device id */
    const char *password;
    const char *fw;
    int keepalive_s;      /* 60 */
    int heartbeat_s;      /* 300; the hub may change it with {"cmd":"config","heartbeat_s":N} */
    int fix_moving_s;     /* 30: fix interval while moving */
    int fix_still_s;      /* 300: fix interval while still */
    int fix_retry_s;      /* 60: retry after no fix */
    double moving_speed;  /* 0.5 m/s: at or above is moving */
    double moving_dist_m; /* 25 m from the last fix: moving */
    int low_battery;      /* 15 %: at or below, fix intervals are doubled */
    int sos_cancel_s;     /* 30 */
    int buffer_size;      /* <= PA_RING_SIZE */
};

void pa_tag_config_defaults(struct pa_tag_config *cfg);

struct pa_tag {
    struct pa_tag_config cfg;
    struct pa_transport *tr;
    struct pa_board *board;
    char topic[PA_CH_COUNT][PA_TOPIC_MAX];
    uint32_t seq;
    double now; /* time of the last tick */
    bool connected;
    double next_reconnect, next_heartbeat, next_fix;
    int backoff;
    bool have_fix, moving;
    struct pa_fix last_fix;
    double sos_at; /* < 0: no SOS to cancel */
    char last_alert[17];
    unsigned acks;
    struct pa_ring ring;
};

/* 0 on success, -1 on a bad device id or config. */
int pa_tag_init(struct pa_tag *tag, const struct pa_tag_config *cfg, struct pa_transport *tr,
                struct pa_board *board, double now);
void pa_tag_tick(struct pa_tag *tag, double now);
void pa_tag_sos(struct pa_tag *tag, double now);
bool pa_tag_sos_cancel(struct pa_tag *tag, double now); /* false outside the window */
/* Publish offline retained and disconnect (a power-off, not a crash). */
void pa_tag_shutdown(struct pa_tag *tag);
/* Exposed for tests and the host program. */
size_t pa_tag_buffered(const struct pa_tag *tag);

#endif
