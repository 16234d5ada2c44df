/* The client TLS context of the C Redis route: what it trusts (as redis-py does, see
 * pyb_tls_context), and what a forking process prepares for its workers (pyb_tls_prefork). */
#include "php_pybroadcast.h"
#include "redis_tls.h"

#ifdef PYB_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WANTED 1800  /* three of redis_target's 512-byte paths, its 256-byte password, separators */

/* Which file was read, and as it was then: a change to it changes its ctime at least. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} file_identity;

static file_identity identity_of(const struct stat *st)
{
    return (file_identity) {st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim};
}

static bool same_file(const file_identity *a, const file_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
        && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec
        && a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* `path` opened for reading, and which regular file it is: -1 for anything else. */
static int open_file(const char *path, file_identity *identity)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        *identity = identity_of(&st);
        return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

/* `path`'s certificates and CRLs trusted by `ctx`, as SSL_CTX_load_verify_locations() reads a CA
 * file (X509_load_cert_crl_file: PEM, "" as the password of anything encrypted, at least one
 * certificate or CRL), but from a descriptor, so that `read` names the file these bytes came from. */
static bool load_ca(SSL_CTX *ctx, const char *path, file_identity *read)
{
    int fd = open_file(path, read);
    if (fd < 0) return false;
    BIO *bio = BIO_new_fd(fd, BIO_CLOSE);
    if (!bio) {
        close(fd);
        return false;
    }
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, "");
    BIO_free(bio);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    bool ok = infos != NULL;
    for (int i = 0; ok && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509) ok = X509_STORE_add_cert(store, info->x509) == 1 && ++count;
        if (ok && info->crl) ok = X509_STORE_add_crl(store, info->crl) == 1 && ++count;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    return ok && count > 0;
}

/* Made by pyb_tls_prefork before the fork: a worker's first context is this one if it was made for
 * the same CA file and the worker, as its own user, opens that file and finds the very file the
 * master read, unchanged (else it reads its files itself, as without it): a worker never trusts a
 * CA it could not read, nor one its file no longer holds. Parsing one certificate costs OpenSSL 3.0
 * ~0.1 ms (its key decoders), ~0.25 ms in a fresh worker. */
static struct {
    SSL_CTX *ctx;
    char ca_certs[512];
    file_identity file;
} prepared;

static SSL_CTX *take_prepared(const char *ca_certs)
{
    SSL_CTX *ctx = prepared.ctx;
    prepared.ctx = NULL;
    if (!ctx) return NULL;
    bool fits = strcmp(prepared.ca_certs, ca_certs) == 0;
    if (fits && ca_certs[0]) {
        file_identity now;
        int fd = open_file(ca_certs, &now);
        fits = fd >= 0 && same_file(&now, &prepared.file);
        if (fd >= 0) close(fd);
    }
    if (!fits) SSL_CTX_free(ctx);
    return fits ? ctx : NULL;
}

/* An encrypted key's password: ssl_password's, else none (no prompt on the terminal: without
 * ssl_password, Python's to ask). */
static int key_password(char *buffer, int size, int rwflag, void *password)
{
    int len = (int) strlen(password);
    if (len > size) return 0;
    memcpy(buffer, password, (size_t) len);
    return len;
}

/* What Python's ssl.create_default_context() trusts, but for the system's CA bundle file: the
 * system's CA directory (looked up by hash when a certificate needs it) and ssl_ca_certs. Loading the
 * bundle (~140 CAs on Debian) took 16 ms of a first call; the directory holds the same CAs (both
 * made by update-ca-certificates), and a server only the bundle vouches for fails here and goes to
 * Python, which trusts more, never less. With ssl_certfile (and ssl_keyfile), the client's own
 * (its key unlocked with ssl_password, as Python's load_cert_chain does). */
SSL_CTX *pyb_tls_context(const char *ca_certs, const char *certfile, const char *keyfile, const char *password)
{
    static SSL_CTX *ctx;
    static char made_for[WANTED], password_of_ctx[256];
    char wanted[WANTED];
    snprintf(wanted, sizeof wanted, "%s\n%s\n%s\n%s", ca_certs, certfile, keyfile, password);
    if (ctx && strcmp(made_for, wanted) == 0) return ctx;
    if (ctx) SSL_CTX_free(ctx);
    ctx = take_prepared(ca_certs);
    bool trusting = ctx != NULL;  /* ca_certs loaded already */
    if (!ctx) ctx = SSL_CTX_new(TLS_client_method());
    snprintf(password_of_ctx, sizeof password_of_ctx, "%s", password);
    if (ctx) {
        SSL_CTX_set_default_passwd_cb(ctx, key_password);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, password_of_ctx);
    }
    file_identity read;
    if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 && SSL_CTX_set_default_verify_dir(ctx) == 1
            && (trusting || !ca_certs[0] || load_ca(ctx, ca_certs, &read))
            && (!certfile[0] || (SSL_CTX_use_certificate_chain_file(ctx, certfile) == 1
                                 && SSL_CTX_use_PrivateKey_file(ctx, keyfile[0] ? keyfile : certfile, SSL_FILETYPE_PEM) == 1
                                 && SSL_CTX_check_private_key(ctx) == 1))) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int major = 0, minor = 0;  /* Python 3.13's default context checks chains strictly (and takes partial ones) */
        if (sscanf(PYB_PYTHON_VERSION, "%d.%d", &major, &minor) == 2 && (major > 3 || (major == 3 && minor >= 13))) {
            X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx), X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN);
        }
        snprintf(made_for, sizeof made_for, "%s", wanted);
        return ctx;
    }
    if (ctx) SSL_CTX_free(ctx);
    ctx = NULL;
    ERR_clear_error();
    return NULL;
}

/* A trusted certificate of `ctx` parsed and its signature checked, as the server's will be: the code
 * and tables that takes are faulted in and cached. Nothing of it is kept or trusted. */
static void warm_up_checks(SSL_CTX *ctx)
{
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    X509 *trusted = NULL;
    for (int i = 0; !trusted && i < sk_X509_OBJECT_num(objects); i++) {
        trusted = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    }
    unsigned char *der = NULL;
    int len = trusted ? i2d_X509(trusted, &der) : 0;
    const unsigned char *in = der;
    X509 *copy = len > 0 ? d2i_X509(NULL, &in, len) : NULL;
    if (copy) X509_verify(copy, X509_get0_pubkey(copy));
    X509_free(copy);
    OPENSSL_free(der);
    ERR_clear_error();
}

bool pyb_tls_connect(SSL *ssl, int fd)
{
    static pid_t warmed;
    int flags;
    if (warmed != getpid() && (flags = fcntl(fd, F_GETFL)) >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
        warmed = getpid();
        int sent = SSL_connect(ssl);  /* the ClientHello goes out; the server's answer is not in yet */
        int error = SSL_get_error(ssl, sent);
        fcntl(fd, F_SETFL, flags);
        if (sent == 1) return true;
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return false;
        ERR_clear_error();
        if (error == SSL_ERROR_WANT_READ) warm_up_checks(SSL_get_SSL_CTX(ssl));
    }
    return SSL_connect(ssl) == 1;
}

/* A self-signed certificate for a throwaway P-256 key (the warm-up's server). */
static X509 *throwaway_certificate(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
    bool ok = name && X509_set_version(cert, X509_VERSION_3) == 1
        && ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1
        && X509_gmtime_adj(X509_getm_notBefore(cert), -60) && X509_gmtime_adj(X509_getm_notAfter(cert), 60)
        && X509_set_pubkey(cert, key) == 1
        && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "warm-up", -1, -1, 0) == 1
        && X509_set_issuer_name(cert, name) == 1 && X509_sign(cert, key, EVP_sha256()) > 0;
    if (!ok) X509_free(cert);
    return ok ? cert : NULL;
}

/* One TLS 1.3 handshake between two contexts of this process, through a pair of memory BIOs, the
 * client checking the server's certificate: the method caches and tables a worker's first handshake
 * fills (key exchange, signatures, certificate checks) are then filled before the fork, shared by
 * every worker (~0.1 MB less PSS each, measured in php-fpm). Nothing of it is kept; ~2.5 ms, once. */
static void warm_up(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? throwaway_certificate(key) : NULL;
    SSL_CTX *server_ctx = SSL_CTX_new(TLS_server_method()), *client_ctx = SSL_CTX_new(TLS_client_method());
    SSL *server = NULL, *client = NULL;
    BIO *client_end = NULL, *server_end = NULL;
    if (cert && server_ctx && client_ctx && SSL_CTX_use_certificate(server_ctx, cert) == 1
            && SSL_CTX_use_PrivateKey(server_ctx, key) == 1
            && X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), cert) == 1
            && (server = SSL_new(server_ctx)) && (client = SSL_new(client_ctx))
            && BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1) {
        SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
        SSL_set_bio(client, client_end, client_end);
        SSL_set_bio(server, server_end, server_end);
        bool connected = false, accepted = false;
        for (int turn = 0; turn < 8 && !(connected && accepted); turn++) {  /* a handshake takes 2-3 turns */
            connected = connected || SSL_connect(client) == 1;
            accepted = accepted || SSL_accept(server) == 1;
        }
    }
    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(server_ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
}

void pyb_tls_prefork(const char *ca_certs)
{
    warm_up();
    if (prepared.ctx) SSL_CTX_free(prepared.ctx);
    prepared.ctx = SSL_CTX_new(TLS_client_method());
    if (prepared.ctx && ca_certs[0] && !load_ca(prepared.ctx, ca_certs, &prepared.file)) {
        SSL_CTX_free(prepared.ctx);
        prepared.ctx = NULL;
    }
    snprintf(prepared.ca_certs, sizeof prepared.ca_certs, "%s", ca_certs);
    ERR_clear_error();
}
#endif
