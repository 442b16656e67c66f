/* SPDX-License-Identifier: MIT
 * openloop.c - an open-loop HTTP/1.1 load generator for bench/run.sh.
 *
 * wrk is closed-loop: a connection sends its next request only when the
 * previous answer came, so a slow answer delays the requests behind it and
 * hides them from the latency figures (coordinated omission). wrk2, which
 * fixes that, is not in Debian; this is the part of it the benchmark needs.
 *
 * Request k is due at t0 + k / RATE, whatever happened before. A due
 * request goes out on the first idle keep-alive connection; its latency is
 * measured from the moment it was due (its intended send time), not from
 * when a connection was free to send it, so queueing in the client counts.
 * One thread, epoll, -c connections (no pipelining: at most one request in
 * flight per connection, as wrk and browsers do).
 *
 *   usersvc-openloop -p PORT -r RATE -d SECONDS [-c CONNS] [-n IDS | -u PATH]
 *                    [-H HOST] [-t DRAIN_S]
 *
 * -n IDS: GET /users/{id}, id uniform in 1..IDS (as get_random.lua);
 * -u PATH: GET PATH (e.g. /healthz). It stops by itself: at t0 + SECONDS
 * no new request is due; requests still unanswered DRAIN_S (default 10)
 * later are counted as timeouts, and an alarm ends the process if even that
 * fails. Prints one line:
 *   OPENLOOP_RESULT rate= seconds= due= sent= completed= achieved_rps=
 *     p50_us= p90_us= p99_us= p999_us= max_us= non2xx= bad_status=
 *     sockerr= timeouts=
 * Latencies of requests never answered are not in the percentiles (they
 * are the timeouts). Exit status 0 when it ran, 2 on a usage error. */
#define _GNU_SOURCE   /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define RESP_BUF 16384

struct conn {
    int fd;
    bool is_busy;           /* a request in flight */
    int64_t intended_ns;    /* its intended send time */
    char req[256];
    size_t req_len, req_off;
    char buf[RESP_BUF];
    size_t len;
};

static struct conn conns[MAX_CONNS];
static int n_conns = 32;
static int epfd = -1;
static struct sockaddr_in addr;
static char host[64] = "127.0.0.1";
static const char *path = "/healthz";
static unsigned long ids;   /* 0: fixed path */
static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint32_t *lat_us;
static size_t n_lat;
static unsigned long non2xx, sockerr, timeouts, sent;
static int bad_status;

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
next_random(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}

static bool
parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool
conn_open(struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return false;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->is_busy = false;
    c->len = 0;
    c->req_len = c->req_off = 0;
    return true;
}

/* The connection failed: its request (if any) is a socket error; a new
 * connection takes its place. */
static void
conn_fail(struct conn *c)
{
    if (c->is_busy)
        sockerr++;
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->is_busy = false;
    if (!conn_open(c))
        sockerr++;
}

/* Watch for writability only while a request is partly sent. */
static void
conn_watch(struct conn *c, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u)};

    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_flush(struct conn *c)
{
    bool was_partial = c->req_off != 0;

    while (c->req_off < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);

        if (n > 0) {
            c->req_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            conn_watch(c, true);   /* EPOLLOUT resumes it */
            return;
        }
        conn_fail(c);
        return;
    }
    if (was_partial)
        conn_watch(c, false);
}

static void
conn_send(struct conn *c, int64_t intended)
{
    int n;

    if (ids != 0) {
        n = snprintf(c->req, sizeof(c->req), "GET /users/%lu HTTP/1.1\r\nHost: %s\r\n\r\n",
                     (unsigned long)(next_random() % ids) + 1, host);
    } else {
        n = snprintf(c->req, sizeof(c->req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
    }
    c->req_len = n > 0 && (size_t)n < sizeof(c->req) ? (size_t)n : 0;
    c->req_off = 0;
    c->is_busy = true;
    c->intended_ns = intended;
    c->len = 0;
    sent++;
    conn_flush(c);
}

/* Content-Length of the head in @h (up to @end), or -1. */
static long
content_length(const char *h, const char *end)
{
    static const char name[] = "\r\ncontent-length:";
    const size_t nl = sizeof(name) - 1;

    for (const char *p = h; p + nl < end; p++) {
        if (strncasecmp(p, name, nl) == 0) {
            unsigned long v = 0;

            p += nl;
            while (p < end && *p == ' ')
                p++;
            while (p < end && *p >= '0' && *p <= '9')
                v = v * 10 + (unsigned long)(*p++ - '0');
            return (long)v;
        }
    }
    return -1;
}

static void
conn_read(struct conn *c)
{
    for (;;) {
        ssize_t n;
        const char *eoh;
        long clen;
        size_t total;
        int status;

        if (c->len == sizeof(c->buf)) {
            conn_fail(c);   /* an answer larger than this tool reads */
            return;
        }
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_fail(c);
            return;
        }
        if (n < 0)
            return;
        c->len += (size_t)n;
        if (!c->is_busy) {
            conn_fail(c);   /* bytes nobody asked for */
            return;
        }
        eoh = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (eoh == NULL)
            continue;
        clen = content_length(c->buf, eoh + 2);
        total = (size_t)(eoh + 4 - c->buf) + (size_t)(clen > 0 ? clen : 0);
        if (c->len < total)
            continue;
        status = 0;
        if (c->len > 12 && memcmp(c->buf, "HTTP/1.", 7) == 0) {
            for (int i = 9; i < 12 && c->buf[i] >= '0' && c->buf[i] <= '9'; i++)
                status = status * 10 + (c->buf[i] - '0');
        }
        if (status < 200 || status > 299) {
            non2xx++;
            bad_status = status;
        }
        lat_us[n_lat++] = (uint32_t)((now_ns() - c->intended_ns) / 1000);
        c->is_busy = false;
        c->len = 0;
        return;
    }
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static uint32_t
pct(double p)
{
    size_t i;

    if (n_lat == 0)
        return 0;
    i = (size_t)(p * (double)(n_lat - 1) + 0.5);
    return lat_us[i];
}

static void
usage(void)
{
    fprintf(stderr, "usage: usersvc-openloop -p PORT -r RATE -d SECONDS [-c CONNS]"
                    " [-n IDS | -u PATH] [-H HOST] [-t DRAIN_S]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    unsigned long port = 0, rate = 0, seconds = 0, drain = 10, v;
    struct epoll_event evs[256];
    int64_t t0, end_due, deadline, interval;
    unsigned long due_total, k = 0;
    int opt;

    while ((opt = getopt(argc, argv, "p:r:d:c:n:u:H:t:")) != -1) {
        switch (opt) {
        case 'p': if (!parse_ulong(optarg, 65535, &port)) usage(); break;
        case 'r': if (!parse_ulong(optarg, 10000000, &rate)) usage(); break;
        case 'd': if (!parse_ulong(optarg, 3600, &seconds)) usage(); break;
        case 'c': if (!parse_ulong(optarg, MAX_CONNS, &v) || v == 0) usage(); n_conns = (int)v; break;
        case 'n': if (!parse_ulong(optarg, 1000000000, &ids)) usage(); break;
        case 'u': path = optarg; break;
        case 'H': snprintf(host, sizeof(host), "%s", optarg); break;
        case 't': if (!parse_ulong(optarg, 600, &drain)) usage(); break;
        default: usage();
        }
    }
    if (port == 0 || rate == 0 || seconds == 0)
        usage();
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        usage();
    /* Whatever happens, the process ends. */
    alarm((unsigned)(seconds + drain + 10));
    signal(SIGPIPE, SIG_IGN);

    due_total = rate * seconds;
    lat_us = calloc(due_total + 1, sizeof(*lat_us));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lat_us == NULL || epfd < 0) {
        perror("openloop");
        return 1;
    }
    for (int i = 0; i < n_conns; i++) {
        if (!conn_open(&conns[i]))
            sockerr++;
    }
    interval = 1000000000 / (int64_t)rate;
    t0 = now_ns() + 50000000;   /* connections established first */
    end_due = t0 + (int64_t)seconds * 1000000000;
    deadline = end_due + (int64_t)drain * 1000000000;
    for (;;) {
        int64_t now = now_ns(), wait_ns;
        int busy = 0, idle = 0, n;
        struct timespec ts;

        /* Every due request goes to an idle connection while there is one. */
        for (int i = 0; i < n_conns && k < due_total; i++) {
            struct conn *c = &conns[i];
            int64_t intended = t0 + (int64_t)k * interval;

            if (intended > now)
                break;
            if (c->fd >= 0 && !c->is_busy) {
                conn_send(c, intended);
                k++;
            }
        }
        for (int i = 0; i < n_conns; i++) {
            busy += conns[i].is_busy;
            idle += conns[i].fd >= 0 && !conns[i].is_busy;
        }
        if (k >= due_total && busy == 0)
            break;
        if (now >= deadline) {
            timeouts += (unsigned long)busy + (due_total - k);
            break;
        }
        /* Until the next request is due; when one is overdue but every
         * connection is busy, until an answer frees one (never a busy
         * loop: this shares the host's cores with the server). */
        wait_ns = 10000000;
        if (k < due_total && idle > 0)
            wait_ns = t0 + (int64_t)k * interval - now;
        if (wait_ns < 0)
            wait_ns = 0;
        if (wait_ns > 10000000)
            wait_ns = 10000000;
        /* Nanoseconds (epoll_pwait2, Linux 5.11): at tens of thousands of
         * requests per second a millisecond timeout would send them in
         * bursts, late by up to a millisecond, and count that as latency. */
        ts.tv_sec = 0;
        ts.tv_nsec = (long)wait_ns;
        n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            n = epoll_wait(epfd, evs, 256, (int)((wait_ns + 999999) / 1000000));
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (evs[i].events & EPOLLOUT)
                conn_flush(c);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
                conn_read(c);
        }
    }
    qsort(lat_us, n_lat, sizeof(*lat_us), cmp_u32);
    printf("OPENLOOP_RESULT rate=%lu seconds=%lu due=%lu sent=%lu completed=%zu"
           " achieved_rps=%.1f p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u"
           " non2xx=%lu bad_status=%d sockerr=%lu timeouts=%lu\n",
           rate, seconds, due_total, sent, n_lat,
           (double)n_lat / ((double)(now_ns() - t0) / 1e9), pct(0.50), pct(0.90), pct(0.99),
           pct(0.999), n_lat > 0 ? lat_us[n_lat - 1] : 0, non2xx, bad_status, sockerr, timeouts);
    for (int i = 0; i < n_conns; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    }
    close(epfd);
    free(lat_us);
    return 0;
}
