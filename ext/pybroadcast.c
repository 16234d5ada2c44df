/* pybroadcast: the module, its php.ini settings and the app-side functions.
 * Each function hands its arguments to pybroadcast.client (Python, in the
 * core), which validates them and routes the request. */
#include "php_pybroadcast.h"
#include "php_ini.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "ext/spl/spl_exceptions.h"
#include "pybroadcast_arginfo.h"
#include "redaction.h"
#include "settings.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <errno.h>

zend_class_entry *pyb_exception_ce;

/* A number setting is refused at once when it is out of range ("" = not set);
 * pybroadcast/settings.py checks every value again. mh_arg1: "int" or "number"
 * (positive) or "count" (a whole number, 0 or more). */
static ZEND_INI_MH(pyb_ini_number)
{
    const char *text = ZSTR_VAL(new_value), *end = text + ZSTR_LEN(new_value);
    char *parsed_end = NULL;
    if (ZSTR_LEN(new_value) == 0) {
        return SUCCESS;
    }
    errno = 0;
    if (strcmp((const char *) mh_arg1, "count") == 0) {
        if (!isdigit((unsigned char) text[0])) return FAILURE;  /* strtoll would take a sign or spaces */
        long long number = strtoll(text, &parsed_end, 10);
        if (errno || parsed_end != end || number < 0) return FAILURE;
    } else if (strcmp((const char *) mh_arg1, "int") == 0) {
        long long number = strtoll(text, &parsed_end, 10);
        if (errno || parsed_end != end || number <= 0) return FAILURE;
    } else {
        double number = zend_strtod(text, (const char **) &parsed_end);
        if (parsed_end != end || !(number > 0) || !zend_finite(number)) return FAILURE;
    }
    return SUCCESS;
}

#define PYB_INI_TEXT(name) PHP_INI_ENTRY("pybroadcast." name, "", PHP_INI_ALL, NULL)
#define PYB_INI_SECRET(name) PHP_INI_ENTRY_EX("pybroadcast." name, "", PHP_INI_ALL, NULL, pyb_display_secret)
#define PYB_INI_URL(name) PHP_INI_ENTRY_EX("pybroadcast." name, "", PHP_INI_ALL, NULL, pyb_display_url)
#define PYB_INI_NUMBER(name, kind) PHP_INI_ENTRY1("pybroadcast." name, "", PHP_INI_ALL, pyb_ini_number, (void *) kind)
#define PYB_INI_INT(name) PYB_INI_NUMBER(name, "int")
#define PYB_INI_REAL(name) PYB_INI_NUMBER(name, "number")
#define PYB_INI_COUNT(name) PYB_INI_NUMBER(name, "count")
#define PYB_INI_SETTING(name, env, check, use) PYB_INI_##check(name)

/* One entry per setting (ext/settings.h); tests/test_seam.py checks them against
 * pybroadcast/settings.py. The first three configure the extension. */
PHP_INI_BEGIN()
    PHP_INI_ENTRY("pybroadcast.python", PYB_DEFAULT_PYTHON, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.hub_path", PYB_DEFAULT_HUB_PATH, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.core", PYB_DEFAULT_CORE, PHP_INI_SYSTEM, NULL)
    PYB_SETTINGS(PYB_INI_SETTING)
PHP_INI_END()

/* --- the core, loaded on first use ------------------------------------------ */

static const pyb_core_api *core;

/* Whether the libpython the core brought in is the build's (from PYB_PYTHON_LIBDIR, the core's
 * RUNPATH). If this process's user cannot read that one, the loader takes any other libpython of the
 * same name it finds (a distribution's), whose Python is not the one the virtualenv's packages were
 * installed for: imports then fail, far from the cause. `loaded`: the file it took. */
static bool builds_libpython(void *handle, const char *core_path, char *loaded, size_t size)
{
    Dl_info info;
    void *symbol = dlsym(handle, "Py_GetVersion");
    char file[PATH_MAX], dir[PATH_MAX], built[PATH_MAX], core_file[PATH_MAX];
    if (!symbol || !dladdr(symbol, &info) || !info.dli_fname || !realpath(info.dli_fname, file)) return true;
    snprintf(loaded, size, "%s", file);
    if (realpath(core_path, core_file) && strcmp(file, core_file) == 0) return true;  /* linked in statically */
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    return realpath(PYB_PYTHON_LIBDIR, built) && strcmp(dir, built) == 0;
}

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
        if (handle) dlclose(handle);
        return NULL;
    }
    char loaded[PATH_MAX];
    if (!builds_libpython(handle, path, loaded, sizeof loaded)) {
        zend_throw_exception_ex(pyb_exception_ce, 0,
                                "cannot load the pybroadcast core %s: it was built with the libpython in %s, but this "
                                "process (uid %d) loaded %s (can this user read the former? is LD_LIBRARY_PATH set?)",
                                path, PYB_PYTHON_LIBDIR, (int) geteuid(), loaded);
        dlclose(handle);
        return NULL;
    }
    const pyb_host host = { .exception_ce = pyb_exception_ce };
    const pyb_core_api *api = init(&host);
    if (!api || api->version != PYB_CORE_API_VERSION) {
        zend_throw_exception_ex(pyb_exception_ce, 0, "%s is from another pybroadcast build (rebuild with make)", path);
        dlclose(handle);  /* nothing of it runs yet: init only records the host */
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

/* The C route (ext/app_route.c) may serve this process's calls unless Python already runs in
 * it: then the process may be (or be forked from) a hub, which Python routes to itself. */
static bool c_route_allowed(void)
{
    return !(core && core->python_started());
}

static bool published_from_c(const char *kind, zend_string *target, zend_string *data, zend_string *name)
{
    return c_route_allowed()
        && pyb_fast_publish(kind, ZSTR_VAL(target), ZSTR_LEN(target), data ? ZSTR_VAL(data) : "", data ? ZSTR_LEN(data) : 0,
                            name ? ZSTR_VAL(name) : NULL, name ? ZSTR_LEN(name) : 0);
}

#define STR(s) ZSTR_VAL(s), (ssize_t) ZSTR_LEN(s)
/* an optional string: "y#" makes a NULL pointer None */
#define OPT_STR(s) (s) ? ZSTR_VAL(s) : NULL, (ssize_t) ((s) ? ZSTR_LEN(s) : 0)

PHP_FUNCTION(broadcast)
{
    zend_string *channel, *message, *event = NULL;
    ZEND_PARSE_PARAMETERS_START(2, 3)
        Z_PARAM_STR(channel)
        Z_PARAM_STR(message)
        Z_PARAM_OPTIONAL
        Z_PARAM_STR_OR_NULL(event)
    ZEND_PARSE_PARAMETERS_END();
    if (published_from_c("message", channel, message, event)) return;
    call_client(NULL, "broadcast", "(y#y#y#)", STR(channel), STR(message), OPT_STR(event));
}

PHP_FUNCTION(broadcastToUser)
{
    zend_string *user = NULL, *message, *event = NULL;
    zend_long user_number = 0;
    ZEND_PARSE_PARAMETERS_START(2, 3)
        Z_PARAM_STR_OR_LONG(user, user_number)
        Z_PARAM_STR(message)
        Z_PARAM_OPTIONAL
        Z_PARAM_STR_OR_NULL(event)
    ZEND_PARSE_PARAMETERS_END();
    zend_string *user_id = user ? zend_string_copy(user) : zend_long_to_str(user_number);
    bool done = published_from_c("direct", user_id, message, event);
    zend_string_release(user_id);
    if (done) return;
    if (user) {
        call_client(NULL, "broadcast_to_user", "(y#y#y#)", STR(user), STR(message), OPT_STR(event));
    } else {
        call_client(NULL, "broadcast_to_user", "(Ly#y#)", (long long) user_number, STR(message), OPT_STR(event));
    }
}

PHP_FUNCTION(getChannelUsers)
{
    zend_string *channel;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(channel)
    ZEND_PARSE_PARAMETERS_END();
    if (c_route_allowed() && pyb_fast_members(ZSTR_VAL(channel), ZSTR_LEN(channel), return_value)) {
        return;
    }
    call_client(return_value, "channel_users", "(y#)", STR(channel));
}

PHP_FUNCTION(getChannelHistory)
{
    zend_string *channel;
    zend_long limit = 100;
    zval *position = NULL, answer;
    ZEND_PARSE_PARAMETERS_START(1, 3)
        Z_PARAM_STR(channel)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(limit)
        Z_PARAM_ZVAL(position)
    ZEND_PARSE_PARAMETERS_END();
    if (limit < 0) {
        zend_argument_value_error(2, "must be greater than or equal to 0");
        RETURN_THROWS();
    }
    if (c_route_allowed() && pyb_fast_history(ZSTR_VAL(channel), ZSTR_LEN(channel), limit, return_value, position)) {
        return;
    }
    /* The core answers [messages, position] (see pybroadcast/seam.py). */
    ZVAL_UNDEF(&answer);
    call_client(&answer, "channel_history", "(y#L)", STR(channel), (long long) limit);
    if (Z_TYPE(answer) != IS_ARRAY) {
        zval_ptr_dtor(&answer);
        return;  /* an exception was thrown */
    }
    zval *messages = zend_hash_index_find(Z_ARRVAL(answer), 0);
    zval *found = zend_hash_index_find(Z_ARRVAL(answer), 1);
    if (position && found) {
        ZEND_TRY_ASSIGN_REF_COPY(position, found);
    }
    if (messages) {
        RETVAL_COPY(messages);
    }
    zval_ptr_dtor(&answer);
}

PHP_FUNCTION(disconnectUser)
{
    zend_string *user = NULL;
    zend_long user_number = 0;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR_OR_LONG(user, user_number)
    ZEND_PARSE_PARAMETERS_END();
    zend_string *user_id = user ? zend_string_copy(user) : zend_long_to_str(user_number);
    bool done = published_from_c("disconnect", user_id, NULL, NULL);
    zend_string_release(user_id);
    if (done) return;
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
    if (strcmp(sapi_module.name, "fpm-fcgi") == 0 || strcmp(sapi_module.name, "apache2handler") == 0) {
        pyb_fast_prefork();
    }
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
