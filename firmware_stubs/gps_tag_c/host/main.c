/* Host program for the GPS tag stub: the device logic over libmosquitto, driven by a script.
 *
 *   gps_tag_host --device tag-0001 --host 127.0.0.1 --port 1883 \
 *                --username tag-0001 --password secret [options] [--script FILE]
 *
 * Commands come from --script FILE, else from standard input, one per line (# comments):
 *   pos LAT LON [ACC [SPEED]]  the GPS receiver now reports this fix (WGS-84)
 *   nofix                      the receiver has no fix (indoors)
 *   battery PCT                battery gauge reading
 *   sos | cancel               SOS button; cancel within sos_cancel_s
 *   advance SECONDS            let SECONDS of device time pass (virtual clock, 1 s steps;
 *                              with --realtime it really waits)
 *   sync [SECONDS]             wait (real time, default 5 s) until online with nothing buffered
 *   echo TEXT                  print "echo TEXT" (a marker for whoever drives the program)
 *   quit                       orderly power-off: offline retained, disconnect, exit
 * While it waits for input it keeps the MQTT connection serviced (PINGREQ, incoming cmds).
 * At end of input it behaves as `quit`. Every action is one line on standard output.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/gps_tag.h"
#include "transport_mosquitto.h"

struct sim_board {
    bool has_fix;
    struct pa_fix fix;
    int battery;
    double now;
};

static struct sim_board board_state = {.battery = -1};
static double (*now_fn)(void);

static double virtual_now(void)
{
    return board_state.now;
}

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

static bool read_fix(void *ctx, struct pa_fix *out)
{
    struct sim_board *b = ctx;
    if (b->has_fix)
        *out = b->fix;
    return b->has_fix;
}

static int read_battery(void *ctx)
{
    return ((struct sim_board *)ctx)->battery;
}

static void indicate(void *ctx, const char *what, const char *detail)
{
    (void)ctx;
    printf("[%.0f] indicate %s %s\n", now_fn(), what, detail);
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("[%.0f] %s\n", now_fn(), line);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gps_tag_host --device ID [--host H] [--port P] [--username U] [--password P]\n"
            "       [--root pingan/v1] [--heartbeat S] [--keepalive S] [--fix-moving S] [--fix-still S]\n"
            "       [--buffer N] [--start-ts EPOCH] [--realtime] [--script FILE]\n");
}

/* Services the connection while waiting for input; returns a line or NULL at EOF.
 * Reads the descriptor itself (no stdio buffering) so poll() sees every pending line. */
static char *next_line(int fd, char *out, size_t n, struct pa_tag *tag, struct pa_transport *tr)
{
    static char buf[4096];
    static size_t used;
    static bool eof;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        char *nl = memchr(buf, '\n', used);
        if (nl || (eof && used)) {
            size_t len = nl ? (size_t)(nl - buf) : used;
            size_t take = len < n - 1 ? len : n - 1;
            memcpy(out, buf, take);
            out[take] = '\0';
            size_t consumed = nl ? len + 1 : len;
            memmove(buf, buf + consumed, used - consumed);
            used -= consumed;
            return out;
        }
        if (eof)
            return NULL;
        if (used == sizeof buf) /* an over-long line: drop it */
            used = 0;
        int r = poll(&pfd, 1, 100);
        if (r > 0) {
            ssize_t got = read(fd, buf + used, sizeof buf - used);
            if (got > 0)
                used += (size_t)got;
            else if (got == 0 || errno != EINTR)
                eof = true;
            continue;
        }
        if (r < 0 && errno != EINTR)
            return NULL;
        if (tag->connected && tr->loop(tr->ctx, 0) != 0)
            pa_tag_tick(tag, now_fn()); /* notices the loss, stays on the same device time */
    }
}

static void run_for(struct pa_tag *tag, double seconds, bool realtime)
{
    if (realtime) {
        double end = real_now() + seconds;
        while (real_now() < end) {
            pa_tag_tick(tag, real_now());
            struct timespec d = {0, 100 * 1000000L};
            nanosleep(&d, NULL);
        }
        return;
    }
    for (double t = 0; t < seconds; t += 1) {
        board_state.now += 1;
        pa_tag_tick(tag, board_state.now);
    }
}

int main(int argc, char **argv)
{
    struct pa_tag_config cfg;
    const char *script = NULL;
    bool realtime = false;
    double start_ts = -1;
    pa_tag_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--realtime") == 0) {
            realtime = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--device") == 0) cfg.device_id = v;
        else if (strcmp(a, "--host") == 0) cfg.host = v;
        else if (strcmp(a, "--port") == 0) cfg.port = atoi(v);
        else if (strcmp(a, "--username") == 0) cfg.username = v;
        else if (strcmp(a, "--password") == 0) cfg.password = v;
        else if (strcmp(a, "--root") == 0) cfg.root = v;
        else if (strcmp(a, "--heartbeat") == 0) cfg.heartbeat_s = atoi(v);
        else if (strcmp(a, "--keepalive") == 0) cfg.keepalive_s = atoi(v);
        else if (strcmp(a, "--fix-moving") == 0) cfg.fix_moving_s = atoi(v);
        else if (strcmp(a, "--fix-still") == 0) cfg.fix_still_s = atoi(v);
        else if (strcmp(a, "--buffer") == 0) cfg.buffer_size = atoi(v);
        else if (strcmp(a, "--start-ts") == 0) start_ts = atof(v);
        else if (strcmp(a, "--script") == 0) script = v;
        else {
            usage();
            return 2;
        }
    }
    if (!cfg.username)
        cfg.username = cfg.device_id; /* per-device credentials: the username is the device id */
    setvbuf(stdout, NULL, _IOLBF, 0);
    board_state.now = start_ts >= 0 ? start_ts : (double)(long long)real_now();
    now_fn = realtime ? real_now : virtual_now;

    FILE *in = stdin;
    if (script && !(in = fopen(script, "r"))) {
        perror(script);
        return 2;
    }
    mosquitto_lib_init();
    struct pa_transport tr;
    struct pa_mosq mq;
    struct pa_board board = {&board_state, read_fix, read_battery, indicate, log_line};
    struct pa_tag tag;
    pa_mosq_transport(&tr, &mq);
    if (pa_tag_init(&tag, &cfg, &tr, &board, now_fn()) != 0) {
        fprintf(stderr, "bad device id or configuration\n");
        return 2;
    }
    printf("[%.0f] start device=%s broker=%s:%d heartbeat_s=%d\n", now_fn(), cfg.device_id, cfg.host, cfg.port,
           cfg.heartbeat_s);
    pa_tag_tick(&tag, now_fn());

    char line[256];
    int status = 0;
    while (next_line(fileno(in), line, sizeof line, &tag, &tr)) {
        char cmd[32] = "";
        double a = 0, b = 0, c = 0, d = 0;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || sscanf(line, "%31s", cmd) != 1)
            continue;
        int n = sscanf(line, "%*s %lf %lf %lf %lf", &a, &b, &c, &d);
        if (strcmp(cmd, "pos") == 0 && n >= 2) {
            board_state.has_fix = true;
            board_state.fix = (struct pa_fix){a, b, n >= 3 ? c : 10.0, n >= 4 ? d : 0.0};
        } else if (strcmp(cmd, "nofix") == 0) {
            board_state.has_fix = false;
        } else if (strcmp(cmd, "battery") == 0 && n >= 1) {
            board_state.battery = (int)a;
        } else if (strcmp(cmd, "sos") == 0) {
            pa_tag_sos(&tag, now_fn());
        } else if (strcmp(cmd, "cancel") == 0) {
            pa_tag_sos_cancel(&tag, now_fn());
        } else if (strcmp(cmd, "advance") == 0 && n >= 1) {
            run_for(&tag, a, realtime);
        } else if (strcmp(cmd, "sync") == 0) {
            struct timespec t0, t1;
            double limit = n >= 1 ? a : 5.0, waited = 0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            while ((!tag.connected || pa_tag_buffered(&tag)) && waited < limit) {
                pa_tag_tick(&tag, now_fn());
                if (tag.connected)
                    tr.loop(tr.ctx, 50);
                else
                    nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
            }
            printf("[%.0f] sync %s connected=%d buffered=%zu\n", now_fn(),
                   tag.connected && !pa_tag_buffered(&tag) ? "ok" : "timeout", tag.connected ? 1 : 0,
                   pa_tag_buffered(&tag));
        } else if (strcmp(cmd, "echo") == 0) {
            printf("echo %s\n", line + 5 <= line + strlen(line) ? line + 5 : "");
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("[%.0f] unknown command: %s\n", now_fn(), line);
            status = 1;
        }
    }
    pa_tag_shutdown(&tag);
    pa_mosq_cleanup(&mq);
    mosquitto_lib_cleanup();
    printf("[%.0f] exit buffered=%zu\n", now_fn(), pa_tag_buffered(&tag));
    if (in != stdin)
        fclose(in);
    return status;
}
