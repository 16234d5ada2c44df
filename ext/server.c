/* PyBroadcast\Server: holds the options and the PHP callbacks; running the hub
 * is the core's job (ext/core/hub_runner.c). */
#include "php_pybroadcast.h"
#include "zend_exceptions.h"

static zend_class_entry *server_ce;
static zend_object_handlers server_handlers;

static zend_object *server_create(zend_class_entry *ce)
{
    pyb_server *server = zend_object_alloc(sizeof(pyb_server), ce);
    for (int i = 0; i < SLOT_COUNT; i++) {
        ZVAL_UNDEF(&server->slots[i]);
    }
    array_init(&server->slots[SLOT_OPTIONS]);
    zend_object_std_init(&server->std, ce);
    object_properties_init(&server->std, ce);
    server->std.handlers = &server_handlers;
    return &server->std;
}

static void server_free(zend_object *object)
{
    pyb_server *server = pyb_server_from(object);
    for (int i = 0; i < SLOT_COUNT; i++) {
        zval_ptr_dtor(&server->slots[i]);
    }
    zend_object_std_dtor(object);
}

/* Callbacks often capture $server: let the cycle collector see them. */
static HashTable *server_get_gc(zend_object *object, zval **table, int *count)
{
    pyb_server *server = pyb_server_from(object);
    *table = server->slots;
    *count = SLOT_COUNT;
    return zend_std_get_properties(object);
}

/* --- methods ------------------------------------------------------------------ */

PHP_METHOD(PyBroadcast_Server, __construct)
{
    HashTable *options = NULL;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_ARRAY_HT(options)
    ZEND_PARSE_PARAMETERS_END();
    pyb_server *server = pyb_server_from(Z_OBJ_P(ZEND_THIS));
    if (options) {
        zval_ptr_dtor(&server->slots[SLOT_OPTIONS]);
        ZVAL_ARR(&server->slots[SLOT_OPTIONS], zend_array_dup(options));
    }
    const pyb_core_api *core = pyb_core();
    if (core) {
        core->check_options(server);
    }
}

static void set_callback(INTERNAL_FUNCTION_PARAMETERS, int slot)
{
    zend_fcall_info fci;
    zend_fcall_info_cache fcc;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_FUNC(fci, fcc)
    ZEND_PARSE_PARAMETERS_END();
    pyb_server *server = pyb_server_from(Z_OBJ_P(ZEND_THIS));
    if (server->running) {
        zend_release_fcall_info_cache(&fcc);
        zend_throw_exception(pyb_exception_ce, "callbacks cannot change while the server runs", 0);
        RETURN_THROWS();
    }
    /* Keep the callable itself; it is resolved again for each call. */
    zval_ptr_dtor(&server->slots[slot]);
    ZVAL_COPY(&server->slots[slot], &fci.function_name);
    zend_release_fcall_info_cache(&fcc);
    RETURN_OBJ_COPY(Z_OBJ_P(ZEND_THIS));
}

PHP_METHOD(PyBroadcast_Server, onAuthenticate) { set_callback(INTERNAL_FUNCTION_PARAM_PASSTHRU, SLOT_AUTHENTICATE); }
PHP_METHOD(PyBroadcast_Server, onAuthorize) { set_callback(INTERNAL_FUNCTION_PARAM_PASSTHRU, SLOT_AUTHORIZE); }
PHP_METHOD(PyBroadcast_Server, onJoin) { set_callback(INTERNAL_FUNCTION_PARAM_PASSTHRU, SLOT_JOIN); }
PHP_METHOD(PyBroadcast_Server, onLeave) { set_callback(INTERNAL_FUNCTION_PARAM_PASSTHRU, SLOT_LEAVE); }

PHP_METHOD(PyBroadcast_Server, run)
{
    ZEND_PARSE_PARAMETERS_NONE();
    pyb_server *server = pyb_server_from(Z_OBJ_P(ZEND_THIS));
    if (server->running) {
        zend_throw_exception(pyb_exception_ce, "this server is already running", 0);
        RETURN_THROWS();
    }
    const pyb_core_api *core = pyb_core();
    if (core) {
        core->run(server);
    }
}

void pyb_server_init_class(zend_class_entry *ce)
{
    server_ce = ce;
    server_ce->create_object = server_create;
    memcpy(&server_handlers, &std_object_handlers, sizeof server_handlers);
    server_handlers.offset = XtOffsetOf(pyb_server, std);
    server_handlers.free_obj = server_free;
    server_handlers.get_gc = server_get_gc;
    server_handlers.clone_obj = NULL;
}
