/* Ping'an GPS tag: the MQTT transport the device logic runs on.
 *
 * A small, synchronous interface in the style of Paho Embedded C / umqtt, so the same
 * logic runs over an MCU MQTT stack (fill the struct with that stack's calls) and over
 * libmosquitto on a host (host/transport_mosquitto.c).
 *
 * Contract:
 *  - connect() blocks until CONNACK (or failure) and starts from a clean local state: the
 *    transport never retransmits a message of an earlier connection by itself; the tag's
 *    offline ring buffer owns retransmission.
 *  - publish() with qos 1 returns 0 only once the broker acknowledged (PUBACK).
 *  - subscribe() returns 0 once SUBACK arrived.
 *  - loop() runs network I/O for up to timeout_ms, keeps the connection alive (PINGREQ)
 *    and delivers incoming messages through on_message.
 *  - every call returns < 0 when the connection is (or turns out to be) lost.
 */
#ifndef PA_TRANSPORT_H
#define PA_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

struct pa_will {
    const char *topic;
    const char *payload;
    int qos;
    bool retain;
};

struct pa_connect_opts {
    const char *client_id;
    const char *host;
    int port;
    const char *username; /* per-device credentials: the device id */
    const char *password;
    int keepalive_s;
    bool clean_session; /* false: the broker keeps our cmd subscription and queued cmds */
    struct pa_will will;
};

typedef void (*pa_message_fn)(void *user, const char *topic, const void *payload, size_t len);

struct pa_transport {
    void *ctx;
    int (*connect)(void *ctx, const struct pa_connect_opts *opts);
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t len, int qos, bool retain);
    int (*subscribe)(void *ctx, const char *topic, int qos);
    int (*loop)(void *ctx, int timeout_ms);
    void (*disconnect)(void *ctx);
    /* Set by the device logic (pa_tag_init): where incoming messages go. */
    pa_message_fn on_message;
    void *user;
};

#endif
