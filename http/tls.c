/* SPDX-License-Identifier: MIT
 * tls.c - HTTPS and mutual TLS over libmicrohttpd's GnuTLS (see tls.h).
 *
 * libmicrohttpd 0.9.75 loads its certificate once, into credentials it owns
 * (MHD_OPTION_HTTPS_MEM_CERT/KEY/TRUST), and offers no way to change them
 * while it runs; MHD_OPTION_HTTPS_CERT_CALLBACK can swap the certificate but
 * not the client CA, and the certificates it returns must outlive every
 * session that picked them. So each connection gets credentials of ours:
 * MHD creates the GnuTLS session and then notifies us (before the thread
 * that runs the handshake exists); tls_conn_open() puts the current
 * struct creds on that session with gnutls_credentials_set() and, for
 * mutual TLS, asks for a client certificate with GNUTLS_CERT_REQUIRE.
 * A struct creds is reference counted: one reference is the "current" slot,
 * one each open connection; a reload replaces the slot, and the old
 * credentials are freed when their last connection closes. No connection
 * is touched by a reload.
 *
 * Client certificates are checked during the handshake by a verify
 * function on the credentials (gnutls_certificate_verify_peers() with the
 * TLS client purpose): no certificate, an untrusted, expired or not yet
 * valid one fails the handshake, so no request is ever read from such a
 * client. */
#include "http/tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"

/* TLS 1.2 and 1.3; AES-GCM and ChaCha20-Poly1305 (AEAD) only; ECDHE only
 * (forward secrecy; no static RSA, no DHE with its slow big-number groups,
 * no PSK); the server picks its preferred suite. SECURE128 supplies the
 * signature algorithms. tests/tls checks the result with openssl s_client
 * and testssl.sh. */
#define TLS_PRIORITIES                                                                \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                                  \
    "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"        \
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"                                                \
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE"

#define TLS_MAX_FILE_BYTES (1024 * 1024)
#define TLS_MAX_SUBJECT 256

struct creds {
    atomic_uint refs;
    gnutls_certificate_credentials_t cred;
    time_t not_after;                       /* the certificate's expiry */
};

struct tls {
    char *cert_file, *key_file, *ca_file;   /* ca_file "" = not mutual */
    char *cert_pem, *key_pem;               /* the start-up files, for MHD's options */
    pthread_mutex_t mu;
    struct creds *current;                  /* protected by mu */
};

struct tls_conn {
    struct creds *creds;
    gnutls_session_t session;
    bool is_subject_done;
    char *subject;                          /* as in the certificate, cut; or NULL */
};

static void
creds_unref(struct creds *c)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    gnutls_certificate_free_credentials(c->cred);
    free(c);
}

/* The whole of @path (NUL-terminated, new) in *@out, or an error in @why. */
static bool
read_file(const char *what, const char *path, gnutls_datum_t *out, char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int err;

    if (f == NULL) {
        err = errno;
        snprintf(why, why_size, "cannot read %s file %s: %s", what, path,
                 err == ENOENT ? "no such file" : err == EACCES ? "permission denied"
                                                                : "open failed");
        return false;
    }
    buf = xmalloc(TLS_MAX_FILE_BYTES + 1);
    n = fread(buf, 1, TLS_MAX_FILE_BYTES + 1, f);
    err = ferror(f);
    fclose(f);
    if (err != 0 || n > TLS_MAX_FILE_BYTES) {
        snprintf(why, why_size, "cannot read %s file %s: %s", what, path,
                 err != 0 ? "read failed (a directory?)" : "larger than 1 MiB");
        free(buf);
        return false;
    }
    buf[n] = '\0';
    out->data = (unsigned char *)buf;
    out->size = (unsigned)n;
    return true;
}

static void
format_time(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "(unknown)");
}

/* During the handshake, after the client sent its certificate chain. */
static int
verify_client(gnutls_session_t session)
{
    gnutls_typed_vdata_st purpose = {
        .type = GNUTLS_DT_KEY_PURPOSE_OID,
        .data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT,
        .size = 0,
    };
    gnutls_datum_t text = {NULL, 0};
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);

    if (rc == GNUTLS_E_SUCCESS && status == 0)
        return 0;
    if (rc == GNUTLS_E_SUCCESS &&
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
        size_t n = strlen((const char *)text.data);

        while (n > 0 && text.data[n - 1] == ' ')
            text.data[--n] = '\0';
        log_info("tls", "client certificate refused: %s", (const char *)text.data);
        gnutls_free(text.data);
    } else {
        log_info("tls", "client certificate refused: %s",
                 rc == GNUTLS_E_SUCCESS ? "not trusted" : gnutls_strerror(rc));
    }
    return GNUTLS_E_CERTIFICATE_ERROR;
}

/* Read and check every file of @t; on success *@out holds new credentials
 * (one reference) and, when asked, the PEM texts (new). */
static bool
load(const struct tls *t, struct creds **out, char **cert_pem, char **key_pem, char *why,
     size_t why_size)
{
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0}, ca = {NULL, 0};
    gnutls_x509_crt_t *crts = NULL;
    unsigned n_crts = 0;
    gnutls_x509_privkey_t pkey = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    struct creds *c;
    bool ok = false;
    time_t expires;
    int rc;

    if (!read_file("certificate", t->cert_file, &cert, why, why_size) ||
        !read_file("key", t->key_file, &key, why, why_size))
        goto out;
    rc = gnutls_x509_crt_list_import2(&crts, &n_crts, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n_crts == 0) {
        snprintf(why, why_size, "certificate file %s holds no valid PEM certificate (%s)",
                 t->cert_file, rc < 0 ? gnutls_strerror(rc) : "empty");
        goto out;
    }
    expires = gnutls_x509_crt_get_expiration_time(crts[0]);
    if (expires != (time_t)-1 && expires < time(NULL)) {
        char when[32];

        format_time(expires, when, sizeof(when));
        snprintf(why, why_size, "certificate in %s expired on %s", t->cert_file, when);
        goto out;
    }
    if (gnutls_x509_privkey_init(&pkey) < 0)
        goto out;
    rc = gnutls_x509_privkey_import2(pkey, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        snprintf(why, why_size,
                 "key file %s holds no valid unencrypted PEM private key (%s)", t->key_file,
                 gnutls_strerror(rc));
        goto out;
    }
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(why, why_size, "cannot allocate TLS credentials");
        goto out;
    }
    rc = gnutls_certificate_set_x509_key(cred, crts, n_crts, pkey);
    if (rc < 0) {
        snprintf(why, why_size, rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH
                                    ? "key in %s does not match the certificate in %s"
                                    : "key in %s cannot be used with the certificate in %s (%s)",
                 t->key_file, t->cert_file, gnutls_strerror(rc));
        goto out;
    }
    if (t->ca_file[0] != '\0') {
        if (!read_file("client CA", t->ca_file, &ca, why, why_size))
            goto out;
        rc = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            snprintf(why, why_size, "client CA file %s holds no valid PEM certificate (%s)",
                     t->ca_file, rc < 0 ? gnutls_strerror(rc) : "empty");
            goto out;
        }
        gnutls_certificate_set_verify_function(cred, verify_client);
    }
    c = xcalloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->cred = cred;
    c->not_after = expires;
    cred = NULL;
    *out = c;
    if (cert_pem != NULL) {
        *cert_pem = (char *)cert.data;
        cert.data = NULL;
    }
    if (key_pem != NULL) {
        *key_pem = (char *)key.data;
        key.data = NULL;
    }
    ok = true;
out:
    if (cred != NULL)
        gnutls_certificate_free_credentials(cred);
    gnutls_x509_privkey_deinit(pkey);
    for (unsigned i = 0; i < n_crts; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    if (key.data != NULL)
        memset(key.data, 0, key.size);   /* the private key leaves memory with its use */
    free(key.data);
    free(cert.data);
    free(ca.data);
    return ok;
}

/* "loaded certificate FILE (expires DATE), key FILE[; client certificates
 * must chain to FILE]@tail". */
static void
log_loaded(const struct tls *t, const struct creds *c, const char *verb, const char *tail)
{
    char when[32];

    format_time(c->not_after, when, sizeof(when));
    log_info("tls", "%s certificate %s (expires %s), key %s%s%s%s", verb, t->cert_file, when,
             t->key_file, t->ca_file[0] != '\0' ? "; client certificates must chain to " : "",
             t->ca_file, tail);
}

enum usv_err
tls_create(const char *cert_file, const char *key_file, const char *client_ca_file,
           struct tls **out)
{
    gnutls_priority_t prio = NULL;
    char why[512];
    struct tls *t;
    int rc;

    *out = NULL;
    if (cert_file[0] == '\0' && key_file[0] == '\0' && client_ca_file[0] == '\0')
        return USV_OK;
    if (cert_file[0] == '\0' || key_file[0] == '\0') {
        log_error("tls", "%s", cert_file[0] == '\0'
                                   ? (key_file[0] == '\0'
                                          ? "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and "
                                            "TLS_KEY_FILE (mutual TLS is TLS)"
                                          : "TLS_KEY_FILE is set but TLS_CERT_FILE is not")
                                   : "TLS_CERT_FILE is set but TLS_KEY_FILE is not");
        return USV_BAD_REQUEST;
    }
    rc = gnutls_priority_init(&prio, TLS_PRIORITIES, NULL);
    if (rc < 0) {
        log_error("tls", "this GnuTLS refuses the priority string: %s", gnutls_strerror(rc));
        return USV_INTERNAL;
    }
    gnutls_priority_deinit(prio);
    t = xcalloc(1, sizeof(*t));
    t->cert_file = xstrdup(cert_file);
    t->key_file = xstrdup(key_file);
    t->ca_file = xstrdup(client_ca_file);
    pthread_mutex_init(&t->mu, NULL);
    if (!load(t, &t->current, &t->cert_pem, &t->key_pem, why, sizeof(why))) {
        log_error("tls", "%s", why);
        tls_destroy(t);
        return USV_BAD_REQUEST;
    }
    log_loaded(t, t->current, "loaded", "");
    *out = t;
    return USV_OK;
}

void
tls_destroy(struct tls *t)
{
    if (t == NULL)
        return;
    creds_unref(t->current);
    pthread_mutex_destroy(&t->mu);
    free(t->cert_file);
    free(t->key_file);
    free(t->ca_file);
    free(t->cert_pem);
    if (t->key_pem != NULL)
        memset(t->key_pem, 0, strlen(t->key_pem));
    free(t->key_pem);
    free(t);
}

bool
tls_is_mutual(const struct tls *t)
{
    return t != NULL && t->ca_file[0] != '\0';
}

size_t
tls_mhd_options(struct tls *t, struct MHD_OptionItem *items, unsigned *flags)
{
    size_t n = 0;

    /* Used by MHD only if tls_conn_open() found no session to equip. */
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert_pem};
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key_pem};
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                         (void *)(uintptr_t)TLS_PRIORITIES};
    *flags |= MHD_USE_TLS;
    return n;
}

enum usv_err
tls_reload(struct tls *t)
{
    struct creds *fresh = NULL, *old;
    char why[512];

    if (!load(t, &fresh, NULL, NULL, why, sizeof(why))) {
        log_error("tls", "reload failed, still serving the previous certificate: %s", why);
        return USV_BAD_REQUEST;
    }
    xlock(&t->mu);
    old = t->current;
    t->current = fresh;
    xunlock(&t->mu);
    log_loaded(t, fresh, "reloaded", "; new connections get them");
    creds_unref(old);   /* freed once the last connection using it closes */
    return USV_OK;
}

struct tls_conn *
tls_conn_open(struct tls *t, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    struct tls_conn *c;
    gnutls_session_t session;

    if (info == NULL || info->tls_session == NULL) {
        log_error("tls", "a connection has no TLS session to configure");
        return NULL;
    }
    session = (gnutls_session_t)info->tls_session;
    c = xcalloc(1, sizeof(*c));
    c->session = session;
    xlock(&t->mu);
    c->creds = t->current;
    atomic_fetch_add(&c->creds->refs, 1);
    xunlock(&t->mu);
    if (gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, c->creds->cred) < 0) {
        /* The session keeps MHD's start-up credentials, which verify no
         * client: without a struct tls_conn no request is served on it
         * under mutual TLS (see tls_conn_client_subject()). */
        log_error("tls", "cannot set the credentials of a connection");
        tls_conn_close(c);
        return NULL;
    }
    if (tls_is_mutual(t))
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    return c;
}

void
tls_conn_close(struct tls_conn *c)
{
    if (c == NULL)
        return;
    creds_unref(c->creds);
    free(c->subject);
    free(c);
}

/* @dn cut to at most TLS_MAX_SUBJECT bytes, never inside a UTF-8 sequence.
 * It is not escaped here: the logger quotes and escapes every text value
 * (spaces, quotes, backslashes, control bytes), so a crafted subject cannot
 * forge a log field, and the JSON log carries it as a JSON string. */
static char *
cut_dn(const char *dn)
{
    size_t n = strnlen(dn, TLS_MAX_SUBJECT + 1);

    if (n > TLS_MAX_SUBJECT) {
        n = TLS_MAX_SUBJECT;
        while (n > 0 && ((unsigned char)dn[n] & 0xC0) == 0x80)
            n--;
    }
    return xstrndup(dn, n);
}

const char *
tls_conn_client_subject(struct tls_conn *c)
{
    const gnutls_datum_t *chain;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    unsigned n = 0;

    if (c == NULL)
        return NULL;
    if (c->is_subject_done)
        return c->subject;
    c->is_subject_done = true;
    chain = gnutls_certificate_get_peers(c->session, &n);
    if (chain == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
        c->subject = cut_dn((const char *)dn.data);
        gnutls_free(dn.data);
    } else {
        c->subject = xstrdup("(unreadable)");   /* verified, but its subject cannot be shown */
    }
    gnutls_x509_crt_deinit(crt);
    return c->subject;
}
