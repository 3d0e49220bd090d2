#include "gps_tag.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const CHANNEL_NAMES[PA_CH_COUNT] = {"heartbeat", "event", "gps", "status", "cmd"};
static const char ONLINE[] = "{\"state\":\"online\"}";
static const char OFFLINE[] = "{\"state\":\"offline\"}";

void pa_tag_config_defaults(struct pa_tag_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->root = "pingan/v1";
    cfg->host = "127.0.0.1";
    cfg->port = 1883;
    cfg->fw = "1.0.0";
    cfg->keepalive_s = 60;
    cfg->heartbeat_s = 300;
    cfg->fix_moving_s = 30;
    cfg->fix_still_s = 300;
    cfg->fix_retry_s = 60;
    cfg->moving_speed = 0.5;
    cfg->moving_dist_m = 25.0;
    cfg->low_battery = 15;
    cfg->sos_cancel_s = 30;
    cfg->buffer_size = PA_RING_SIZE;
}

static void logf_(struct pa_tag *tag, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tag->board && tag->board->log)
        tag->board->log(tag->board->ctx, line);
}

static bool valid_device_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 3 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* Unix seconds as JSON: an integer when whole, else milliseconds. */
static void fmt_ts(char *out, size_t n, double ts)
{
    if (ts == floor(ts))
        snprintf(out, n, "%.0f", ts);
    else
        snprintf(out, n, "%.3f", ts);
}

static int battery(struct pa_tag *tag)
{
    int b = (tag->board && tag->board->battery) ? tag->board->battery(tag->board->ctx) : -1;
    return b > 100 ? 100 : b;
}

static void on_lost(struct pa_tag *tag, double now, const char *why)
{
    if (tag->connected)
        logf_(tag, "offline (%s), buffering", why);
    tag->connected = false;
    tag->next_reconnect = now + tag->backoff;
}

static void on_message(void *user, const char *topic, const void *payload, size_t len);

int pa_tag_init(struct pa_tag *tag, const struct pa_tag_config *cfg, struct pa_transport *tr,
                struct pa_board *board, double now)
{
    memset(tag, 0, sizeof *tag);
    tag->cfg = *cfg;
    tag->tr = tr;
    tag->board = board;
    if (!valid_device_id(cfg->device_id) || cfg->heartbeat_s < 10 || cfg->fix_moving_s < 1 || cfg->fix_still_s < 1)
        return -1;
    for (int ch = 0; ch < PA_CH_COUNT; ch++) {
        int n = snprintf(tag->topic[ch], PA_TOPIC_MAX, "%s/dev/%s/%s", cfg->root, cfg->device_id, CHANNEL_NAMES[ch]);
        if (n < 0 || n >= PA_TOPIC_MAX)
            return -1;
    }
    tag->backoff = 1;
    tag->next_reconnect = now;
    tag->next_heartbeat = now;
    tag->next_fix = now;
    tag->now = now;
    tag->sos_at = -1;
    pa_ring_init(&tag->ring, (size_t)cfg->buffer_size);
    tr->on_message = on_message;
    tr->user = tag;
    return 0;
}

size_t pa_tag_buffered(const struct pa_tag *tag)
{
    return tag->ring.count;
}

/* ---- uplink ---------------------------------------------------------------------- */

static bool send_now(struct pa_tag *tag, int ch, const char *payload, size_t len, double now)
{
    if (!tag->connected)
        return false;
    if (tag->tr->publish(tag->tr->ctx, tag->topic[ch], payload, len, 1, false) != 0) {
        on_lost(tag, now, "publish failed");
        return false;
    }
    return true;
}

static void flush(struct pa_tag *tag, double now)
{
    struct pa_entry *e;
    while (tag->connected && (e = pa_ring_peek(&tag->ring)) != NULL) {
        if (!send_now(tag, e->channel, e->payload, e->len, now))
            return;
        logf_(tag, "sent %s seq=%lu %.*s", CHANNEL_NAMES[e->channel], (unsigned long)e->seq, (int)e->len, e->payload);
        pa_ring_pop(&tag->ring);
    }
}

/* Buffered uplink (events and fixes): into the ring first, out once acked. */
static void enqueue(struct pa_tag *tag, int ch, bool critical, uint32_t seq, const char *payload, int n, double now)
{
    struct pa_entry e;
    if (n < 0 || n >= PA_PAYLOAD_MAX)
        return;
    memset(&e, 0, sizeof e);
    e.channel = (uint8_t)ch;
    e.critical = critical;
    e.seq = seq;
    e.len = (uint16_t)n;
    memcpy(e.payload, payload, (size_t)n);
    uint32_t dropped = tag->ring.dropped;
    pa_ring_push(&tag->ring, &e);
    if (tag->ring.dropped != dropped)
        logf_(tag, "buffer full: evicted one (dropped=%lu)", (unsigned long)tag->ring.dropped);
    if (!tag->connected)
        logf_(tag, "buffered %s seq=%lu n=%zu %s", CHANNEL_NAMES[ch], (unsigned long)seq, tag->ring.count, e.payload);
    flush(tag, now);
}

static void event(struct pa_tag *tag, const char *type, bool critical, double now)
{
    char ts[32], buf[PA_PAYLOAD_MAX];
    uint32_t seq = tag->seq++;
    fmt_ts(ts, sizeof ts, now);
    int n = snprintf(buf, sizeof buf, "{\"ts\":%s,\"seq\":%lu,\"type\":\"%s\"}", ts, (unsigned long)seq, type);
    logf_(tag, "event %s seq=%lu", type, (unsigned long)seq);
    enqueue(tag, PA_CH_EVENT, critical, seq, buf, n, now);
}

static void heartbeat(struct pa_tag *tag, double now)
{
    char ts[32], buf[PA_PAYLOAD_MAX], extra[64] = "";
    int b = battery(tag);
    uint32_t seq = tag->seq++;
    fmt_ts(ts, sizeof ts, now);
    if (b >= 0)
        snprintf(extra, sizeof extra, ",\"battery\":%d", b);
    if (tag->ring.dropped) /* extension field: buffered messages evicted while offline */
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ",\"dropped\":%lu", (unsigned long)tag->ring.dropped);
    int n = snprintf(buf, sizeof buf, "{\"ts\":%s,\"seq\":%lu%s,\"fw\":\"%s\"}", ts, (unsigned long)seq, extra, tag->cfg.fw);
    /* Heartbeats are not buffered: a stale one says nothing about being alive now. */
    if (n > 0 && n < (int)sizeof buf && send_now(tag, PA_CH_HEARTBEAT, buf, (size_t)n, now)) {
        tag->ring.dropped = 0;
        logf_(tag, "sent heartbeat seq=%lu %s", (unsigned long)seq, buf);
    }
}

static double distance_m(const struct pa_fix *a, const struct pa_fix *b)
{
    const double r = 6371000.0, rad = 3.14159265358979323846 / 180.0;
    double dlat = (b->lat - a->lat) * rad, dlon = (b->lon - a->lon) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(a->lat * rad) * cos(b->lat * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(h < 1 ? h : 1));
}

static void take_fix(struct pa_tag *tag, double now)
{
    struct pa_fix fix;
    if (!tag->board || !tag->board->read_fix || !tag->board->read_fix(tag->board->ctx, &fix)) {
        tag->next_fix = now + tag->cfg.fix_retry_s;
        logf_(tag, "no fix, retry in %d s", tag->cfg.fix_retry_s);
        return;
    }
    bool moved = tag->have_fix && distance_m(&tag->last_fix, &fix) >= tag->cfg.moving_dist_m;
    tag->moving = fix.speed >= tag->cfg.moving_speed || moved;
    tag->last_fix = fix;
    tag->have_fix = true;
    int b = battery(tag);
    int interval = tag->moving ? tag->cfg.fix_moving_s : tag->cfg.fix_still_s;
    if (b >= 0 && b <= tag->cfg.low_battery)
        interval *= 2; /* save the battery: it must last until someone charges it */
    tag->next_fix = now + interval;

    char ts[32], bat[24] = "", buf[PA_PAYLOAD_MAX];
    uint32_t seq = tag->seq++;
    fmt_ts(ts, sizeof ts, now);
    if (b >= 0)
        snprintf(bat, sizeof bat, ",\"battery\":%d", b);
    int n = snprintf(buf, sizeof buf, "{\"ts\":%s,\"seq\":%lu,\"lat\":%.6f,\"lon\":%.6f,\"acc\":%.1f,\"speed\":%.2f%s}", ts,
                     (unsigned long)seq, fix.lat, fix.lon, fix.acc, fix.speed < 0 ? 0.0 : fix.speed, bat);
    logf_(tag, "fix seq=%lu moving=%d next_fix_in=%d", (unsigned long)seq, tag->moving ? 1 : 0, interval);
    enqueue(tag, PA_CH_GPS, false, seq, buf, n, now);
}

void pa_tag_sos(struct pa_tag *tag, double now)
{
    tag->sos_at = now;
    event(tag, "sos", true, now);
    take_fix(tag, now); /* where: right away, whatever the fix rate */
    if (tag->board && tag->board->indicate)
        tag->board->indicate(tag->board->ctx, "sos_sent", "");
}

bool pa_tag_sos_cancel(struct pa_tag *tag, double now)
{
    if (tag->sos_at < 0 || now - tag->sos_at > tag->cfg.sos_cancel_s) {
        logf_(tag, "sos_cancel ignored: no SOS within %d s", tag->cfg.sos_cancel_s);
        return false;
    }
    tag->sos_at = -1;
    event(tag, "sos_cancel", true, now);
    return true;
}

/* ---- connection ------------------------------------------------------------------ */

static void connect_(struct pa_tag *tag, double now)
{
    struct pa_connect_opts o = {
        .client_id = tag->cfg.device_id,
        .host = tag->cfg.host,
        .port = tag->cfg.port,
        .username = tag->cfg.username,
        .password = tag->cfg.password,
        .keepalive_s = tag->cfg.keepalive_s,
        .clean_session = false,
        .will = {.topic = tag->topic[PA_CH_STATUS], .payload = OFFLINE, .qos = 1, .retain = true},
    };
    struct pa_transport *t = tag->tr;
    int rc = t->connect(t->ctx, &o);
    if (rc == 0)
        rc = t->publish(t->ctx, tag->topic[PA_CH_STATUS], ONLINE, sizeof ONLINE - 1, 1, true);
    if (rc == 0)
        rc = t->subscribe(t->ctx, tag->topic[PA_CH_CMD], 1); /* every time: sessions may be lost */
    if (rc != 0) {
        tag->next_reconnect = now + tag->backoff;
        logf_(tag, "connect failed (rc=%d), retry in %d s, buffered=%zu", rc, tag->backoff, tag->ring.count);
        tag->backoff = tag->backoff * 2 > 60 ? 60 : tag->backoff * 2;
        return;
    }
    tag->connected = true;
    tag->backoff = 1;
    logf_(tag, "online, buffered=%zu", tag->ring.count);
    flush(tag, now);
}

void pa_tag_tick(struct pa_tag *tag, double now)
{
    tag->now = now;
    if (!tag->connected && now >= tag->next_reconnect)
        connect_(tag, now);
    if (tag->connected && tag->tr->loop(tag->tr->ctx, 0) != 0)
        on_lost(tag, now, "connection lost");
    if (now >= tag->next_heartbeat) {
        tag->next_heartbeat = now + tag->cfg.heartbeat_s;
        heartbeat(tag, now);
    }
    if (now >= tag->next_fix)
        take_fix(tag, now);
    flush(tag, now);
}

void pa_tag_shutdown(struct pa_tag *tag)
{
    if (tag->connected) {
        tag->tr->publish(tag->tr->ctx, tag->topic[PA_CH_STATUS], OFFLINE, sizeof OFFLINE - 1, 1, true);
        tag->tr->disconnect(tag->tr->ctx);
        logf_(tag, "shutdown, buffered=%zu", tag->ring.count);
    }
    tag->connected = false;
}

/* ---- commands (hub -> device) ---------------------------------------------------- */

/* Minimal JSON lookup for flat command objects: finds "key": and returns the value start. */
static const char *json_value(const char *json, const char *key)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char *p = strstr(json, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        return q;
    }
    return NULL;
}

/* Copies a JSON string value of [A-Za-z0-9_-] characters; false otherwise. */
static bool json_token(const char *json, const char *key, char *out, size_t n)
{
    const char *v = json_value(json, key);
    size_t i = 0;
    if (!v || *v != '"')
        return false;
    for (v++; *v && *v != '"'; v++) {
        char c = *v;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
        if (i + 1 >= n)
            return false;
        out[i++] = c;
    }
    out[i] = '\0';
    return *v == '"' && i > 0;
}

static void on_message(void *user, const char *topic, const void *payload, size_t len)
{
    struct pa_tag *tag = user;
    char json[512], cmd[24], alert[17];
    if (strcmp(topic, tag->topic[PA_CH_CMD]) != 0)
        return;
    if (len >= sizeof json) {
        logf_(tag, "cmd ignored: too large");
        return;
    }
    memcpy(json, payload, len);
    json[len] = '\0';
    if (!json_token(json, "cmd", cmd, sizeof cmd)) {
        logf_(tag, "cmd ignored: malformed");
        return;
    }
    if (strcmp(cmd, "alert_ack") == 0) {
        if (!json_token(json, "alert", alert, sizeof alert))
            strcpy(alert, "-");
        snprintf(tag->last_alert, sizeof tag->last_alert, "%s", alert);
        tag->acks++;
        logf_(tag, "cmd alert_ack alert=%s: help is coming", alert);
        if (tag->board && tag->board->indicate)
            tag->board->indicate(tag->board->ctx, "help_coming", alert);
    } else if (strcmp(cmd, "config") == 0) {
        const char *v = json_value(json, "heartbeat_s");
        long hb = 0;
        if (v && sscanf(v, "%ld", &hb) == 1 && hb >= 10 && hb <= 86400) {
            tag->cfg.heartbeat_s = (int)hb;
            tag->next_heartbeat = tag->now + (double)hb; /* the new interval from now on */
            logf_(tag, "cmd config heartbeat_s=%ld", hb);
        } else {
            logf_(tag, "cmd config ignored: heartbeat_s must be 10..86400");
        }
    } else {
        logf_(tag, "cmd ignored: unknown cmd %s", cmd);
    }
}
