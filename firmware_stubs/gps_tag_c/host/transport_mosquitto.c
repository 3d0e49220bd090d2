#define _POSIX_C_SOURCE 200809L
#include "transport_mosquitto.h"

#include <mosquitto.h>
#include <string.h>
#include <time.h>

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    struct pa_mosq *m = obj;
    m->connack = rc;
    m->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)rc;
    ((struct pa_mosq *)obj)->connected = false;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    struct pa_mosq *m = obj;
    if (mid == m->waiting_mid)
        m->acked = true;
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
    (void)mosq;
    (void)qos_count;
    struct pa_mosq *m = obj;
    if (mid == m->waiting_mid && granted[0] != 0x80)
        m->acked = true;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    struct pa_mosq *m = obj;
    if (m->t->on_message)
        m->t->on_message(m->t->user, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static void drop(struct pa_mosq *m)
{
    if (m->mosq) {
        mosquitto_destroy(m->mosq); /* also forgets unacked messages: the tag's ring resends them */
        m->mosq = NULL;
    }
    m->connected = false;
}

/* Runs the network loop until *flag or the timeout; -1 when the connection is lost. */
static int pump(struct pa_mosq *m, const bool *flag)
{
    double deadline = mono_ms() + m->timeout_ms;
    while (!*flag) {
        if (mono_ms() > deadline || mosquitto_loop(m->mosq, 20, 1) != MOSQ_ERR_SUCCESS) {
            drop(m);
            return -1;
        }
    }
    return 0;
}

static int t_connect(void *ctx, const struct pa_connect_opts *o)
{
    struct pa_mosq *m = ctx;
    drop(m);
    m->mosq = mosquitto_new(o->client_id, o->clean_session, m);
    if (!m->mosq)
        return -1;
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
    mosquitto_message_callback_set(m->mosq, on_message);
    if (o->username && mosquitto_username_pw_set(m->mosq, o->username, o->password) != MOSQ_ERR_SUCCESS)
        return -1;
    if (o->will.topic && mosquitto_will_set(m->mosq, o->will.topic, (int)strlen(o->will.payload), o->will.payload,
                                            o->will.qos, o->will.retain) != MOSQ_ERR_SUCCESS)
        return -1;
    m->connack = -1;
    m->connected = false;
    if (mosquitto_connect(m->mosq, o->host, o->port, o->keepalive_s) != MOSQ_ERR_SUCCESS) {
        drop(m);
        return -2;
    }
    double deadline = mono_ms() + m->timeout_ms;
    while (m->connack < 0) {
        if (mono_ms() > deadline || mosquitto_loop(m->mosq, 20, 1) != MOSQ_ERR_SUCCESS) {
            drop(m);
            return -3;
        }
    }
    if (m->connack != 0) { /* 4: bad username or password, 5: not authorised */
        int rc = m->connack;
        drop(m);
        return -10 - rc;
    }
    return 0;
}

static int t_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos, bool retain)
{
    struct pa_mosq *m = ctx;
    int mid = 0;
    if (!m->mosq || !m->connected)
        return -1;
    m->acked = false;
    m->waiting_mid = -1;
    if (mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, qos, retain) != MOSQ_ERR_SUCCESS) {
        drop(m);
        return -1;
    }
    if (qos == 0)
        return mosquitto_loop(m->mosq, 0, 1) == MOSQ_ERR_SUCCESS ? 0 : -1;
    m->waiting_mid = mid;
    return pump(m, &m->acked);
}

static int t_subscribe(void *ctx, const char *topic, int qos)
{
    struct pa_mosq *m = ctx;
    int mid = 0;
    if (!m->mosq || !m->connected)
        return -1;
    m->acked = false;
    m->waiting_mid = -1;
    if (mosquitto_subscribe(m->mosq, &mid, topic, qos) != MOSQ_ERR_SUCCESS) {
        drop(m);
        return -1;
    }
    m->waiting_mid = mid;
    return pump(m, &m->acked);
}

static int t_loop(void *ctx, int timeout_ms)
{
    struct pa_mosq *m = ctx;
    if (!m->mosq || !m->connected)
        return -1;
    if (mosquitto_loop(m->mosq, timeout_ms, 1) != MOSQ_ERR_SUCCESS || !m->connected) {
        drop(m);
        return -1;
    }
    return 0;
}

static void t_disconnect(void *ctx)
{
    struct pa_mosq *m = ctx;
    if (m->mosq && m->connected) {
        mosquitto_disconnect(m->mosq);
        mosquitto_loop(m->mosq, 50, 1);
    }
    drop(m);
}

void pa_mosq_transport(struct pa_transport *t, struct pa_mosq *m)
{
    memset(m, 0, sizeof *m);
    m->t = t;
    m->timeout_ms = 5000;
    memset(t, 0, sizeof *t);
    t->ctx = m;
    t->connect = t_connect;
    t->publish = t_publish;
    t->subscribe = t_subscribe;
    t->loop = t_loop;
    t->disconnect = t_disconnect;
}

void pa_mosq_cleanup(struct pa_mosq *m)
{
    drop(m);
}
