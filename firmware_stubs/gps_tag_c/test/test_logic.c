/* Unit tests of the tag logic over a fake transport and board: no broker, no OS. */
#include <stdio.h>
#include <string.h>

#include "../src/gps_tag.h"

static int passed, failed;
#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            passed++;                                                                                                  \
        } else {                                                                                                       \
            failed++;                                                                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                     \
        }                                                                                                              \
    } while (0)

struct fake {
    bool up;       /* broker reachable */
    int published; /* acked publishes */
    char topics[64][PA_TOPIC_MAX];
    char payloads[64][PA_PAYLOAD_MAX];
    char indicated[64];
    struct pa_fix fix;
    bool has_fix;
    int battery;
};

static int f_connect(void *ctx, const struct pa_connect_opts *o)
{
    struct fake *f = ctx;
    return (f->up && !o->clean_session && o->will.retain && strcmp(o->will.payload, "{\"state\":\"offline\"}") == 0)
               ? 0
               : -1;
}

static int f_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos, bool retain)
{
    struct fake *f = ctx;
    (void)retain;
    if (!f->up || qos != 1 || f->published >= 64)
        return -1;
    snprintf(f->topics[f->published], PA_TOPIC_MAX, "%s", topic);
    snprintf(f->payloads[f->published], PA_PAYLOAD_MAX, "%.*s", (int)len, (const char *)payload);
    f->published++;
    return 0;
}

static int f_subscribe(void *ctx, const char *topic, int qos)
{
    (void)topic;
    return ((struct fake *)ctx)->up && qos == 1 ? 0 : -1;
}

static int f_loop(void *ctx, int timeout_ms)
{
    (void)timeout_ms;
    return ((struct fake *)ctx)->up ? 0 : -1;
}

static void f_disconnect(void *ctx)
{
    (void)ctx;
}

static bool b_fix(void *ctx, struct pa_fix *out)
{
    struct fake *f = ctx;
    *out = f->fix;
    return f->has_fix;
}

static int b_battery(void *ctx)
{
    return ((struct fake *)ctx)->battery;
}

static void b_indicate(void *ctx, const char *what, const char *detail)
{
    snprintf(((struct fake *)ctx)->indicated, 64, "%s %s", what, detail);
}

static struct fake F;
static struct pa_transport T = {&F, f_connect, f_publish, f_subscribe, f_loop, f_disconnect, NULL, NULL};
static struct pa_board B = {&F, b_fix, b_battery, b_indicate, NULL};

static void setup(struct pa_tag *tag, double now)
{
    struct pa_tag_config cfg;
    memset(&F, 0, sizeof F);
    F.up = true;
    F.battery = 70;
    pa_tag_config_defaults(&cfg);
    cfg.device_id = "tag-0001";
    cfg.buffer_size = 4;
    if (pa_tag_init(tag, &cfg, &T, &B, now) != 0)
        failed++;
}

static int count(const char *channel)
{
    int n = 0;
    for (int i = 0; i < F.published; i++)
        n += strstr(F.topics[i], channel) != NULL;
    return n;
}

static void test_ring_keeps_critical(void)
{
    struct pa_ring r;
    struct pa_entry e = {0};
    pa_ring_init(&r, 3);
    e.critical = true;
    e.seq = 1;
    pa_ring_push(&r, &e);
    e.critical = false;
    for (uint32_t s = 2; s <= 5; s++) {
        e.seq = s;
        pa_ring_push(&r, &e);
    }
    CHECK(r.count == 3 && r.dropped == 2);
    CHECK(pa_ring_peek(&r)->seq == 1); /* the SOS survived */
    pa_ring_pop(&r);
    CHECK(pa_ring_peek(&r)->seq == 4);
}

static void test_invalid_device_id(void)
{
    struct pa_tag tag;
    struct pa_tag_config cfg;
    pa_tag_config_defaults(&cfg);
    cfg.device_id = "Tag 1";
    CHECK(pa_tag_init(&tag, &cfg, &T, &B, 0) == -1);
}

static void test_offline_buffer_and_flush(void)
{
    static struct pa_tag tag;
    setup(&tag, 1000);
    pa_tag_tick(&tag, 1000);
    CHECK(tag.connected);
    F.up = false;
    pa_tag_sos(&tag, 1001); /* publish fails: buffered, offline */
    CHECK(!tag.connected && pa_tag_buffered(&tag) == 1);
    F.has_fix = true;
    F.fix = (struct pa_fix){45.75, 126.64, 10, 2.0};
    for (double t = 1002; t < 1300; t++)
        pa_tag_tick(&tag, t);
    CHECK(pa_tag_buffered(&tag) == 4); /* capacity 4: the SOS stays, the oldest fixes go */
    CHECK(tag.ring.dropped > 0 && pa_ring_peek(&tag.ring)->critical);
    char first[PA_PAYLOAD_MAX];
    snprintf(first, sizeof first, "%s", pa_ring_peek(&tag.ring)->payload);
    int before = F.published;
    F.up = true;
    for (double t = 1300; t < 1400 && !tag.connected; t++)
        pa_tag_tick(&tag, t);
    CHECK(tag.connected && pa_tag_buffered(&tag) == 0);
    CHECK(strcmp(F.payloads[before], "{\"state\":\"online\"}") == 0);
    CHECK(strcmp(F.payloads[before + 1], first) == 0);
    CHECK(strstr(first, "\"ts\":1001,") && strstr(first, "\"type\":\"sos\""));
}

static void test_fix_rate_follows_movement(void)
{
    static struct pa_tag tag;
    setup(&tag, 0);
    F.has_fix = true;
    F.fix = (struct pa_fix){45.75, 126.64, 10, 1.0};
    for (double t = 0; t <= 120; t++)
        pa_tag_tick(&tag, t);
    CHECK(count("/gps") == 5); /* 0, 30, 60, 90, 120 */
    F.fix.speed = 0;
    for (double t = 121; t <= 1000; t++)
        pa_tag_tick(&tag, t);
    CHECK(count("/gps") == 8); /* 150 (still), then 450, 750 */
    CHECK(count("/heartbeat") == 4); /* 0, 300, 600, 900 */
}

static void test_cmds(void)
{
    static struct pa_tag tag;
    setup(&tag, 0);
    pa_tag_tick(&tag, 0);
    const char *ack = "{\"cmd\": \"alert_ack\", \"alert\": \"A7K2\"}";
    T.on_message(T.user, "pingan/v1/dev/tag-0001/cmd", ack, strlen(ack));
    CHECK(strcmp(F.indicated, "help_coming A7K2") == 0 && tag.acks == 1);
    const char *other = "{\"cmd\":\"alert_ack\",\"alert\":\"B000\"}";
    T.on_message(T.user, "pingan/v1/dev/tag-0002/cmd", other, strlen(other));
    CHECK(tag.acks == 1);
    const char *cfg = "{\"cmd\":\"config\",\"heartbeat_s\":120}";
    T.on_message(T.user, "pingan/v1/dev/tag-0001/cmd", cfg, strlen(cfg));
    CHECK(tag.cfg.heartbeat_s == 120);
    const char *bad = "{\"cmd\":\"config\",\"heartbeat_s\":1}";
    T.on_message(T.user, "pingan/v1/dev/tag-0001/cmd", bad, strlen(bad));
    CHECK(tag.cfg.heartbeat_s == 120);
    T.on_message(T.user, "pingan/v1/dev/tag-0001/cmd", "{\"cmd\":", 7);
    CHECK(tag.acks == 1);
}

static void test_seq_wraps(void)
{
    static struct pa_tag tag;
    setup(&tag, 0);
    pa_tag_tick(&tag, 0);
    tag.seq = 4294967295u;
    F.has_fix = true;
    pa_tag_sos(&tag, 5);
    CHECK(strstr(F.payloads[F.published - 2], "\"seq\":4294967295,") != NULL);
    CHECK(strstr(F.payloads[F.published - 1], "\"seq\":0,") != NULL);
}

int main(void)
{
    test_ring_keeps_critical();
    test_invalid_device_id();
    test_offline_buffer_and_flush();
    test_fix_rate_follows_movement();
    test_cmds();
    test_seq_wraps();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
