/* SPDX-License-Identifier: MIT
 * tls.h - transport security: HTTPS and client certificates (mutual TLS)
 * through libmicrohttpd's GnuTLS support.
 *
 * A struct tls holds the certificate, key and optional client CA named by
 * the configuration, loaded and checked at start (tls_create() names the
 * file at fault), and the GnuTLS priority string that allows TLS 1.2 and 1.3
 * with forward-secret AEAD suites only. tls_reload() (on SIGHUP) reads the
 * files again and, only when all of them are good, makes them the ones new
 * connections get; connections already open keep the credentials they
 * started with (reference counted), so nothing is dropped.
 * Thread-safety: tls_reload() from one thread at a time (main); the rest
 * from any thread. */
#ifndef USERSVC_HTTP_TLS_H
#define USERSVC_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct tls;
struct tls_conn;
struct MHD_Connection;
struct MHD_OptionItem;

/* What MHD_start_daemon() needs: at most this many option items. */
#define TLS_MHD_OPTIONS 3

/* Load @cert_file and @key_file (PEM) and, when not empty, @client_ca_file
 * (PEM, one or more CA certificates). All empty: *@out = NULL (plain HTTP)
 * and USV_OK. A certificate without a key (or the reverse), a CA without
 * both, an unreadable or malformed file, a key that does not match the
 * certificate or an expired certificate: USV_BAD_REQUEST, with an error
 * naming the file logged. Paths are copied. Free with tls_destroy(). */
enum usv_err tls_create(const char *cert_file, const char *key_file,
                        const char *client_ca_file, struct tls **out);

/* Accepts NULL. Only after the HTTP daemon has stopped. */
void tls_destroy(struct tls *t);

/* Is a client certificate required (TLS_CLIENT_CA_FILE set)? */
bool tls_is_mutual(const struct tls *t);

/* Fill @items (room for TLS_MHD_OPTIONS) with the daemon options (initial
 * certificate and key, priorities) for MHD_OPTION_ARRAY, add MHD_USE_TLS to
 * *@flags, and return the number of items. The strings stay valid until
 * tls_destroy(). */
size_t tls_mhd_options(struct tls *t, struct MHD_OptionItem *items, unsigned *flags);

/* Read the files again. Only when every one is good do new connections get
 * them; otherwise the current ones stay and the error (naming the file) is
 * logged. USV_OK or USV_BAD_REQUEST. */
enum usv_err tls_reload(struct tls *t);

/* A new connection (MHD's connection-started notification, before its
 * handshake): give its session the current credentials and, for mutual TLS,
 * require a client certificate that chains to the client CA. NULL when the
 * connection has no TLS session (then the handshake uses the daemon's
 * start-up credentials; logged). */
struct tls_conn *tls_conn_open(struct tls *t, struct MHD_Connection *conn);

/* The connection closed. Accepts NULL. */
void tls_conn_close(struct tls_conn *c);

/* The verified client certificate's subject (RFC 4514, escaped for logs:
 * printable ASCII without spaces or quotes), computed on first use and
 * cached; NULL when the client presented none or @c is NULL (a connection
 * tls_conn_open() could not equip: under mutual TLS, close it). Borrowed
 * until tls_conn_close(); call from the connection's thread. */
const char *tls_conn_client_subject(struct tls_conn *c);

#endif
