/* The memory driver's app calls over the hub's command socket (pybroadcast/drivers/memory/route.py,
 * SocketRoute): same request bytes, same trust rule (SO_PEERCRED), same 1 s deadline, same errors.
 * tests/test_app_route_c.py holds both languages to that. */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE  /* struct ucred (SO_PEERCRED) */
#endif
#include "app_route.h"
#include "zend_exceptions.h"
#include "zend_smart_str.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 1000          /* route.py's TIMEOUT: a request never hangs longer */
#define REPLY_LIMIT (1 << 28)    /* route.py's: a members() reply of a very large channel still fits */

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
    zend_throw_exception_ex(pyb_exception_ce, PYB_CODE_UNCONFIRMED,
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
        zend_throw_exception(pyb_exception_ce, ZSTR_VAL(message.s), PYB_CODE_NOT_SENT);
        smart_str_free(&message);
        return false;
    }
    if (!first || first_len != 2 || memcmp(first, "ok", 2) != 0) {
        unconfirmed(path, "malformed reply");
        return false;
    }
    array_init(out);
    while (at < len) {
        if (!(part = netstring(buf, len, &at, &part_len)) || !pyb_valid_utf8((const unsigned char *) part, part_len)) {
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
 * "ok"). PYB_DECLINED: nothing was sent (Python must do it). */
static pyb_outcome exchange(const char *path, const char **fields, const size_t *lens, int count, zval *out)
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
    pyb_outcome result = PYB_THREW;
    bool spun = false;
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
            if (!spun) {
                spun = true;
                if (pyb_spin_until_readable(fd)) continue;
            }
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

pyb_outcome pyb_socket_publish(const pyb_route_settings *settings, const pyb_event *event)
{
    /* wire.py: publish kind target data name exclude user */
    const char *fields[] = {"publish", event->kind, event->target, event->data, event->name, "", ""};
    const size_t lens[] = {7, strlen(event->kind), event->target_len, event->data_len, event->name_len, 0, 0};
    zval answer;
    ZVAL_UNDEF(&answer);
    pyb_outcome result = exchange(settings->socket_path, fields, lens, 7, &answer);
    if (result == PYB_DONE) {
        if (zend_hash_num_elements(Z_ARRVAL(answer)) != 0) {
            unconfirmed(settings->socket_path, "malformed reply");
            result = PYB_THREW;
        }
        zval_ptr_dtor(&answer);
    }
    return result;
}

pyb_outcome pyb_socket_members(const pyb_route_settings *settings, const char *channel, size_t len, zval *out)
{
    const char *fields[] = {"members", channel};
    const size_t lens[] = {7, len};
    return exchange(settings->socket_path, fields, lens, 2, out);
}

pyb_outcome pyb_socket_history(const pyb_route_settings *settings, const char *channel, size_t len, zend_long limit,
                               zval *out, zval *position)
{
    const char *path = settings->socket_path;
    char count[24];
    int n = snprintf(count, sizeof count, ZEND_LONG_FMT, limit);
    const char *fields[] = {"history", channel, count};
    const size_t lens[] = {7, len, (size_t) n};
    zval answer;
    ZVAL_UNDEF(&answer);
    pyb_outcome result = exchange(path, fields, lens, 3, &answer);
    if (result != PYB_DONE) return result;
    /* client.channel_history: [] and null when history is off; else epoch, top, (offset name data)... */
    HashTable *parts = Z_ARRVAL(answer);
    uint32_t count_parts = zend_hash_num_elements(parts);
    array_init(out);
    if (count_parts == 0) {
        if (position) ZEND_TRY_ASSIGN_REF_NULL(position);
    } else if (count_parts < 2 || (count_parts - 2) % 3 != 0) {
        zval_ptr_dtor(out);
        ZVAL_UNDEF(out);
        unconfirmed(path, "malformed reply");
        result = PYB_THREW;
    } else {
        zval *epoch = zend_hash_index_find(parts, 0), *top = zend_hash_index_find(parts, 1);
        for (uint32_t i = 2; i < count_parts; i += 3) {
            zval *offset = zend_hash_index_find(parts, i), *name = zend_hash_index_find(parts, i + 1);
            zval *data = zend_hash_index_find(parts, i + 2);
            pyb_history_add(out, ZEND_STRTOL(Z_STRVAL_P(offset), NULL, 10), Z_STRVAL_P(data), Z_STRLEN_P(data),
                            Z_STRVAL_P(name), Z_STRLEN_P(name));
        }
        pyb_history_position(position, Z_STRVAL_P(epoch), Z_STRLEN_P(epoch), ZEND_STRTOL(Z_STRVAL_P(top), NULL, 10));
    }
    zval_ptr_dtor(&answer);
    return result;
}
