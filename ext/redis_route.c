/* The Redis driver's app calls with hiredis, as pybroadcast/drivers/redis/route.py (RedisRoute)
 * makes them with redis-py: the same commands with the same arguments (the Lua scripts are the
 * same files, embedded at build time: ext/redis_scripts.h), one connection per process, the same
 * timeouts (0.5 s to connect, 1 s for a reply) and the same errors.
 *
 * rediss:// (TLS): hiredis 0.14 (Debian's) has no TLS, so hiredis still connects, formats commands
 * and parses replies, and OpenSSL carries the bytes in between. It verifies the server as redis-py
 * does (its chain, and its name unless ssl_check_hostname is false); where it cannot tell whether
 * Python would accept a server (a CA only the system's bundle file holds), it fails to connect and
 * declines, so it never accepts a server Python would refuse.
 *
 * It declines (nothing sent; Python does the call and says what is wrong) for a URL it does not
 * read exactly as redis-py would (query options other than db and rediss://'s ssl_* files,
 * ssl_cert_reqs, ssl_check_hostname and ssl_password, percent-escapes...), when it cannot connect
 * or log in, and when a read's reply is not what it expects; reads have no side effects, so Python
 * may do them again. A publish that went out is never sent again: a lost reply raises "did not
 * confirm" (PyBroadcast\Exception code 2), as Python does. */
#include "app_route.h"

#ifndef PYB_HAVE_HIREDIS  /* built without hiredis: Python does every Redis call */
pyb_outcome pyb_redis_publish(const pyb_route_settings *settings, const pyb_event *event) { return PYB_DECLINED; }
pyb_outcome pyb_redis_members(const pyb_route_settings *settings, const char *channel, size_t len, zval *out)
{
    return PYB_DECLINED;
}
pyb_outcome pyb_redis_history(const pyb_route_settings *settings, const char *channel, size_t len, zend_long limit,
                              zval *out, zval *position)
{
    return PYB_DECLINED;
}
void pyb_redis_prefork(const pyb_route_settings *settings) {}
#else

#include "zend_exceptions.h"
#include "zend_smart_str.h"
#include "ext/json/php_json.h"
#include "redaction.h"
#include "redis_scripts.h"
#include "redis_tls.h"

#include <hiredis/hiredis.h>
#ifdef PYB_HAVE_OPENSSL
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_URL "redis://127.0.0.1:6379/0"  /* settings.py */
#define DEFAULT_PREFIX "pybroadcast"
#define POSITION_TTL 86400.0                     /* drivers/history.py */
#define MAX_ARGS 12

static const char *const KINDS[] = {"message", "direct", "disconnect", "join", "leave"};  /* events.py */

/* A redis_url as redis-py reads it (redis.connection.parse_url), for the forms taken here. */
typedef struct {
    bool unix_socket;
    bool tls;            /* rediss:// */
    char ca_certs[512];  /* rediss://...?ssl_ca_certs=<file>: trusted beside the system's CAs */
    char certfile[512];  /* ssl_certfile, ssl_keyfile: the client's certificate and key (mutual TLS) */
    char keyfile[512];
    bool unverified;     /* rediss://...?ssl_cert_reqs=none: any certificate, any name (redis-py's meaning) */
    bool any_name;       /* ssl_check_hostname=false: a certificate the CAs vouch for, for any name */
    char key_password[256];  /* ssl_password: for an encrypted key */
    char host[256];  /* or the socket's path */
    int port;
    char user[256];
    char password[256];
    bool login;
    long db;
    const char *url;  /* as given (alive for the call), for messages: see show_url */
    size_t path_at;   /* where its path begins */
    bool port_given;
} redis_target;

static bool copy_part(char *to, size_t size, const char *from, size_t len)
{
    if (len >= size) return false;
    memcpy(to, from, len);
    to[len] = '\0';
    return true;
}

/* An absolute path of [A-Za-z0-9/._-] (nothing parse_qs would decode), given once. */
static bool path_option(const char *value, size_t len, char *to, size_t size)
{
    if (!len || value[0] != '/' || to[0] || !copy_part(to, size, value, len)) return false;
    for (const char *c = to; *c; c++) {
        if (!isalnum((unsigned char) *c) && !strchr("/._-", *c)) return false;
    }
    return true;
}

/* A value of these characters only: ones that neither parse_qs nor redis-py's unquote() changes. */
static bool plain_value(const char *value, size_t len, const char *others)
{
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char) value[i]) && !strchr(others, value[i])) return false;
    }
    return len > 0;
}

/* redis-py's to_bool(): these words, in any case, are false; any other is true. */
static bool false_word(const char *value, size_t len)
{
    static const char *const words[] = {"0", "F", "FALSE", "N", "NO"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (strlen(words[i]) == len && strncasecmp(value, words[i], len) == 0) return true;
    }
    return false;
}

/* The URL options taken here, each at most once, with values parse_qs and redis-py read as this
 * does (no escapes, no '+'): db=<digits> (which redis-py prefers to the path's), and for rediss://
 * ssl_ca_certs, ssl_certfile, ssl_keyfile (paths; a key file needs a certificate file, as Python's
 * load_cert_chain does), ssl_cert_reqs=none|optional|required (optional is required for a
 * client, as Python's ssl module says), ssl_check_hostname (a word) and ssl_password. */
static bool parse_query(const char *query, redis_target *t, bool *db_given)
{
    bool reqs_given = false, check_given = false;
    while (*query) {
        const char *end = strchr(query, '&');
        size_t len = end ? (size_t) (end - query) : strlen(query);
        const char *equals = memchr(query, '=', len);
        if (!equals) return false;
        size_t name_len = (size_t) (equals - query), value_len = len - name_len - 1;
        const char *value = equals + 1;
#define NAMED(name) (name_len == sizeof name - 1 && strncmp(query, name, name_len) == 0)
        if (NAMED("db")) {
            if (*db_given || !value_len || value_len > 9 || strspn(value, "0123456789") < value_len) return false;
            t->db = atol(value);
            *db_given = true;
        } else if (!t->tls) {
            return false;
        } else if (NAMED("ssl_ca_certs")) {
            if (!path_option(value, value_len, t->ca_certs, sizeof t->ca_certs)) return false;
        } else if (NAMED("ssl_certfile")) {
            if (!path_option(value, value_len, t->certfile, sizeof t->certfile)) return false;
        } else if (NAMED("ssl_keyfile")) {
            if (!path_option(value, value_len, t->keyfile, sizeof t->keyfile)) return false;
        } else if (NAMED("ssl_cert_reqs") && !reqs_given) {
            t->unverified = value_len == 4 && strncmp(value, "none", 4) == 0;
            if (!t->unverified && !(value_len == 8 && (strncmp(value, "optional", 8) == 0
                                                      || strncmp(value, "required", 8) == 0))) {
                return false;
            }
            reqs_given = true;
        } else if (NAMED("ssl_check_hostname") && !check_given) {
            if (!plain_value(value, value_len, "")) return false;
            t->any_name = false_word(value, value_len);
            check_given = true;
        } else if (NAMED("ssl_password") && !t->key_password[0]) {
            if (!plain_value(value, value_len, "-._~!$'()*,:@/=")
                    || !copy_part(t->key_password, sizeof t->key_password, value, value_len)) {
                return false;
            }
        } else {
            return false;
        }
#undef NAMED
        query += len + (end != NULL);
    }
    return !t->keyfile[0] || t->certfile[0];
}

static bool parse_url(const char *full_url, redis_target *t)
{
    memset(t, 0, sizeof *t);
    t->url = full_url;
    char url[1024];  /* without rediss://'s query */
    const char *query = strchr(full_url, '?');
    size_t url_len = query ? (size_t) (query - full_url) : strlen(full_url);
    if (!copy_part(url, sizeof url, full_url, url_len)) return false;
#ifdef PYB_HAVE_OPENSSL
    t->tls = strncmp(url, "rediss://", 9) == 0;
#endif
    bool db_given = false;
    if (query && !parse_query(query + 1, t, &db_given)) return false;
    if (strpbrk(url, "#%[]\\ ")) return false;  /* escapes, IPv6: redis-py's to read */
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        t->unix_socket = true;
        return path[0] == '/' && !strchr(path, '@') && copy_part(t->host, sizeof ((struct sockaddr_un *) 0)->sun_path,
                                                                   path, strlen(path));
    }
    const char *scheme = t->tls ? "rediss" : "redis";
    size_t scheme_len = strlen(scheme);
    if (strncmp(url, scheme, scheme_len) != 0 || strncmp(url + scheme_len, "://", 3) != 0) return false;
    const char *netloc = url + scheme_len + 3, *slash = strchr(netloc, '/');
    const char *end = slash ? slash : netloc + strlen(netloc), *path = end;
    const char *at = NULL;
    for (const char *p = netloc; p < end; p++) {
        if (*p == '@') at = p;  /* urlsplit: the last '@' ends the user info */
    }
    const char *host = netloc;
    if (at) {
        const char *colon = memchr(netloc, ':', (size_t) (at - netloc));
        /* a user without a password, or an empty password: redis-py's rules are its own */
        if (!colon || colon + 1 == at || !copy_part(t->user, sizeof t->user, netloc, (size_t) (colon - netloc))
                || !copy_part(t->password, sizeof t->password, colon + 1, (size_t) (at - colon - 1))) {
            return false;
        }
        t->login = true;
        host = at + 1;
    }
    const char *colon = memchr(host, ':', (size_t) (end - host));
    const char *host_end = colon ? colon : end;
    if (host_end == host || !copy_part(t->host, sizeof t->host, host, (size_t) (host_end - host))) return false;
    for (char *c = t->host; *c; c++) {
        if (!isalnum((unsigned char) *c) && *c != '.' && *c != '-') return false;
        *c = (char) tolower((unsigned char) *c);  /* urlsplit's hostname is lower case */
    }
    t->port = 6379;
    if (colon) {
        size_t digits = (size_t) (end - colon - 1);
        if (!digits || digits > 5 || strspn(colon + 1, "0123456789") < digits) return false;
        t->port = atoi(colon + 1);
        if (t->port < 1 || t->port > 65535) return false;
    }
    if (*path && strcmp(path, "/") != 0 && !db_given) {  /* "/<db>"; redis-py reads other paths its own way */
        size_t digits = strlen(path + 1);
        if (digits > 9 || strspn(path + 1, "0123456789") != digits) return false;
        t->db = atol(path + 1);
    }
    t->path_at = (size_t) (path - url);
    t->port_given = colon != NULL;
    return true;
}

/* t's URL as pybroadcast/redaction.py's redact_url() shows it: without its password (the host then
 * as urlsplit reads it: lower case, the port a number) nor ssl_password's value. Made for a message
 * only, not on every call. */
static void show_url(smart_str *out, const redis_target *t)
{
    if (!t->login) {
        pyb_redact_url(t->url, strlen(t->url), out);
    } else {
        smart_str_append_printf(out, "%s://%s:***@%s", t->tls ? "rediss" : "redis", t->user, t->host);
        if (t->port_given) smart_str_append_printf(out, ":%d", t->port);
        pyb_redact_url(t->url + t->path_at, strlen(t->url + t->path_at), out);  /* the path and query */
    }
    smart_str_0(out);
}

/* --- one command ---------------------------------------------------------------------- */

typedef struct {
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    int argc;
} command;

static void arg(command *cmd, const char *s, size_t len)
{
    cmd->argv[cmd->argc] = s;
    cmd->lens[cmd->argc++] = len;
}

/* --- the connection, one per process (as RedisRoute keeps one) ----------------------- */

typedef struct {
    redisContext *c;  /* NULL: no connection */
    void *tls;        /* SSL *, for rediss:// */
} redis_link;

static redis_link conn;
static pid_t conn_pid;
static char conn_url[1024];

static void drop(void)
{
#ifdef PYB_HAVE_OPENSSL
    if (conn.tls) SSL_free(conn.tls);  /* no close_notify: in a forked child it would end the parent's session */
#endif
    if (conn.c) redisFree(conn.c);  /* in a forked child this closes only the child's descriptor */
    conn.c = NULL;
    conn.tls = NULL;
}

static bool ok_reply(redisReply *reply)
{
    bool ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (reply) freeReplyObject(reply);
    return ok;
}

#ifdef PYB_HAVE_OPENSSL
/* TLS over hiredis's connected socket (its send and receive timeouts bound the handshake too),
 * the certificate checked for the URL's host as Python checks it (an IP address against the
 * certificate's IP names, no partial wildcards), unless ssl_cert_reqs=none or
 * ssl_check_hostname=false (then for its chain only); SNI for a host name. */
static void *tls_start(redisContext *c, const redis_target *t)
{
    SSL_CTX *ctx = pyb_tls_context(t->ca_certs, t->certfile, t->keyfile, t->key_password);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    unsigned char address[16];
    bool ip = inet_pton(AF_INET, t->host, address) == 1 || inet_pton(AF_INET6, t->host, address) == 1;
    bool ok = ssl && SSL_set_fd(ssl, c->fd) == 1 && (ip || SSL_set_tlsext_host_name(ssl, t->host) == 1);  /* SNI */
    if (ok && t->unverified) {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    } else if (ok && t->any_name) {
        /* ssl_check_hostname=false: the chain only */
    } else if (ok && ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host) == 1;
    } else if (ok) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl, t->host) == 1;
    }
    ok = ok && pyb_tls_connect(ssl, c->fd) && (t->unverified || SSL_get_verify_result(ssl) == X509_V_OK);
    if (!ok && ssl) SSL_free(ssl);
    ERR_clear_error();
    return ok ? ssl : NULL;
}
#endif

typedef enum { SENT_NOTHING, LOST, TIMED_OUT, ANSWERED } exchange_result;

#define TIMEOUT_REASON "Timeout reading from socket"  /* redis-py's words */

/* `count` commands in one write (a TLS record, or one send()). */
static bool send_commands(redis_link *l, const command *cmds, int count)
{
#ifdef PYB_HAVE_OPENSSL
    if (l->tls) {
        smart_str bytes = {0};
        for (int i = 0; i < count; i++) {
            char *one;
            int len = redisFormatCommandArgv(&one, cmds[i].argc, (const char **) cmds[i].argv, cmds[i].lens);
            if (len < 0) {
                smart_str_free(&bytes);
                return false;
            }
            smart_str_appendl(&bytes, one, (size_t) len);
            redisFreeCommand(one);
        }
        int len = (int) ZSTR_LEN(bytes.s);
        int written = SSL_write(l->tls, ZSTR_VAL(bytes.s), len);  /* all or nothing (no partial-write mode) */
        smart_str_free(&bytes);
        ERR_clear_error();
        return written == len;
    }
#endif
    for (int i = 0; i < count; i++) {
        if (redisAppendCommandArgv(l->c, cmds[i].argc, (const char **) cmds[i].argv, cmds[i].lens) != REDIS_OK) {
            return false;
        }
    }
    int written = 0;
    while (!written) {
        if (redisBufferWrite(l->c, &written) != REDIS_OK) return false;
    }
    return true;
}

static bool send_command(redis_link *l, const command *cmd)
{
    return send_commands(l, cmd, 1);
}

/* ANSWERED, or TIMED_OUT (the socket's receive timeout) or LOST. */
static exchange_result read_reply(redis_link *l, void **answer)
{
#ifdef PYB_HAVE_OPENSSL
    if (l->tls) {
        for (;;) {
            if (redisReaderGetReply(l->c->reader, answer) != REDIS_OK) return LOST;
            if (*answer) return ANSWERED;
            if (!SSL_pending(l->tls)) pyb_spin_until_readable(l->c->fd);
            char buffer[16384];
            int got = SSL_read(l->tls, buffer, sizeof buffer);
            if (got > 0) {
                if (redisReaderFeed(l->c->reader, buffer, (size_t) got) != REDIS_OK) return LOST;
                continue;
            }
            int error = SSL_get_error(l->tls, got);
            bool timeout = error == SSL_ERROR_WANT_READ || (error == SSL_ERROR_SYSCALL && errno == EAGAIN);
            ERR_clear_error();
            return timeout ? TIMED_OUT : LOST;
        }
    }
#endif
    if (redisReaderGetReply(l->c->reader, answer) != REDIS_OK) return LOST;
    if (*answer) return ANSWERED;  /* read already, with an earlier one */
    pyb_spin_until_readable(l->c->fd);  /* then hiredis reads (or sleeps, up to the 1 s timeout) */
    if (redisGetReply(l->c, answer) == REDIS_OK && *answer) return ANSWERED;
    bool timeout = l->c->err == REDIS_ERR_IO && strcmp(l->c->errstr, strerror(EAGAIN)) == 0;  /* SO_RCVTIMEO */
    return timeout ? TIMED_OUT : LOST;
}

/* Sends `cmd` and reads its reply. SENT_NOTHING: not (wholly) written, the connection is
 * dropped and Redis ran nothing; LOST or TIMED_OUT: sent, but no reply (`reason` says why). */
static exchange_result exchange(redis_link *l, const command *cmd, redisReply **reply, const char **reason)
{
    *reply = NULL;
    if (!send_command(l, cmd)) {
        drop();
        return SENT_NOTHING;
    }
    void *answer = NULL;
    exchange_result result = read_reply(l, &answer);
    if (result != ANSWERED) {
        *reason = result == TIMED_OUT ? TIMEOUT_REASON : "Connection closed by server.";  /* redis-py's words */
        drop();
        return result;
    }
    *reply = answer;
    return ANSWERED;
}

/* A connection that is logged in and on the right database; NULL when there is none (Python will
 * try and say why). */
static redis_link *connection(const char *url, const redis_target *t)
{
    if (conn.c && (conn_pid != getpid() || strcmp(conn_url, url) != 0)) drop();
    if (conn.c) {
        struct pollfd p = {.fd = conn.c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0) drop();  /* closed by Redis since (a restart, its idle timeout) */
    }
    if (conn.c) return &conn;
    struct timeval connect_timeout = {0, 500000}, command_timeout = {1, 0};  /* keys.py */
    redisContext *c = t->unix_socket ? redisConnectUnixWithTimeout(t->host, connect_timeout)
                                     : redisConnectWithTimeout(t->host, t->port, connect_timeout);
    if (!c || c->err || redisSetTimeout(c, command_timeout) != REDIS_OK) {
        if (c) redisFree(c);
        return NULL;
    }
    fcntl(c->fd, F_SETFD, FD_CLOEXEC);
    conn.c = c;
    conn_pid = getpid();
    snprintf(conn_url, sizeof conn_url, "%s", url);
#ifdef PYB_HAVE_OPENSSL
    if (t->tls && !(conn.tls = tls_start(c, t))) {
        drop();
        return NULL;
    }
#endif
    /* AUTH (redis-py: user and password, or the password alone), SELECT, then a PING: a Redis answers
     * (a TLS port, say, would not), else a first publish would be "unconfirmed" where nothing could
     * have run. redis-py too makes a round trip when it connects. Sent together, read in turn: one
     * round trip, not three (after a refused AUTH, Redis refuses the others: nothing runs). */
    command setup[3] = {{.argc = 0}};
    int count = 0;
    char db[16];
    if (t->login) {
        arg(&setup[count], "AUTH", 4);
        if (t->user[0]) arg(&setup[count], t->user, strlen(t->user));
        arg(&setup[count++], t->password, strlen(t->password));
    }
    if (t->db) {
        arg(&setup[count], "SELECT", 6);
        arg(&setup[count++], db, (size_t) snprintf(db, sizeof db, "%ld", t->db));
    }
    arg(&setup[count++], "PING", 4);
    bool ok = send_commands(&conn, setup, count);
    for (int i = 0; i < count && ok; i++) {
        void *reply = NULL;
        ok = read_reply(&conn, &reply) == ANSWERED && ok_reply(reply);
    }
    if (!ok) drop();
    return ok ? &conn : NULL;
}

/* A script by its SHA1, loaded first if Redis does not have it (what redis-py's Script does). */
static exchange_result run_script(redis_link *c, const char *sha, const char *text, command *cmd,
                                  redisReply **reply, const char **reason)
{
    exchange_result result = exchange(c, cmd, reply, reason);
    if (result != ANSWERED || (*reply)->type != REDIS_REPLY_ERROR || strncmp((*reply)->str, "NOSCRIPT", 8) != 0) {
        return result;
    }
    freeReplyObject(*reply);
    command load = {.argc = 0};
    arg(&load, "SCRIPT", 6);
    arg(&load, "LOAD", 4);
    arg(&load, text, strlen(text));
    result = exchange(c, &load, reply, reason);
    if (result != ANSWERED || (*reply)->type == REDIS_REPLY_ERROR) {
        return result;  /* nothing ran (NOSCRIPT), or what went wrong, as Python reports it */
    }
    bool loaded = (*reply)->type == REDIS_REPLY_STRING && strcmp((*reply)->str, sha) == 0;
    freeReplyObject(*reply);
    *reply = NULL;
    if (!loaded) {  /* not the script we sent: not a Redis we understand */
        *reason = "malformed reply";
        drop();
        return LOST;
    }
    return exchange(c, cmd, reply, reason);
}

static void script_call(command *cmd, const char *sha, int keys)
{
    static char counts[4][2] = {"0", "1", "2", "3"};
    cmd->argc = 0;
    arg(cmd, "EVALSHA", 7);
    arg(cmd, sha, 40);
    arg(cmd, counts[keys], 1);
}

/* The errors route.py raises --------------------------------------------------------- */

static void unconfirmed(const redis_target *t, const char *reason)
{
    smart_str shown = {0};
    show_url(&shown, t);
    zend_throw_exception_ex(pyb_exception_ce, PYB_CODE_UNCONFIRMED,
        "redis at %s did not confirm the publish: %s; it may still be delivered", ZSTR_VAL(shown.s), reason);
    smart_str_free(&shown);
}

/* An error reply, as redis-py words it (its parse_error drops a known error code). */
static void refused(const redis_target *t, const redisReply *reply)
{
    static const char *const CODES[] = {"ERR", "OOM", "WRONGPASS", "EXECABORT", "LOADING", "NOSCRIPT", "READONLY",
                                        "NOAUTH", "NOPERM", "ASK", "TRYAGAIN", "MOVED", "CLUSTERDOWN", "CROSSSLOT",
                                        "MASTERDOWN"};
    const char *text = reply->str, *space = strchr(text, ' ');
    size_t code_len = space ? (size_t) (space - text) : strlen(text);
    for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++) {
        if (strlen(CODES[i]) == code_len && strncmp(text, CODES[i], code_len) == 0) {
            text = space ? space + 1 : "";
            break;
        }
    }
    smart_str shown = {0};
    show_url(&shown, t);
    zend_throw_exception_ex(pyb_exception_ce, PYB_CODE_NOT_SENT, "redis at %s refused the request: %s", ZSTR_VAL(shown.s),
                            text);
    smart_str_free(&shown);
}

/* --- what is published --------------------------------------------------------------- */

/* codec.encode: the six published fields (kind target data name exclude user) as a JSON array,
 * written as Python's json.dumps(ensure_ascii=False, separators=(",", ":")) writes it: PHP's encoder
 * with nothing but control characters, quotes and backslashes escaped. */
static void encode_event(smart_str *out, const pyb_event *e)
{
    zval fields;
    array_init_size(&fields, 6);
    add_next_index_string(&fields, e->kind);
    add_next_index_stringl(&fields, e->target, e->target_len);
    add_next_index_stringl(&fields, e->data, e->data_len);
    add_next_index_stringl(&fields, e->name, e->name_len);
    add_next_index_str(&fields, ZSTR_EMPTY_ALLOC());
    add_next_index_str(&fields, ZSTR_EMPTY_ALLOC());
    php_json_encode_ex(out, &fields, PHP_JSON_UNESCAPED_UNICODE | PHP_JSON_UNESCAPED_SLASHES
                                      | PHP_JSON_UNESCAPED_LINE_TERMINATORS, 2);
    smart_str_0(out);
    zval_ptr_dtor(&fields);
}

static long long milliseconds(double seconds)  /* redis/history.py _ms */
{
    long long ms = (long long) (seconds * 1000);
    return ms > 1 ? ms : 1;
}

/* KeySpace.history_keys: [position, stream, generation] of a channel, as KEYS of `cmd`. */
static void history_keys(command *cmd, smart_str keys[3], const char *prefix, const char *channel, size_t len)
{
    smart_str_append_printf(&keys[0], "%s:history:%.*s:position", prefix, (int) len, channel);
    smart_str_append_printf(&keys[1], "%s:history:%.*s:stream", prefix, (int) len, channel);
    smart_str_append_printf(&keys[2], "%s:history-generation", prefix);
    for (int i = 0; i < 3; i++) arg(cmd, ZSTR_VAL(keys[i].s), ZSTR_LEN(keys[i].s));
}

static void free_keys(smart_str keys[3])
{
    for (int i = 0; i < 3; i++) smart_str_free(&keys[i]);
}

typedef struct {
    redis_target target;
    const char *url;
    const char *prefix;
} route;

static bool open_route(const pyb_route_settings *settings, route *r)
{
    r->url = settings->redis_url ? settings->redis_url : DEFAULT_URL;
    r->prefix = settings->redis_prefix ? settings->redis_prefix : DEFAULT_PREFIX;
    return parse_url(r->url, &r->target);
}

pyb_outcome pyb_redis_publish(const pyb_route_settings *settings, const pyb_event *event)
{
    route r;
    if (!open_route(settings, &r)) return PYB_DECLINED;
    bool recorded = settings->history_size > 0 && strcmp(event->kind, "message") == 0;
    smart_str topic = {0}, payload = {0}, keys[3] = {{0}};
    if (strcmp(event->kind, "message") == 0) {  /* KeySpace.topic_for */
        smart_str_append_printf(&topic, "%s:ch:%.*s", r.prefix, (int) event->target_len, event->target);
    } else {
        smart_str_append_printf(&topic, "%s:users", r.prefix);
    }
    smart_str_0(&topic);
    encode_event(&payload, event);
    command cmd = {.argc = 0};
    char size[24], ttl[24], position_ttl[24], epoch[17];
    if (recorded) {  /* history.publish_call */
        unsigned char random[8];
        if (getrandom(random, sizeof random, 0) != sizeof random) {
            smart_str_free(&topic);
            smart_str_free(&payload);
            return PYB_DECLINED;
        }
        for (int i = 0; i < 8; i++) snprintf(epoch + 2 * i, 3, "%02x", random[i]);
        script_call(&cmd, LUA_PUBLISH_SHA, 3);
        history_keys(&cmd, keys, r.prefix, event->target, event->target_len);
        arg(&cmd, ZSTR_VAL(topic.s), ZSTR_LEN(topic.s));
        arg(&cmd, ZSTR_VAL(payload.s), ZSTR_LEN(payload.s));
        arg(&cmd, size, (size_t) snprintf(size, sizeof size, "%lld", settings->history_size));
        arg(&cmd, ttl, (size_t) snprintf(ttl, sizeof ttl, "%lld", milliseconds(settings->history_ttl)));
        double kept = settings->history_ttl > POSITION_TTL ? settings->history_ttl : POSITION_TTL;
        arg(&cmd, position_ttl, (size_t) snprintf(position_ttl, sizeof position_ttl, "%lld", milliseconds(kept)));
        arg(&cmd, epoch, 16);
    } else {
        arg(&cmd, "PUBLISH", 7);
        arg(&cmd, ZSTR_VAL(topic.s), ZSTR_LEN(topic.s));
        arg(&cmd, ZSTR_VAL(payload.s), ZSTR_LEN(payload.s));
    }
    pyb_outcome outcome = PYB_DECLINED;
    redis_link *c = connection(r.url, &r.target);
    if (c) {
        redisReply *reply;
        const char *reason = NULL;
        exchange_result result = recorded ? run_script(c, LUA_PUBLISH_SHA, LUA_PUBLISH, &cmd, &reply, &reason)
                                          : exchange(c, &cmd, &reply, &reason);
        if (result == LOST || result == TIMED_OUT) {
            unconfirmed(&r.target, reason);
            outcome = PYB_THREW;
        } else if (result == ANSWERED) {
            outcome = reply->type == REDIS_REPLY_ERROR ? (refused(&r.target, reply), PYB_THREW) : PYB_DONE;
            freeReplyObject(reply);
        }
    }
    smart_str_free(&topic);
    smart_str_free(&payload);
    free_keys(keys);
    return outcome;
}

/* See redis_tls.h: nothing to prepare for redis://. */
void pyb_redis_prefork(const pyb_route_settings *settings)
{
#ifdef PYB_HAVE_OPENSSL
    route r;
    if (open_route(settings, &r) && r.target.tls) pyb_tls_prefork(r.target.ca_certs);
#endif
}

/* A read: its reply, NULL after declining (nothing to undo: reads write nothing) or throwing.
 * Python raises "did not confirm" for a read that timed out too; another lost reply it retries. */
static redisReply *read_script(const route *r, const char *sha, const char *text, command *cmd, pyb_outcome *outcome)
{
    *outcome = PYB_DECLINED;
    redis_link *c = connection(r->url, &r->target);
    if (!c) return NULL;
    redisReply *reply;
    const char *reason = NULL;
    exchange_result result = run_script(c, sha, text, cmd, &reply, &reason);
    if (result == TIMED_OUT) {
        unconfirmed(&r->target, reason);
        *outcome = PYB_THREW;
    }
    if (result != ANSWERED) return NULL;
    if (reply->type == REDIS_REPLY_ERROR) {
        refused(&r->target, reply);
        *outcome = PYB_THREW;
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

static bool text_reply(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STRING && pyb_valid_utf8((const unsigned char *) reply->str, reply->len);
}

pyb_outcome pyb_redis_members(const pyb_route_settings *settings, const char *channel, size_t len, zval *out)
{
    route r;
    if (!open_route(settings, &r)) return PYB_DECLINED;
    smart_str conns = {0};
    smart_str_append_printf(&conns, "%s:presence:%.*s:conns", r.prefix, (int) len, channel);
    command cmd;
    script_call(&cmd, LUA_MEMBERS_SHA, 1);
    arg(&cmd, ZSTR_VAL(conns.s), ZSTR_LEN(conns.s));
    pyb_outcome outcome;
    redisReply *reply = read_script(&r, LUA_MEMBERS_SHA, LUA_MEMBERS, &cmd, &outcome);
    smart_str_free(&conns);
    if (!reply) return outcome;
    outcome = reply->type == REDIS_REPLY_ARRAY ? PYB_DONE : PYB_DECLINED;
    for (size_t i = 0; outcome == PYB_DONE && i < reply->elements; i++) {
        if (!text_reply(reply->element[i])) outcome = PYB_DECLINED;
    }
    if (outcome == PYB_DONE) {
        array_init_size(out, (uint32_t) reply->elements);
        for (size_t i = 0; i < reply->elements; i++) {
            add_next_index_stringl(out, reply->element[i]->str, reply->element[i]->len);
        }
    }
    freeReplyObject(reply);
    return outcome;
}

/* A recorded event (codec.decode) with its eight fields: its message into `list`; false for
 * anything else, which Python then judges. */
static bool add_recorded(zval *list, const redisReply *raw)
{
    zval fields;
    if (raw->type != REDIS_REPLY_STRING || php_json_decode_ex(&fields, raw->str, raw->len, 0, 2) != SUCCESS) {
        return false;
    }
    bool ok = Z_TYPE(fields) == IS_ARRAY && zend_hash_num_elements(Z_ARRVAL(fields)) == 8
        && zend_array_is_list(Z_ARRVAL(fields));
    zval *f[8];
    for (int i = 0; ok && i < 8; i++) {
        f[i] = zend_hash_index_find(Z_ARRVAL(fields), i);
        ok = i == 6 ? Z_TYPE_P(f[i]) == IS_LONG && Z_LVAL_P(f[i]) > 0 : Z_TYPE_P(f[i]) == IS_STRING;
    }
    bool known = false;
    for (size_t k = 0; ok && k < sizeof KINDS / sizeof KINDS[0]; k++) known |= zend_string_equals_cstr(Z_STR_P(f[0]), KINDS[k], strlen(KINDS[k]));
    if (ok && known) {
        pyb_history_add(list, Z_LVAL_P(f[6]), Z_STRVAL_P(f[2]), Z_STRLEN_P(f[2]), Z_STRVAL_P(f[3]), Z_STRLEN_P(f[3]));
    }
    zval_ptr_dtor(&fields);
    return ok && known;
}

pyb_outcome pyb_redis_history(const pyb_route_settings *settings, const char *channel, size_t len, zend_long limit,
                              zval *out, zval *position)
{
    route r;
    if (!open_route(settings, &r)) return PYB_DECLINED;
    if (settings->history_size == 0) {  /* history is off: nothing to read */
        array_init(out);
        if (position) ZEND_TRY_ASSIGN_REF_NULL(position);
        return PYB_DONE;
    }
    smart_str keys[3] = {{0}};
    char count[24];
    command cmd;
    script_call(&cmd, LUA_READ_HISTORY_SHA, 3);  /* history.read_call */
    history_keys(&cmd, keys, r.prefix, channel, len);
    arg(&cmd, "", 0);
    arg(&cmd, count, (size_t) snprintf(count, sizeof count, ZEND_LONG_FMT, limit));
    pyb_outcome outcome;
    redisReply *reply = read_script(&r, LUA_READ_HISTORY_SHA, LUA_READ_HISTORY, &cmd, &outcome);
    free_keys(keys);
    if (!reply) return outcome;
    /* {epoch, top, now, event...} (history.page) */
    outcome = PYB_DECLINED;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3 && text_reply(reply->element[0])
            && text_reply(reply->element[1]) && text_reply(reply->element[2])
            && reply->element[1]->len && reply->element[1]->len <= 18
            && strspn(reply->element[1]->str, "0123456789") == reply->element[1]->len) {
        array_init(out);
        outcome = PYB_DONE;
        for (size_t i = 3; outcome == PYB_DONE && i < reply->elements; i++) {
            if (!add_recorded(out, reply->element[i])) outcome = PYB_DECLINED;
        }
        if (outcome == PYB_DONE) {
            pyb_history_position(position, reply->element[0]->str, reply->element[0]->len,
                                 ZEND_STRTOL(reply->element[1]->str, NULL, 10));
        } else {
            zval_ptr_dtor(out);
            ZVAL_UNDEF(out);
        }
    }
    freeReplyObject(reply);
    return outcome;
}

#endif
