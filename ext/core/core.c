/* The core's entry point and the app-side calls into pybroadcast.seam. */
#include "core.h"

_Static_assert(sizeof(Py_ssize_t) == sizeof(ssize_t), "the module passes y# lengths as ssize_t");

zend_class_entry *pyb_host_exception_ce;
static PyObject *client_module;

/* Calls pybroadcast.seam.<function>(ini, *args), args built by Py_BuildValue
 * from format; converts the result into return_value (if given) and a Python
 * exception into the matching PHP one. */
static void call_client(zval *return_value, const char *function, const char *format, va_list ap)
{
    if (!pyb_ensure_python()) {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *result = NULL, *callable = NULL, *args = NULL, *ini = NULL;

    if (!client_module) {
        client_module = pyb_import(PYB_SEAM);
    }
    if (client_module && (callable = PyObject_GetAttrString(client_module, function))
            && (ini = pyb_ini_dict())) {
        args = Py_VaBuildValue(format, ap);
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

static void core_shutdown(void)
{
    client_module = NULL;  /* owned by the interpreter, which goes next */
    pyb_finalize_python();
}

static const pyb_core_api api = {
    .version = PYB_CORE_API_VERSION,
    .call_client = call_client,
    .check_options = pyb_check_options,
    .run = pyb_run,
    .python_started = pyb_python_started,
    .shutdown = core_shutdown,
};

PHPAPI const pyb_core_api *pyb_core_init(const pyb_host *host)
{
    pyb_host_exception_ce = host->exception_ce;
    return &api;
}
