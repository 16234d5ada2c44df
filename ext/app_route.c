/* The memory driver's app calls without Python: broadcast(), broadcastToUser(),
 * disconnectUser(), getChannelUsers() and getChannelHistory() talk to the hub's command
 * socket from C, so that an app process (a php-fpm worker) never starts an interpreter.
 *
 * It does exactly what pybroadcast/drivers/memory/route.py does (same request bytes, same
 * errors) or nothing at all: whenever it is not sure — a setting or an argument it does not
 * judge itself, no hub to connect to, an untrusted peer — it declines before a byte is sent,
 * and Python handles the call (and raises the same error it always did).
 * tests/test_app_route_c.py holds both paths to that on a shared corpus. */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE  /* struct ucred (SO_PEERCRED) */
#endif
#include "php_pybroadcast.h"
#include "php_ini.h"
#include "zend_exceptions.h"
#include "zend_smart_str.h"
#include "settings.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 1000          /* route.py's TIMEOUT: a request never hangs longer */
#define REPLY_LIMIT (1 << 28)    /* route.py's: a members() reply of a very large channel still fits */
#define DEFAULT_MAX_MESSAGE 65536
#define MAX_NAME 200             /* validation.py: MAX_CHANNEL, MAX_USER_ID, MAX_EVENT_NAME */
#define MAX_HISTORY_LIMIT 10000  /* validation.py */
#define CODE_NOT_SENT 1          /* errors.py */
#define CODE_UNCONFIRMED 2

static const char CHANNEL_CHARACTERS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;:";

/* How this route treats each setting (ext/settings.h): what Python would refuse, it must not accept. */
typedef enum {
    ANY_TEXT,        /* never refused by Python once it is UTF-8 */
    NUMBER_CHECKED,  /* php.ini's handler checked it already; from the environment: decline */
    DECLINE_IF_SET,  /* its parser can refuse it (or it changes the route): let Python judge */
    THE_DRIVER,
    THE_SOCKET,
} pyb_use;

#define PYB_ROUTE_SETTING(name, env, check, use) {name, env, use},
static const struct {
    const char *name;
    const char *env;
    pyb_use use;
} SETTINGS[] = {PYB_SETTINGS(PYB_ROUTE_SETTING)};

/* UTF-8 as Python's strict decoder takes it (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) { n = 2; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }
        else return false;
        if (len - i <= n) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
        }
        i += n + 1;
    }
    return true;
}

/* A user id or event name this route judges itself: 1-200 printable ASCII characters
 * (Python's isprintable() agrees on those; anything else is Python's to judge). */
static bool plain_name(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7E) return false;
    }
    return true;
}

static bool valid_channel(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME) return false;
    for (size_t i = 0; i < len; i++) {
        if (!s[i] || !strchr(CHANNEL_CHARACTERS, s[i])) return false;
    }
    return true;
}

static const char *ini_text(const char *name)
{
    char key[64];
    int n = snprintf(key, sizeof key, "pybroadcast.%s", name);
    const char *value = zend_ini_string_ex(key, (size_t) n, 0, NULL);
    return value && *value ? value : NULL;
}

/* Python strips a setting's whitespace (Unicode's: NBSP too): take only values whose first and
 * last characters are visible ASCII, which nothing strips. */
static bool plain_edges(const char *s)
{
    size_t len = strlen(s);
    return len && s[0] > 0x20 && s[0] < 0x7F && s[len - 1] > 0x20 && s[len - 1] < 0x7F;
}

/* The socket path and message limit Python would use; false: decline. */
static bool resolve(char *path, size_t path_size, long long *max_message)
{
    const char *socket_value = NULL;
    for (size_t i = 0; i < sizeof SETTINGS / sizeof SETTINGS[0]; i++) {
        const char *env = SETTINGS[i].env ? getenv(SETTINGS[i].env) : NULL;
        if (env && !*env) env = NULL;
        const char *ini = ini_text(SETTINGS[i].name);
        const char *value = env ? env : ini;
        switch (SETTINGS[i].use) {
        case ANY_TEXT:
            if (!env && ini && !valid_utf8((const unsigned char *) ini, strlen(ini))) return false;
            break;
        case NUMBER_CHECKED:
            if (env) return false;
            break;
        case DECLINE_IF_SET:
            if (value) return false;
            break;
        case THE_DRIVER:
            if (value && strcmp(value, "memory") != 0) return false;
            break;
        case THE_SOCKET:
            if (value && (!plain_edges(value) || !valid_utf8((const unsigned char *) value, strlen(value)))) {
                return false;
            }
            socket_value = value;
            break;
        }
    }
    int n;
    if (socket_value) {
        n = snprintf(path, path_size, "%s", socket_value);
    } else {  /* socket_trust.default_path() */
        const char *temp = getenv("TMPDIR");
        if (!temp || !*temp) temp = getenv("TEMP");
        if (!temp || !*temp) temp = getenv("TMP");
        if (!temp || !*temp) temp = "/tmp";
        size_t len = strlen(temp);
        n = snprintf(path, path_size, "%s%spybroadcast-%u/hub.sock", temp, temp[len - 1] == '/' ? "" : "/",
                     (unsigned) geteuid());
    }
    if (n < 0 || (size_t) n >= path_size) return false;
    const char *limit = ini_text("max_message_size");
    *max_message = limit ? strtoll(limit, NULL, 10) : DEFAULT_MAX_MESSAGE;
    return true;
}

/* --- the connection, one per process (as route.py keeps one) ----------------------- */

static int conn_fd = -1;
static pid_t conn_pid;
static char conn_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];

static void drop(void)
{
    if (conn_fd >= 0) close(conn_fd);
    conn_fd = -1;
}

static int remaining_ms(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int) ms : 0;
}

static bool wait_for(int fd, short events, const struct timespec *deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do {
        r = poll(&p, 1, remaining_ms(deadline));
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

/* A connection to a hub this process may trust (same uid or root, as socket_trust.check_peer);
 * -1 when there is none (Python will say why). */
static int connection(const char *path, const struct timespec *deadline)
{
    if (conn_fd >= 0 && (conn_pid != getpid() || strcmp(conn_path, path) != 0)) {
        drop();  /* forked (the parent keeps its own descriptor) or another socket */
    }
    if (conn_fd >= 0) {
        struct pollfd p = {.fd = conn_fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0) drop();  /* EOF or stray bytes: the hub went away since */
    }
    if (conn_fd >= 0) return conn_fd;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) return -1;
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *) &address, sizeof address) != 0) {
        int error = 0;
        socklen_t size = sizeof error;
        if ((errno != EINPROGRESS && errno != EAGAIN) || !wait_for(fd, POLLOUT, deadline)
                || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error) {
            close(fd);
            return -1;
        }
    }
    struct ucred peer;
    socklen_t size = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 || (peer.uid != geteuid() && peer.uid != 0)) {
        close(fd);
        return -1;
    }
    conn_fd = fd;
    conn_pid = getpid();
    strcpy(conn_path, path);
    return fd;
}

/* --- netstrings (pybroadcast/drivers/memory/wire.py) --------------------------------- */

static void field(smart_str *out, const char *s, size_t len)
{
    smart_str_append_unsigned(out, len);
    smart_str_appendc(out, ':');
    smart_str_appendl(out, s, len);
    smart_str_appendc(out, ',');
}

/* One netstring at *pos of buf[0..len): its body; NULL if malformed or incomplete. */
static const char *netstring(const char *buf, size_t len, size_t *pos, size_t *body_len)
{
    size_t i = *pos, n = 0, digits = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 20) {
        n = n * 10 + (size_t) (buf[i++] - '0');
        digits++;
    }
    if (!digits || i >= len || buf[i] != ':' || n > len - i - 1 || len - i - 1 - n < 1 || buf[i + 1 + n] != ',') {
        return NULL;
    }
    *body_len = n;
    *pos = i + 2 + n;
    return buf + i + 1;
}

/* The request went out but its answer did not come: drop the connection (it may be out of
 * step) and raise what Python's SocketRoute raises. `reason` is read before anything closes. */
static void unconfirmed(const char *path, const char *reason)
{
    drop();
    zend_throw_exception_ex(pyb_exception_ce, CODE_UNCONFIRMED,
        "pybroadcast hub at unix socket %s did not confirm the request: %s; it may still be delivered", path, reason);
}

/* A reply's fields after "ok" into `out` (a PHP list of strings), or the exception Python's
 * SocketRoute raises; false after throwing. */
static bool reply(const char *buf, size_t len, const char *path, zval *out)
{
    size_t at = 0, first_len, part_len;
    const char *first = netstring(buf, len, &at, &first_len), *part;
    if (first && first_len == 5 && memcmp(first, "error", 5) == 0) {
        smart_str message = {0};
        smart_str_appends(&message, "pybroadcast hub refused the request:");
        while ((part = netstring(buf, len, &at, &part_len))) {
            smart_str_appendc(&message, ' ');
            smart_str_appendl(&message, part, part_len);
        }
        smart_str_0(&message);
        zend_throw_exception(pyb_exception_ce, ZSTR_VAL(message.s), CODE_NOT_SENT);
        smart_str_free(&message);
        return false;
    }
    if (!first || first_len != 2 || memcmp(first, "ok", 2) != 0) {
        unconfirmed(path, "malformed reply");
        return false;
    }
    array_init(out);
    while (at < len) {
        if (!(part = netstring(buf, len, &at, &part_len)) || !valid_utf8((const unsigned char *) part, part_len)) {
            zval_ptr_dtor(out);
            ZVAL_UNDEF(out);
            unconfirmed(path, "malformed reply");
            return false;
        }
        add_next_index_stringl(out, part, part_len);
    }
    return true;
}

/* Sends `fields` as one request and reads the answer into `out` (the reply's fields after
 * "ok"). PYB_DECLINED: nothing was sent (Python must do it); PYB_THREW; PYB_DONE. */
typedef enum { PYB_DECLINED, PYB_THREW, PYB_DONE } pyb_exchange;

static pyb_exchange exchange(const char *path, const char **fields, const size_t *lens, int count, zval *out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += TIMEOUT_MS / 1000;
    int fd = connection(path, &deadline);
    if (fd < 0) return PYB_DECLINED;

    smart_str body = {0}, request = {0};
    for (int i = 0; i < count; i++) field(&body, fields[i], lens[i]);
    smart_str_0(&body);
    field(&request, ZSTR_VAL(body.s), ZSTR_LEN(body.s));
    smart_str_free(&body);
    size_t sent = 0, total = ZSTR_LEN(request.s);
    while (sent < total) {
        ssize_t n = send(fd, ZSTR_VAL(request.s) + sent, total - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t) n;
        } else if (n < 0 && (errno == EINTR || (errno == EAGAIN && wait_for(fd, POLLOUT, &deadline)))) {
            continue;
        } else {
            /* The hub did not take it (a partial request is dropped with the connection):
             * nothing happened, and Python will try and say why. */
            smart_str_free(&request);
            drop();
            return PYB_DECLINED;
        }
    }
    smart_str_free(&request);

    smart_str in = {0};
    pyb_exchange result = PYB_THREW;
    while (true) {
        size_t pos = 0, body_len;
        const char *answer = in.s ? netstring(ZSTR_VAL(in.s), ZSTR_LEN(in.s), &pos, &body_len) : NULL;
        if (answer) {
            if (pos != ZSTR_LEN(in.s)) {  /* more than one answer to one request */
                unconfirmed(path, "malformed reply");
            } else if (reply(answer, body_len, path, out)) {
                result = PYB_DONE;
            }
            break;
        }
        char chunk[65536];
        if (in.s && ZSTR_LEN(in.s) > REPLY_LIMIT) {
            unconfirmed(path, "malformed reply");
            break;
        }
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            smart_str_appendl(&in, chunk, (size_t) n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (wait_for(fd, POLLIN, &deadline)) continue;
            unconfirmed(path, "no answer within 1 s");
            break;
        } else {
            unconfirmed(path, n == 0 ? "the hub closed the connection" : strerror(errno));
            break;
        }
    }
    smart_str_free(&in);
    return result;
}

bool pyb_fast_publish(const char *kind, const char *target, size_t target_len, const char *data, size_t data_len,
                      const char *name, size_t name_len)
{
    char path[sizeof conn_path];
    long long max_message;
    if (!resolve(path, sizeof path, &max_message)) return false;
    bool to_channel = strcmp(kind, "message") == 0;
    if (to_channel ? !valid_channel(target, target_len) : !plain_name(target, target_len)) return false;
    if ((long long) data_len > max_message || !valid_utf8((const unsigned char *) data, data_len)) return false;
    if (name && !plain_name(name, name_len)) return false;
    /* wire.py: publish kind target data name exclude user */
    const char *fields[] = {"publish", kind, target, data, name ? name : "", "", ""};
    const size_t lens[] = {7, strlen(kind), target_len, data_len, name ? name_len : 0, 0, 0};
    zval answer;
    ZVAL_UNDEF(&answer);
    pyb_exchange result = exchange(path, fields, lens, 7, &answer);
    if (result == PYB_DONE) {
        if (zend_hash_num_elements(Z_ARRVAL(answer)) != 0) {
            unconfirmed(path, "malformed reply");
        }
        zval_ptr_dtor(&answer);
    }
    return result != PYB_DECLINED;
}

bool pyb_fast_members(const char *channel, size_t channel_len, zval *return_value)
{
    char path[sizeof conn_path];
    long long max_message;
    if (!resolve(path, sizeof path, &max_message) || !valid_channel(channel, channel_len)) return false;
    const char *fields[] = {"members", channel};
    const size_t lens[] = {7, channel_len};
    return exchange(path, fields, lens, 2, return_value) != PYB_DECLINED;
}

bool pyb_fast_history(const char *channel, size_t channel_len, zend_long limit, zval *return_value, zval *position)
{
    char path[sizeof conn_path], count[24];
    long long max_message;
    if (!resolve(path, sizeof path, &max_message) || !valid_channel(channel, channel_len)) return false;
    if (limit < 0 || limit > MAX_HISTORY_LIMIT) return false;
    int n = snprintf(count, sizeof count, ZEND_LONG_FMT, limit);
    const char *fields[] = {"history", channel, count};
    const size_t lens[] = {7, channel_len, (size_t) n};
    zval answer;
    ZVAL_UNDEF(&answer);
    pyb_exchange result = exchange(path, fields, lens, 3, &answer);
    if (result != PYB_DONE) return result != PYB_DECLINED;
    /* client.channel_history: [] and null when history is off; else epoch, top, (offset name data)... */
    HashTable *parts = Z_ARRVAL(answer);
    uint32_t count_parts = zend_hash_num_elements(parts);
    array_init(return_value);
    if (count_parts == 0) {
        if (position) ZEND_TRY_ASSIGN_REF_NULL(position);
    } else if (count_parts < 2 || (count_parts - 2) % 3 != 0) {
        zval_ptr_dtor(return_value);
        ZVAL_UNDEF(return_value);
        unconfirmed(path, "malformed reply");
    } else {
        zval *epoch = zend_hash_index_find(parts, 0), *top = zend_hash_index_find(parts, 1);
        for (uint32_t i = 2; i < count_parts; i += 3) {
            zval message, *offset = zend_hash_index_find(parts, i), *name = zend_hash_index_find(parts, i + 1);
            array_init(&message);
            add_assoc_long(&message, "offset", ZEND_STRTOL(Z_STRVAL_P(offset), NULL, 10));
            add_assoc_str(&message, "data", zend_string_copy(Z_STR_P(zend_hash_index_find(parts, i + 2))));
            if (Z_STRLEN_P(name)) {
                add_assoc_str(&message, "event", zend_string_copy(Z_STR_P(name)));
            } else {
                add_assoc_null(&message, "event");
            }
            add_next_index_zval(return_value, &message);
        }
        if (position) {
            zval found;
            array_init(&found);
            add_assoc_str(&found, "epoch", zend_string_copy(Z_STR_P(epoch)));
            add_assoc_long(&found, "offset", ZEND_STRTOL(Z_STRVAL_P(top), NULL, 10));
            ZEND_TRY_ASSIGN_REF_TMP(position, &found);
        }
    }
    zval_ptr_dtor(&answer);
    return true;
}
