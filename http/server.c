/* SPDX-License-Identifier: MIT
 * server.c - the libmicrohttpd daemon and its life: start, drain, quiesce,
 * stop; and the per-request dispatch (see http.h, http_int.h).
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION). MHD calls
 * on_request() several times per request:
 *   1. when the head is in: req_start() and framing_check_head() (framing
 *      and size checks, so an oversized declared body is refused unread);
 *   2. once per piece of body (req_add_body(), capped at max_body_bytes);
 *   3. at the end: dispatch() routes the request (404, 405 + Allow), runs
 *      the handler and sends its reply.
 * A check that must sit between routing and the handler belongs in
 * dispatch(); a daemon option that depends on the options, in
 * daemon_options(). Everything a request owns
 * hangs off struct http_req and is freed in on_completed().
 * Thread-safety: the server is shared; its mutable state is atomic. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "http/http_int.h"
#include "http/router.h"
#include "http/stats.h"

/* MHD stops accept()ing at its own limit, leaving clients queued in the
 * listen backlog; ours is enforced by the accept policy instead, which closes
 * a connection beyond MAX_CONNECTIONS at once. MHD's limit sits above it. */
#define MHD_LIMIT_HEADROOM 64

/* ---- per-request dispatch ------------------------------------------- */

static enum usv_err
route_request(struct http_req *req)
{
    struct strbuf allow;
    enum usv_err rc;

    strbuf_init(&allow);
    rc = router_find(req->srv->routes, req->srv->n_routes, req->method, req->path,
                     &req->route, &req->param, &req->param_len, &allow);
    if (rc == USV_BAD_METHOD) {
        http_req_add_header(req, MHD_HTTP_HEADER_ALLOW, strbuf_str(&allow));
        http_req_set_detail(req, "%s is not allowed on this resource; allowed: %s",
                            req->method, strbuf_str(&allow));
    }
    strbuf_finish(&allow);
    return rc;
}

/* The last on_request() call: the whole body is in. Route, run the
 * handler, send its one reply. */
static enum MHD_Result
dispatch(struct http_req *req)
{
    json_t *out = NULL;
    enum usv_err rc;

    rc = route_request(req);
    if (rc == USV_OK)
        rc = req->route->handler(req, &out);
    return reply_send(req, rc, out, false);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD calls for a request,
 * with the target as received (before '?' splitting and unescaping). The
 * request's state is born here and completed on the first on_request(). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    return req_create(cls, uri, conn);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **req_cls)
{
    struct http_server *srv = cls;
    struct http_req *req = *req_cls;

    if (req == NULL) {
        /* No URI log callback call (cannot happen with MHD 0.9.75, but cheap). */
        req = req_create(srv, NULL, conn);
        *req_cls = req;
    }
    if (!req->is_started) {
        req_start(req, url, method);
        return framing_check_head(req, version);
    }
    if (*upload_data_size != 0) {
        req_add_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(req);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_req *req = *req_cls;

    if (req == NULL)
        return;
    access_log_request(req, toe);
    req_destroy(req);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

/* MHD's log lines go to ours. One of them is also a hook: MHD 0.9.75 logs
 * "Error processing request (HTTP response code is %u ..." from the
 * function that sends its own error page, before it sends it (an
 * unparsable Content-Length, a head beyond its memory, an unsupported
 * version...). Measured on 0.9.75: that page is HTML, without X-Request-Id,
 * and after a bad Content-Length its status line and headers go out twice.
 * So the request this thread serves is answered here with a problem body,
 * and MHD's page never leaves (reply_mhd_error()). Only a connection's
 * first request line is out of reach: MHD refuses it before any callback
 * tells which connection this thread serves (README, "HTTP strictness"). */
#define MHD_ERROR_PAGE_LOG "Error processing request (HTTP response code is %u"

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    struct http_req *req = req_current();
    struct MHD_Connection *conn = req_current_connection();
    bool was_replaced = req != NULL && req->is_mhd_replaced;
    char line[512];
    size_t n;

    if (req != NULL && strstr(fmt, "Content-Length") != NULL)
        req->mhd_detail = "Content-Length must be one decimal number";
    if (conn != NULL && strncmp(fmt, MHD_ERROR_PAGE_LOG, strlen(MHD_ERROR_PAGE_LOG)) == 0) {
        va_list copy;
        unsigned status;

        va_copy(copy, ap);
        status = va_arg(copy, unsigned int);
        va_end(copy);
        if (req != NULL) {
            reply_mhd_error(req, status);
        } else {
            /* A request line MHD refused on a connection that served one
             * before: this request has no state yet; give it some. */
            req = req_create(srv, NULL, conn);
            reply_mhd_error(req, status);
            access_log_request(req, MHD_REQUEST_TERMINATED_WITH_ERROR);
            req_destroy(req);
        }
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* Once its page was replaced, MHD's complaint that it could not send
     * it is expected: not worth a warning. */
    if (was_replaced)
        log_debug("mhd", "%s", line);
    else
        log_warn("mhd", "%s", line);
}

/* Percent-decode @uri in place, like MHD's default, except that "%00" stays
 * as it is: a decoded NUL would silently cut "/healthz%00" to "/healthz". */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    char *r = uri, *w = uri;

    while (*r != '\0') {
        unsigned v;

        if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2]) &&
            sscanf(r + 1, "%2x", &v) == 1 && v != 0) {
            *w++ = (char)v;
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - uri);
}

static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_server *srv = cls;

    return atomic_load(&srv->n_connections) < srv->opts.max_connections ? MHD_YES : MHD_NO;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&srv->n_connections, 1);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&srv->n_connections, 1);
}

/* ---- the daemon ------------------------------------------------------ */

/* Room for the options that depend on http_opts beyond the fixed ones
 * (TLS certificate and key, ...): daemon_options() fills them and may add
 * flags; they reach MHD_start_daemon() as one MHD_OPTION_ARRAY. */
#define MAX_EXTRA_OPTIONS 16

static void
daemon_options(const struct http_server *srv, unsigned *flags, struct MHD_OptionItem *items)
{
    size_t n = 0;

    /* None yet. Add one as
     *   items[n++] = (struct MHD_OptionItem){MHD_OPTION_..., value, ptr};
     * staying below MAX_EXTRA_OPTIONS. */
    items[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

enum usv_err
http_server_start(const struct http_opts *opts, const struct route *routes, size_t n_routes,
                  void *app, struct http_server **out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    struct http_server *srv;
    const union MHD_DaemonInfo *info;
    struct MHD_OptionItem extra[MAX_EXTRA_OPTIONS + 1];
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    char port[8];
    int gai;

    snprintf(port, sizeof(port), "%ld", opts->port);
    gai = getaddrinfo(opts->host, port, &hints, &ai);
    if (gai != 0) {
        log_error("http", "cannot resolve listen address %s: %s", opts->host,
                  gai_strerror(gai));
        return USV_BAD_REQUEST;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv = xcalloc(1, sizeof(*srv));
    srv->opts = *opts;
    srv->app = app;
    srv->routes = routes;
    srv->n_routes = n_routes;
    srv->quiesced_fd = MHD_INVALID_SOCKET;
    snprintf(srv->rid_prefix, sizeof(srv->rid_prefix), "%08x-",
             (unsigned)(monotonic_us() ^ ((unsigned)getpid() << 16)));
    srv->stats = http_stats_create(routes, n_routes);
    daemon_options(srv, &flags, extra);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, on_accept, srv, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)opts->max_connections + MHD_LIMIT_HEADROOM,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)opts->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)opts->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)opts->max_header_bytes,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)opts->thread_stack_kb * 1024,
        /* Level 0: MHD's own strict checks answer with an HTML body; this
         * module checks Host and framing itself and answers problem+json. */
        MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_ARRAY, extra,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (srv->daemon == NULL) {
        log_error("http", "cannot listen on %s:%ld (address in use or not available)",
                  opts->host, opts->port);
        http_stats_destroy(srv->stats);
        free(srv);
        return USV_UNAVAILABLE;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    log_info("http", "listening on http://%s%s%s:%u", strchr(opts->host, ':') ? "[" : "",
             opts->host, strchr(opts->host, ':') ? "]" : "", info != NULL ? info->port : 0);
    *out = srv;
    return USV_OK;
}

void
http_server_render_stats(struct http_server *srv, struct strbuf *out)
{
    http_stats_render(srv->stats, out);
}

void
http_server_drain(struct http_server *srv)
{
    atomic_store(&srv->is_draining, true);
}

void
http_server_quiesce(struct http_server *srv)
{
    http_server_drain(srv);
    if (srv->quiesced_fd == MHD_INVALID_SOCKET)
        srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
}

void
http_server_stop(struct http_server *srv, unsigned timeout_ms)
{
    uint64_t deadline;
    int left;

    if (srv == NULL)
        return;
    http_server_quiesce(srv);
    deadline = monotonic_ms() + timeout_ms;
    while ((left = atomic_load(&srv->in_flight)) > 0 && monotonic_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    if (left > 0)
        log_warn("http", "%d requests still in flight after %u ms; closing them", left,
                 timeout_ms);
    MHD_stop_daemon(srv->daemon);
    if (srv->quiesced_fd != MHD_INVALID_SOCKET)
        close(srv->quiesced_fd);
    http_stats_destroy(srv->stats);
    free(srv);
}
