/* pybroadcast: what the PHP module (ext/) and the core (ext/core/) share.
 *
 * Why two shared objects: loading libpython costs every PHP process about a
 * millisecond (measured), even one that never calls us. So pybroadcast.so,
 * which PHP loads, does not link libpython; on first use it dlopen()s
 * pybroadcast_core.so, which embeds Python, and calls it through the table
 * below. A process that never calls pybroadcast never maps libpython. */
#ifndef PHP_PYBROADCAST_H
#define PHP_PYBROADCAST_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif
#include "php.h"

#define PHP_PYBROADCAST_VERSION "0.1.0"
#define PYB_CORE_API_VERSION 1

extern zend_module_entry pybroadcast_module_entry;
#define phpext_pybroadcast_ptr &pybroadcast_module_entry

/* PyBroadcast\Server's object: the options array, then the callables (IS_UNDEF when not set),
 * in the order of pybroadcast.seam.CALLBACKS. */
enum { SLOT_OPTIONS, SLOT_AUTHENTICATE, SLOT_AUTHORIZE, SLOT_JOIN, SLOT_LEAVE, SLOT_COUNT };

typedef struct {
    zval slots[SLOT_COUNT];
    bool running;
    zend_object std;
} pyb_server;

static inline pyb_server *pyb_server_from(zend_object *object)
{
    return (pyb_server *) ((char *) object - XtOffsetOf(pyb_server, std));
}

/* What the module gives the core. */
typedef struct {
    zend_class_entry *exception_ce;  /* PyBroadcast\Exception */
} pyb_host;

/* What the core gives the module. Every call runs on the PHP thread. */
typedef struct {
    int version;
    /* pybroadcast.seam.<function>(ini, *Py_BuildValue(format, ...)) into return_value (may be
     * NULL); "y#" lengths are passed as ssize_t, which is what Py_ssize_t is (checked in core.c) */
    void (*call_client)(zval *return_value, const char *function, const char *format, va_list args);
    void (*check_options)(pyb_server *server);   /* Server::__construct: ValueError for bad options */
    void (*run)(pyb_server *server);             /* Server::run */
    bool (*python_started)(void);
    void (*shutdown)(void);                      /* module shutdown: finalize when that cannot hang */
} pyb_core_api;

typedef const pyb_core_api *(*pyb_core_init_fn)(const pyb_host *host);
#define PYB_CORE_INIT_SYMBOL "pyb_core_init"

/* ext/pybroadcast.c */
extern zend_class_entry *pyb_exception_ce;
const pyb_core_api *pyb_core(void);  /* loads the core on first use; NULL after throwing */

/* ext/server.c */
void pyb_server_init_class(zend_class_entry *ce);

/* ext/app_route.c: the app calls from C (both drivers). false: declined, nothing was sent (Python
 * must handle the call); true: done (into return_value), or a PyBroadcast\Exception was thrown. */
bool pyb_fast_publish(const char *kind, const char *target, size_t target_len, const char *data, size_t data_len,
                      const char *name, size_t name_len);
bool pyb_fast_members(const char *channel, size_t channel_len, zval *return_value);
bool pyb_fast_history(const char *channel, size_t channel_len, zend_long limit, zval *return_value, zval *position);
/* In a process that forks its workers after module start-up (php-fpm's master, Apache's parent):
 * what every worker's first call would otherwise set up itself, done once. */
void pyb_fast_prefork(void);

#endif
