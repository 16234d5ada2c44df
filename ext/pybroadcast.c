/* pybroadcast: the module, its php.ini settings and the app-side functions.
 * Each function hands its arguments to pybroadcast.client (Python, in the
 * core), which validates them and routes the request. */
#include "php_pybroadcast.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "ext/spl/spl_exceptions.h"
#include "pybroadcast_arginfo.h"

#include <dlfcn.h>

zend_class_entry *pyb_exception_ce;

PHP_INI_BEGIN()
    PHP_INI_ENTRY("pybroadcast.python", PYB_DEFAULT_PYTHON, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.hub_path", PYB_DEFAULT_HUB_PATH, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.core", PYB_DEFAULT_CORE, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.listen", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.allowed_origins", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.driver", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.redis_url", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.redis_prefix", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.socket", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.socket_owner", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.auth_url", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.max_message_size", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.presence_ttl", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.callback_timeout", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.ping_interval", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.max_channels", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.max_frame_rate", "", PHP_INI_ALL, NULL)
PHP_INI_END()

/* --- the core, loaded on first use ------------------------------------------ */

static const pyb_core_api *core;

const pyb_core_api *pyb_core(void)
{
    if (core) {
        return core;
    }
    const char *path = zend_ini_string_ex("pybroadcast.core", sizeof("pybroadcast.core") - 1, 0, NULL);
    /* RTLD_GLOBAL: Python's own C modules (_asyncio, _socket, ...) must find libpython's symbols. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    pyb_core_init_fn init = handle ? (pyb_core_init_fn) dlsym(handle, PYB_CORE_INIT_SYMBOL) : NULL;
    if (!init) {
        zend_throw_exception_ex(pyb_exception_ce, 0, "cannot load the pybroadcast core %s: %s", path, dlerror());
        return NULL;
    }
    const pyb_host host = { .exception_ce = pyb_exception_ce };
    const pyb_core_api *api = init(&host);
    if (!api || api->version != PYB_CORE_API_VERSION) {
        zend_throw_exception_ex(pyb_exception_ce, 0, "%s is from another pybroadcast build (rebuild with make)", path);
        return NULL;
    }
    core = api;
    return core;
}

/* Forwards to pybroadcast.client.<function> in the core (see core.c). */
static void call_client(zval *return_value, const char *function, const char *format, ...)
{
    const pyb_core_api *api = pyb_core();
    if (api) {
        va_list args;
        va_start(args, format);
        api->call_client(return_value, function, format, args);
        va_end(args);
    }
}

#define STR(s) ZSTR_VAL(s), (ssize_t) ZSTR_LEN(s)

PHP_FUNCTION(broadcast)
{
    zend_string *channel, *message;
    ZEND_PARSE_PARAMETERS_START(2, 2)
        Z_PARAM_STR(channel)
        Z_PARAM_STR(message)
    ZEND_PARSE_PARAMETERS_END();
    call_client(NULL, "broadcast", "(y#y#)", STR(channel), STR(message));
}

PHP_FUNCTION(broadcastToUser)
{
    zend_string *user = NULL, *message;
    zend_long user_number = 0;
    ZEND_PARSE_PARAMETERS_START(2, 2)
        Z_PARAM_STR_OR_LONG(user, user_number)
        Z_PARAM_STR(message)
    ZEND_PARSE_PARAMETERS_END();
    if (user) {
        call_client(NULL, "broadcast_to_user", "(y#y#)", STR(user), STR(message));
    } else {
        call_client(NULL, "broadcast_to_user", "(Ly#)", (long long) user_number, STR(message));
    }
}

PHP_FUNCTION(getChannelUsers)
{
    zend_string *channel;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(channel)
    ZEND_PARSE_PARAMETERS_END();
    call_client(return_value, "channel_users", "(y#)", STR(channel));
}

PHP_FUNCTION(disconnectUser)
{
    zend_string *user = NULL;
    zend_long user_number = 0;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR_OR_LONG(user, user_number)
    ZEND_PARSE_PARAMETERS_END();
    if (user) {
        call_client(NULL, "disconnect_user", "(y#)", STR(user));
    } else {
        call_client(NULL, "disconnect_user", "(L)", (long long) user_number);
    }
}

PHP_MINIT_FUNCTION(pybroadcast)
{
    REGISTER_INI_ENTRIES();
    pyb_exception_ce = register_class_PyBroadcast_Exception(spl_ce_RuntimeException);
    pyb_server_init_class(register_class_PyBroadcast_Server());
    return SUCCESS;
}

PHP_MSHUTDOWN_FUNCTION(pybroadcast)
{
    if (core) {
        core->shutdown();
    }
    UNREGISTER_INI_ENTRIES();
    return SUCCESS;
}

PHP_MINFO_FUNCTION(pybroadcast)
{
    php_info_print_table_start();
    php_info_print_table_row(2, "pybroadcast support", "enabled");
    php_info_print_table_row(2, "Version", PHP_PYBROADCAST_VERSION);
    php_info_print_table_row(2, "Embedded Python", PYB_PYTHON_VERSION);
    php_info_print_table_row(2, "Python interpreter", core && core->python_started() ? "started" : "not started");
    php_info_print_table_end();
    DISPLAY_INI_ENTRIES();
}

zend_module_entry pybroadcast_module_entry = {
    STANDARD_MODULE_HEADER,
    "pybroadcast",
    ext_functions,
    PHP_MINIT(pybroadcast),
    PHP_MSHUTDOWN(pybroadcast),
    NULL,
    NULL,
    PHP_MINFO(pybroadcast),
    PHP_PYBROADCAST_VERSION,
    STANDARD_MODULE_PROPERTIES
};

#ifdef COMPILE_DL_PYBROADCAST
ZEND_GET_MODULE(pybroadcast)
#endif
