/* The embedded interpreter: started lazily on first use, at most once per
 * process, isolated from the environment PHP runs in; fork-safe; finalized only
 * when that can never hang.
 *
 * GIL discipline: after start-up the PHP thread does not hold the GIL; every
 * entry from PHP takes it with PyGILState_Ensure and gives it back before
 * returning, and every wait or PHP callback runs with it released. */
#include "core.h"
#include "php_ini.h"
#include "zend_exceptions.h"

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

static bool started;
static bool start_failed;
static char start_error[512];
static pid_t started_pid;
static bool hub_thread_alive;
static PyThreadState *main_thread_state;
static PyObject *broadcast_error_class;

/* php.ini entries that configure the extension itself, not the hub: never handed to Python. */
static const char *const extension_only[] = { "pybroadcast.python", "pybroadcast.hub_path", "pybroadcast.core", NULL };

bool pyb_python_started(void) { return started; }

void pyb_set_hub_thread_alive(bool alive) { hub_thread_alive = alive; }

/* --- fork: a child must not inherit the interpreter's locks mid-use ------ */

static PyGILState_STATE fork_gil;
static bool fork_prepared;

static void before_fork(void)
{
    fork_prepared = started && !PyGILState_Check();
    if (fork_prepared) {
        fork_gil = PyGILState_Ensure();
        PyOS_BeforeFork();
    }
}

static void after_fork_parent(void)
{
    if (fork_prepared) {
        fork_prepared = false;
        PyOS_AfterFork_Parent();
        PyGILState_Release(fork_gil);
    }
}

static void after_fork_child(void)
{
    hub_thread_alive = false;  /* threads do not survive fork */
    if (fork_prepared) {
        fork_prepared = false;
        PyOS_AfterFork_Child();
        PyGILState_Release(fork_gil);
    }
}

/* pthread_atfork handlers can never be removed: keep the core mapped for the
 * life of the process so they never point into unloaded code. (The core is
 * loaded RTLD_GLOBAL, so Python's own C modules find libpython's symbols.) */
static void pin_library(void)
{
    Dl_info info;
    if (dladdr((void *) pin_library, &info) && info.dli_fname) {
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
    }
}

/* --- start-up ------------------------------------------------------------ */

static bool fail(const char *what, const char *detail)
{
    start_failed = true;
    snprintf(start_error, sizeof start_error, "cannot start the embedded Python: %s%s%s",
             what, detail ? ": " : "", detail ? detail : "");
    zend_throw_exception(pyb_host_exception_ce, start_error, 0);
    return false;
}

static bool start_python(void)
{
    const char *program = zend_ini_string_ex("pybroadcast.python", sizeof("pybroadcast.python") - 1, 0, NULL);
    const char *hub_path = zend_ini_string_ex("pybroadcast.hub_path", sizeof("pybroadcast.hub_path") - 1, 0, NULL);
    PyPreConfig preconfig;
    PyConfig config;
    PyStatus status;

    if (!program || !*program || !hub_path || !*hub_path) {
        return fail("pybroadcast.python and pybroadcast.hub_path must be set", NULL);
    }

    /* Isolated, so that neither PYTHON* variables nor a locale change leak
     * between PHP and Python; UTF-8 mode makes the file system encoding fixed. */
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status)) return fail("pre-initialization failed", status.err_msg);

    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;  /* signals belong to PHP */
    config.parse_argv = 0;
    /* program_name is the virtualenv's python: Python then reads its
     * pyvenv.cfg and puts the venv's site-packages on sys.path. */
    status = PyConfig_SetBytesString(&config, &config.program_name, program);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) return fail("initialization failed", status.err_msg);

    PyObject *sys_path = PySys_GetObject("path");  /* borrowed */
    PyObject *hub = PyUnicode_DecodeFSDefault(hub_path);
    if (!sys_path || !hub || PyList_Insert(sys_path, 0, hub) < 0) {
        Py_XDECREF(hub);
        PyErr_Clear();
        return fail("cannot set sys.path", NULL);
    }
    Py_DECREF(hub);

    started = true;
    started_pid = getpid();
    pin_library();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    main_thread_state = PyEval_SaveThread();
    return true;
}

bool pyb_ensure_python(void)
{
    if (started) return true;
    if (start_failed) {  /* never re-initialize: report the first failure again */
        zend_throw_exception(pyb_host_exception_ce, start_error, 0);
        return false;
    }
    return start_python();
}

void pyb_finalize_python(void)
{
    /* Finalizing waits for Python threads: skip it when the hub thread is
     * still alive, and in a forked child, whose interpreter state is a copy. */
    if (!started || hub_thread_alive || getpid() != started_pid) return;
    PyEval_RestoreThread(main_thread_state);
    Py_CLEAR(broadcast_error_class);
    Py_FinalizeEx();
    started = false;
    start_failed = true;
    snprintf(start_error, sizeof start_error, "the embedded Python has been shut down");
}

/* --- helpers for the PHP-facing code (GIL held) --------------------------- */

PyObject *pyb_import(const char *module)
{
    return PyImport_ImportModule(module);
}

static bool extension_setting(zend_string *name)
{
    for (const char *const *own = extension_only; *own; own++) {
        if (zend_string_equals_cstr(name, *own, strlen(*own))) return true;
    }
    return false;
}

/* Every pybroadcast.* entry that is set, without the prefix: the module registers
 * one per setting in pybroadcast/settings.py (tests/test_seam.py checks they match). */
PyObject *pyb_ini_dict(void)
{
    static const char prefix[] = "pybroadcast.";
    PyObject *dict = PyDict_New();
    zend_ini_entry *entry;
    if (!dict) return NULL;
    ZEND_HASH_FOREACH_PTR(EG(ini_directives), entry) {
        zend_string *name = entry->name, *value = entry->value;
        if (ZSTR_LEN(name) <= sizeof prefix - 1 || memcmp(ZSTR_VAL(name), prefix, sizeof prefix - 1) != 0
                || extension_setting(name) || !value || !ZSTR_LEN(value)) {
            continue;
        }
        PyObject *key = PyUnicode_FromStringAndSize(ZSTR_VAL(name) + sizeof prefix - 1,
                                                    (Py_ssize_t) (ZSTR_LEN(name) - (sizeof prefix - 1)));
        PyObject *pyvalue = key ? PyBytes_FromStringAndSize(ZSTR_VAL(value), (Py_ssize_t) ZSTR_LEN(value)) : NULL;
        bool failed = !pyvalue || PyDict_SetItem(dict, key, pyvalue) < 0;
        Py_XDECREF(pyvalue);
        Py_XDECREF(key);
        if (failed) {
            Py_DECREF(dict);
            return NULL;
        }
    } ZEND_HASH_FOREACH_END();
    return dict;
}

static bool is_broadcast_error(PyObject *type)
{
    if (!broadcast_error_class) {
        PyObject *module = pyb_import(PYB_SEAM);
        if (module) {
            broadcast_error_class = PyObject_GetAttrString(module, "BroadcastError");
            Py_DECREF(module);
        }
        if (!broadcast_error_class) {
            PyErr_Clear();
            return false;
        }
    }
    return PyErr_GivenExceptionMatches(type, broadcast_error_class);
}

void pyb_throw_python_error(void)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (!type) {
        zend_throw_exception(pyb_host_exception_ce, "pybroadcast internal error: no Python error set", 0);
        return;
    }
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *message = text ? PyUnicode_AsUTF8(text) : NULL;
    if (!message) {
        PyErr_Clear();
        message = "(no message)";
    }
    if (PyErr_GivenExceptionMatches(type, PyExc_ValueError)) {
        zend_value_error("%s", message);
    } else if (PyErr_GivenExceptionMatches(type, PyExc_TypeError)) {
        zend_type_error("%s", message);
    } else if (is_broadcast_error(type)) {
        /* code: NOT_SENT or UNCONFIRMED (pybroadcast/errors.py), the constants of PyBroadcast\Exception */
        PyObject *code = value ? PyObject_GetAttrString(value, "code") : NULL;
        zend_long number = code && PyLong_Check(code) ? (zend_long) PyLong_AsLong(code) : 0;
        Py_XDECREF(code);
        PyErr_Clear();
        zend_throw_exception(pyb_host_exception_ce, message, number);
    } else {
        /* Unexpected: keep the traceback in the log, give PHP one line. */
        zend_throw_exception_ex(pyb_host_exception_ce, 0, "pybroadcast internal error: %s: %s",
                                ((PyTypeObject *) type)->tp_name, message);
        Py_XINCREF(type); Py_XINCREF(value); Py_XINCREF(traceback);
        PyErr_Restore(type, value, traceback);
        PyErr_Print();
    }
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
}
