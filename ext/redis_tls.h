/* The client TLS context of the C Redis route (ext/redis_tls.c), for rediss:// URLs. */
#ifndef PYB_REDIS_TLS_H
#define PYB_REDIS_TLS_H

#ifdef PYB_HAVE_OPENSSL
#include <openssl/ssl.h>

/* The context for these files ("" for none) and the key's password ("" for none), made once per
 * process and again when they change; NULL when a file cannot be used (the route then declines
 * and Python says why). */
SSL_CTX *pyb_tls_context(const char *ca_certs, const char *certfile, const char *keyfile, const char *password);

/* SSL_connect() on `ssl`, connected to `fd` (blocking). A process's first handshake uses the wait
 * for the server's first answer (its signature: ~0.5 ms) to warm up the certificate checks that
 * follow it, which a fresh php-fpm worker otherwise makes cold. */
bool pyb_tls_connect(SSL *ssl, int fd);

/* In a process about to fork workers (php-fpm's master, Apache's parent): OpenSSL's one-time
 * set-up and a context trusting ca_certs, so that the workers' first TLS connection is theirs
 * already. The client's own certificate and key are never read here. */
void pyb_tls_prefork(const char *ca_certs);
#endif

#endif
