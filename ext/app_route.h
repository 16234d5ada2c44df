/* The C app route's parts (ext/app_route.c, ext/socket_route.c, ext/redis_route.c): the app
 * calls of both drivers without Python. Each part does exactly what Python would (same bytes
 * on the wire, same errors) or declines before anything is sent; Python then does the call. */
#ifndef PYB_APP_ROUTE_H
#define PYB_APP_ROUTE_H

#include "php_pybroadcast.h"

#define PYB_CODE_NOT_SENT 1     /* pybroadcast/errors.py */
#define PYB_CODE_UNCONFIRMED 2

typedef enum { PYB_DECLINED, PYB_THREW, PYB_DONE } pyb_outcome;

/* The settings a route uses, as pybroadcast/settings.py resolves them (app_route.c). */
typedef struct {
    bool redis;                  /* the driver */
    char socket_path[108];       /* memory driver: the command socket */
    long long max_message;
    const char *redis_url;       /* as given; NULL: the default */
    const char *redis_prefix;    /* NULL: the default; plain (nothing Python would strip) */
    long long history_size;
    double history_ttl;          /* seconds */
} pyb_route_settings;

/* A published event (pybroadcast/events.py), already validated: name "" for none. */
typedef struct {
    const char *kind;
    const char *target;
    size_t target_len;
    const char *data;
    size_t data_len;
    const char *name;
    size_t name_len;
} pyb_event;

bool pyb_valid_utf8(const unsigned char *s, size_t len);

/* Waits for `fd` to be readable by polling it for up to PYB_SPIN_NS; false if it is not by then
 * (the caller then sleeps in poll()). See app_route.c for why. */
#define PYB_SPIN_NS 50000
bool pyb_spin_until_readable(int fd);

/* getChannelHistory()'s result, built the same way by every route. */
void pyb_history_add(zval *list, zend_long offset, const char *data, size_t data_len, const char *name,
                     size_t name_len);
void pyb_history_position(zval *position, const char *epoch, size_t epoch_len, zend_long top);

/* ext/socket_route.c: the memory driver's hub command socket */
pyb_outcome pyb_socket_publish(const pyb_route_settings *settings, const pyb_event *event);
pyb_outcome pyb_socket_members(const pyb_route_settings *settings, const char *channel, size_t len, zval *out);
pyb_outcome pyb_socket_history(const pyb_route_settings *settings, const char *channel, size_t len, zend_long limit,
                               zval *out, zval *position);

/* ext/redis_route.c: Redis, as pybroadcast/drivers/redis/route.py */
pyb_outcome pyb_redis_publish(const pyb_route_settings *settings, const pyb_event *event);
pyb_outcome pyb_redis_members(const pyb_route_settings *settings, const char *channel, size_t len, zval *out);
pyb_outcome pyb_redis_history(const pyb_route_settings *settings, const char *channel, size_t len, zend_long limit,
                              zval *out, zval *position);
void pyb_redis_prefork(const pyb_route_settings *settings);

#endif
