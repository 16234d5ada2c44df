/* pybroadcast: the module, its php.ini settings and the app-side functions.
 * Each function hands its arguments to pybroadcast.client (Python), which
 * validates them and routes the request; see embed.c for the interpreter. */
#include "php_pybroadcast.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "ext/spl/spl_exceptions.h"
#include "pybroadcast_arginfo.h"

zend_class_entry *pyb_exception_ce;
static PyObject *client_module;

PHP_INI_BEGIN()
    PHP_INI_ENTRY("pybroadcast.python", PYB_DEFAULT_PYTHON, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.hub_path", PYB_DEFAULT_HUB_PATH, PHP_INI_SYSTEM, NULL)
    PHP_INI_ENTRY("pybroadcast.listen", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.allowed_origins", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.driver", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.redis_url", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.redis_prefix", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.socket", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.auth_url", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.max_message_size", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.presence_ttl", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.callback_timeout", "", PHP_INI_ALL, NULL)
    PHP_INI_ENTRY("pybroadcast.ping_interval", "", PHP_INI_ALL, NULL)
PHP_INI_END()

/* Calls pybroadcast.client.<function>(ini, *args), args built by Py_BuildValue
 * from format; converts the result into return_value (if given) and a Python
 * exception into the matching PHP one. */
static void call_client(zval *return_value, const char *function, const char *format, ...)
{
    if (!pyb_ensure_python()) {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *result = NULL, *callable = NULL, *args = NULL, *ini = NULL;
    va_list ap;

    if (!client_module) {
        client_module = pyb_import("pybroadcast.client");
    }
    if (client_module && (callable = PyObject_GetAttrString(client_module, function))
            && (ini = pyb_ini_dict())) {
        va_start(ap, format);
        args = Py_VaBuildValue(format, ap);
        va_end(ap);
    }
    if (args) {
        PyObject *full = PyTuple_Pack(1, ini);
        PyObject *joined = full ? PySequence_Concat(full, args) : NULL;
        result = joined ? PyObject_Call(callable, joined, NULL) : NULL;
        Py_XDECREF(joined);
        Py_XDECREF(full);
    }
    if (!result) {
        pyb_throw_python_error();
    } else if (return_value && !pyb_to_zval(result, return_value)) {
        pyb_throw_python_error();
    }
    Py_XDECREF(result);
    Py_XDECREF(args);
    Py_XDECREF(ini);
    Py_XDECREF(callable);
    PyGILState_Release(gil);
}

#define STR(s) ZSTR_VAL(s), (Py_ssize_t) ZSTR_LEN(s)

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
    client_module = NULL;  /* owned by the interpreter, which goes next */
    pyb_finalize_python();
    UNREGISTER_INI_ENTRIES();
    return SUCCESS;
}

PHP_MINFO_FUNCTION(pybroadcast)
{
    php_info_print_table_start();
    php_info_print_table_row(2, "pybroadcast support", "enabled");
    php_info_print_table_row(2, "Version", PHP_PYBROADCAST_VERSION);
    php_info_print_table_row(2, "Embedded Python", PY_VERSION);
    php_info_print_table_row(2, "Python interpreter", pyb_python_started() ? "started" : "not started");
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
