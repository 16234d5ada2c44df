/* broadcast(), broadcastToUser(), disconnectUser(), getChannelUsers() and getChannelHistory()
 * without Python, for both drivers: the memory driver's hub command socket (socket_route.c) and
 * Redis (redis_route.c), so that an app process (a php-fpm worker) never starts an interpreter.
 *
 * This file judges the settings and the arguments exactly as pybroadcast/settings.py and
 * validation.py would, or declines: whenever it is not sure — a setting or an argument it does
 * not judge itself — nothing is sent and Python handles the call (and raises the same error it
 * always did). tests/test_app_route_c.py and tests/test_redis_route_c.py hold both languages to
 * that on shared corpora. */
#include "app_route.h"
#include "php_ini.h"
#include "settings.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_MESSAGE 65536
#define DEFAULT_HISTORY_SIZE 100  /* settings.py */
#define DEFAULT_HISTORY_TTL 300.0
#define MAX_NAME 200             /* validation.py: MAX_CHANNEL, MAX_USER_ID, MAX_EVENT_NAME */
#define MAX_HISTORY_LIMIT 10000  /* validation.py */

static const char CHANNEL_CHARACTERS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;:";

/* How this route treats each setting (ext/settings.h): what Python would refuse, it must not accept. */
typedef enum {
    ANY_TEXT,        /* never refused by Python once it is UTF-8 */
    NUMBER_CHECKED,  /* php.ini's handler checked it already; from the environment: decline */
    DECLINE_IF_SET,  /* its parser can refuse it (or it changes the route): let Python judge */
    THE_DRIVER,
    THE_SOCKET,
    THE_REDIS_URL,
    THE_REDIS_PREFIX,
    THE_HISTORY_SIZE,  /* numbers as NUMBER_CHECKED, and used */
    THE_HISTORY_TTL,
} pyb_use;

#define PYB_ROUTE_SETTING(name, env, check, use) {name, env, use},
static const struct {
    const char *name;
    const char *env;
    pyb_use use;
} SETTINGS[] = {PYB_SETTINGS(PYB_ROUTE_SETTING)};

/* UTF-8 as Python's strict decoder takes it (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
bool pyb_valid_utf8(const unsigned char *s, size_t len)
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

/* A plain visible-ASCII text (see plain_edges) that is UTF-8, as Python reads it. */
static bool plain_text(const char *s)
{
    return plain_edges(s) && pyb_valid_utf8((const unsigned char *) s, strlen(s));
}

/* history_ttl as php.ini gives it: digits with an optional fraction (what Python's float() reads
 * the same way as strtod); anything else (exponents, "inf", spaces) is Python's to read. */
static bool plain_seconds(const char *s, double *seconds)
{
    size_t digits = strspn(s, "0123456789");
    if (!digits || digits > 12) return false;
    if (s[digits] == '.') {
        size_t fraction = strspn(s + digits + 1, "0123456789");
        if (!fraction || fraction > 6 || s[digits + 1 + fraction]) return false;
    } else if (s[digits]) {
        return false;
    }
    *seconds = strtod(s, NULL);
    return *seconds > 0;
}

/* The memory driver's command socket: the one set, or socket_trust.default_path(); false if too long. */
static bool socket_path(const char *set, char *path, size_t size)
{
    int n;
    if (set) {
        n = snprintf(path, size, "%s", set);
    } else {
        const char *temp = getenv("TMPDIR");
        if (!temp || !*temp) temp = getenv("TEMP");
        if (!temp || !*temp) temp = getenv("TMP");
        if (!temp || !*temp) temp = "/tmp";
        size_t len = strlen(temp);
        n = snprintf(path, size, "%s%spybroadcast-%u/hub.sock", temp, temp[len - 1] == '/' ? "" : "/",
                     (unsigned) geteuid());
    }
    return n >= 0 && (size_t) n < size;
}

/* The settings Python would use (settings.resolve: environment > php.ini > default); false: decline. */
static bool resolve(pyb_route_settings *out)
{
    const char *socket_value = NULL;
    memset(out, 0, sizeof *out);
    out->history_size = DEFAULT_HISTORY_SIZE;
    out->history_ttl = DEFAULT_HISTORY_TTL;
    for (size_t i = 0; i < sizeof SETTINGS / sizeof SETTINGS[0]; i++) {
        const char *env = SETTINGS[i].env ? getenv(SETTINGS[i].env) : NULL;
        if (env && !*env) env = NULL;
        const char *ini = ini_text(SETTINGS[i].name);
        const char *value = env ? env : ini;
        switch (SETTINGS[i].use) {
        case ANY_TEXT:
            if (!env && ini && !pyb_valid_utf8((const unsigned char *) ini, strlen(ini))) return false;
            break;
        case NUMBER_CHECKED:
            if (env) return false;
            break;
        case DECLINE_IF_SET:
            if (value) return false;
            break;
        case THE_DRIVER:
            if (value && strcmp(value, "memory") != 0 && strcmp(value, "redis") != 0) return false;
            out->redis = value && strcmp(value, "redis") == 0;
            break;
        case THE_SOCKET:
            if (value && !plain_text(value)) return false;
            socket_value = value;
            break;
        case THE_REDIS_URL:
            if (value && !plain_text(value)) return false;
            out->redis_url = value;
            break;
        case THE_REDIS_PREFIX:
            if (value && !plain_text(value)) return false;
            out->redis_prefix = value;
            break;
        case THE_HISTORY_SIZE:
            if (env) return false;
            if (value) {  /* php.ini checked it is a count; take plain digits only */
                if (strspn(value, "0123456789") != strlen(value) || strlen(value) > 15) return false;
                out->history_size = strtoll(value, NULL, 10);
            }
            break;
        case THE_HISTORY_TTL:
            if (env || (value && !plain_seconds(value, &out->history_ttl))) return false;
            break;
        }
    }
    const char *limit = ini_text("max_message_size");
    out->max_message = limit ? strtoll(limit, NULL, 10) : DEFAULT_MAX_MESSAGE;
    return out->redis || socket_path(socket_value, out->socket_path, sizeof out->socket_path);
}

/* Why spin: a reply comes back in ~20 µs, but a process that sleeps for it must be woken by the
 * hub (or Redis), and waking a sleeping process on another core costs both sides more than the
 * whole exchange (an inter-processor interrupt; in a VM, an exit to the hypervisor). Measured by
 * `make bench` (warm broadcast(), hub on the other core): sleeping 61-68 µs a call and ~30 µs of
 * hub CPU; polling first 21-27 µs and ~15 µs of hub CPU, for no more client CPU. A reply later
 * than PYB_SPIN_NS means a busy server: then sleeping is cheaper. */
bool pyb_spin_until_readable(int fd)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        char byte;
        ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EINTR)) return true;  /* data, EOF or an error to read */
        sched_yield();  /* the server may be waiting for this core: let it answer */
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) < PYB_SPIN_NS);
    return false;
}

void pyb_history_add(zval *list, zend_long offset, const char *data, size_t data_len, const char *name,
                     size_t name_len)
{
    zval message;
    array_init(&message);
    add_assoc_long(&message, "offset", offset);
    add_assoc_stringl(&message, "data", data, data_len);
    if (name_len) {
        add_assoc_stringl(&message, "event", name, name_len);
    } else {
        add_assoc_null(&message, "event");
    }
    add_next_index_zval(list, &message);
}

void pyb_history_position(zval *position, const char *epoch, size_t epoch_len, zend_long top)
{
    if (!position) return;
    zval found;
    array_init(&found);
    add_assoc_stringl(&found, "epoch", epoch, epoch_len);
    add_assoc_long(&found, "offset", top);
    ZEND_TRY_ASSIGN_REF_TMP(position, &found);
}

bool pyb_fast_publish(const char *kind, const char *target, size_t target_len, const char *data, size_t data_len,
                      const char *name, size_t name_len)
{
    pyb_route_settings settings;
    if (!resolve(&settings)) return false;
    bool to_channel = strcmp(kind, "message") == 0;
    if (to_channel ? !valid_channel(target, target_len) : !plain_name(target, target_len)) return false;
    if ((long long) data_len > settings.max_message || !pyb_valid_utf8((const unsigned char *) data, data_len)) {
        return false;
    }
    if (name && !plain_name(name, name_len)) return false;
    pyb_event event = {kind, target, target_len, data, data_len, name ? name : "", name ? name_len : 0};
    pyb_outcome done = settings.redis ? pyb_redis_publish(&settings, &event) : pyb_socket_publish(&settings, &event);
    return done != PYB_DECLINED;
}

bool pyb_fast_members(const char *channel, size_t channel_len, zval *return_value)
{
    pyb_route_settings settings;
    if (!resolve(&settings) || !valid_channel(channel, channel_len)) return false;
    pyb_outcome done = settings.redis ? pyb_redis_members(&settings, channel, channel_len, return_value)
                                      : pyb_socket_members(&settings, channel, channel_len, return_value);
    return done != PYB_DECLINED;
}

bool pyb_fast_history(const char *channel, size_t channel_len, zend_long limit, zval *return_value, zval *position)
{
    pyb_route_settings settings;
    if (!resolve(&settings) || !valid_channel(channel, channel_len)) return false;
    if (limit < 0 || limit > MAX_HISTORY_LIMIT) return false;
    pyb_outcome done = settings.redis
        ? pyb_redis_history(&settings, channel, channel_len, limit, return_value, position)
        : pyb_socket_history(&settings, channel, channel_len, limit, return_value, position);
    return done != PYB_DECLINED;
}

void pyb_fast_prefork(void)
{
    pyb_route_settings settings;
    if (resolve(&settings) && settings.redis) pyb_redis_prefork(&settings);
}
