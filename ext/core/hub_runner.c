/* The Python half of PyBroadcast\Server: checking options and running the hub.
 *
 * pyb_run() starts pybroadcast.runtime.Runtime (the hub thread, created with every
 * signal blocked so signals reach this thread), then serves the hub's callback
 * requests on this, the PHP thread: poll the wake-up pipe with the GIL
 * released, take the queued calls, run each PHP callable with the GIL
 * released, hand the outcome back. SIGINT/SIGTERM ask the hub to drain; run()
 * returns once the hub thread has ended. */
#include "core.h"
#include "zend_exceptions.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#ifdef ZEND_SIGNALS
# include "zend_signal.h"
#endif

#define JOIN_TIMEOUT 5.0

/* pybroadcast.seam.CALLBACKS: the callbacks' names, in slot order (SLOT_AUTHENTICATE first). */
static PyObject *callback_names;

static PyObject *seam(void)
{
    return pyb_import(PYB_SEAM);
}

static bool load_callback_names(void)
{
    if (callback_names) return true;
    PyObject *module = seam();
    PyObject *names = module ? PyObject_GetAttrString(module, "CALLBACKS") : NULL;
    Py_XDECREF(module);
    if (names && (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) != SLOT_COUNT - 1)) {
        PyErr_SetString(PyExc_RuntimeError, "pybroadcast.seam.CALLBACKS does not match this build of the extension");
        Py_CLEAR(names);
    }
    callback_names = names;
    return names != NULL;
}

/* --- signals ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;
static int signal_wake_fd = -1;
static struct sigaction saved_int, saved_term;

static void on_stop_signal(int signo)
{
    int saved_errno = errno;
    stop_signal = signo;
    if (signal_wake_fd >= 0) {
        ssize_t ignored = write(signal_wake_fd, "s", 1);
        (void) ignored;
    }
    errno = saved_errno;
}

static void set_handler(int signo, const struct sigaction *action, struct sigaction *old)
{
#ifdef ZEND_SIGNALS
    zend_sigaction(signo, action, old);  /* cooperate with Zend's deferred signals */
#else
    sigaction(signo, action, old);
#endif
}

static void install_stop_handlers(int wake_fd)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    stop_signal = 0;
    signal_wake_fd = wake_fd;
    set_handler(SIGINT, &action, &saved_int);
    set_handler(SIGTERM, &action, &saved_term);
}

static void restore_stop_handlers(void)
{
    set_handler(SIGINT, &saved_int, NULL);
    set_handler(SIGTERM, &saved_term, NULL);
    signal_wake_fd = -1;
}

/* --- the callback pump (PHP thread) ----------------------------------------- */

static PyThreadState *callback_thread_state;  /* set while a PHP callable runs */

static PyObject *describe_exception(void)
{
    zend_object *exception = EG(exception);
    zval rv, *message = zend_read_property(exception->ce, exception, "message", sizeof("message") - 1, 1, &rv);
    PyObject *text = PyUnicode_FromFormat("%s: %s", ZSTR_VAL(exception->ce->name),
                                          Z_TYPE_P(message) == IS_STRING ? Z_STRVAL_P(message) : "");
    zend_clear_exception();
    return text;
}

/* exit() is an "unwind exit" exception since PHP 8: it must reach the top, never be reported as a failure. */
static bool exiting(void)
{
    if (!EG(exception)) return false;
#if PHP_VERSION_ID >= 80100
    if (zend_is_graceful_exit(EG(exception))) return true;
#endif
    return zend_is_unwind_exit(EG(exception));
}

/* What a callable returned, judged here by PHP's own rules: (PHP type name,
 * zend_is_true(), the value converted, or None for an object or resource).
 * The Python side decides on the type and truth PHP reports, never on Python's. */
static PyObject *returned(zval *result)
{
    PyObject *value = pyb_from_zval(result);
    if (!value) {
        PyErr_Clear();
        value = Py_NewRef(Py_None);
    }
    return Py_BuildValue("(sNN)", zend_zval_type_name(result), PyBool_FromLong(zend_is_true(result)), value);
}

/* Runs one queued call and reports its outcome to the runtime. GIL held on entry and exit.
 * Returns false when PHP is exiting (exit() in the callback): the exception stays pending. */
static bool run_callback(pyb_server *server, PyObject *runtime, PyObject *call)
{
    PyObject *name = PyObject_GetAttrString(call, "name");
    PyObject *args = PyObject_GetAttrString(call, "args");
    int slot = 0;
    zval params[2], result;
    uint32_t count = 0;
    PyObject *outcome = NULL;
    bool ok = false, exit_requested = false;

    for (int i = SLOT_AUTHENTICATE; name && i < SLOT_COUNT; i++) {
        if (PyUnicode_Compare(name, PyTuple_GET_ITEM(callback_names, i - SLOT_AUTHENTICATE)) == 0) slot = i;
    }
    PyErr_Clear();
    if (!slot || !args || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) > 2
            || Z_TYPE(server->slots[slot]) == IS_UNDEF) {
        PyErr_Clear();
        outcome = PyUnicode_FromString("no such callback");
        goto report;
    }
    for (; count < (uint32_t) PyTuple_GET_SIZE(args); count++) {
        if (!pyb_to_zval(PyTuple_GET_ITEM(args, count), &params[count])) {
            PyErr_Clear();
            outcome = PyUnicode_FromString("arguments could not be converted");
            goto report;
        }
    }

    ZVAL_UNDEF(&result);
    callback_thread_state = PyEval_SaveThread();  /* the hub keeps serving meanwhile */
    zend_result called = call_user_function(NULL, NULL, &server->slots[slot], &result, count, params);
    PyEval_RestoreThread(callback_thread_state);
    callback_thread_state = NULL;

    exit_requested = exiting();
    if (exit_requested) {
        /* nothing to report: PHP is leaving, and its exit exception stays pending */
    } else if (EG(exception)) {
        outcome = describe_exception();
    } else if (called == FAILURE || Z_TYPE(result) == IS_UNDEF) {
        outcome = PyUnicode_FromString("could not be called");
    } else if ((outcome = returned(&result))) {
        ok = true;
    } else {
        PyErr_Clear();
        outcome = PyUnicode_FromString("returned a value that could not be reported");
    }
    zval_ptr_dtor(&result);

report:
    for (uint32_t i = 0; i < count; i++) {
        zval_ptr_dtor(&params[i]);
    }
    if (outcome) {
        PyObject *done = PyObject_CallMethod(runtime, "resolve", "OON", call, ok ? Py_True : Py_False, outcome);
        Py_XDECREF(done);
    }
    PyErr_Clear();
    Py_XDECREF(name);
    Py_XDECREF(args);
    return !exit_requested;
}

static bool runtime_flag(PyObject *runtime, const char *name)
{
    PyObject *value = PyObject_GetAttrString(runtime, name);
    bool set = value && PyObject_IsTrue(value) == 1;
    Py_XDECREF(value);
    PyErr_Clear();
    return set;
}

typedef enum { SERVED, EXITING, FORKED } serve_end;

/* Serves until the hub thread has finished. GIL held on entry and exit. */
static serve_end serve(pyb_server *server, PyObject *runtime, int wake_fd, pid_t hub_pid)
{
    bool stop_requested = false;
    for (;;) {
        PyObject *calls = PyObject_CallMethod(runtime, "take_calls", NULL);
        if (!calls) {
            PyErr_Print();
            return SERVED;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(calls); i++) {
            bool went_on = run_callback(server, runtime, PyList_GET_ITEM(calls, i));
            if (getpid() != hub_pid) {
                /* A callback forked and this is the child: the hub and its
                 * thread live in the parent, so this copy must not pump. */
                Py_DECREF(calls);
                return FORKED;
            }
            if (!went_on) {
                Py_DECREF(calls);
                return EXITING;
            }
        }
        Py_DECREF(calls);
        if (runtime_flag(runtime, "finished")) {
            return SERVED;
        }
        if (stop_signal && !stop_requested) {
            stop_requested = true;
            PyObject *done = PyObject_CallMethod(runtime, "stop", NULL);
            Py_XDECREF(done);
            PyErr_Clear();
        }
        struct pollfd wake = { .fd = wake_fd, .events = POLLIN };
        Py_BEGIN_ALLOW_THREADS
        poll(&wake, 1, 1000);  /* EINTR is fine: the loop re-checks everything */
        Py_END_ALLOW_THREADS
    }
}

/* serve() inside zend_try, in a frame of its own so that setjmp clobbers nothing of the caller's. */
static serve_end serve_guarded(pyb_server *server, PyObject *runtime, int wake_fd, bool *bailed_out)
{
    volatile serve_end end = SERVED;
    pid_t hub_pid = getpid();
    zend_try {
        end = serve(server, runtime, wake_fd, hub_pid);
    } zend_catch {
        /* exit() or a fatal error inside a callback: stop the hub without
         * running more PHP, then let the bailout continue. */
        *bailed_out = true;
        if (callback_thread_state) {
            PyEval_RestoreThread(callback_thread_state);
            callback_thread_state = NULL;
        }
        PyObject *done = PyObject_CallMethod(runtime, "stop", "O", Py_True);
        Py_XDECREF(done);
        PyErr_Clear();
    } zend_end_try();
    return end;
}

static PyObject *create_runtime(pyb_server *server)
{
    PyObject *module = load_callback_names() ? seam() : NULL;
    PyObject *options = module ? pyb_from_zval(&server->slots[SLOT_OPTIONS]) : NULL;
    PyObject *ini = options ? pyb_ini_dict() : NULL;
    PyObject *names = ini ? PyList_New(0) : NULL;
    PyObject *runtime = NULL;
    for (int i = SLOT_AUTHENTICATE; names && i < SLOT_COUNT; i++) {
        if (Z_TYPE(server->slots[i]) != IS_UNDEF) {
            if (PyList_Append(names, PyTuple_GET_ITEM(callback_names, i - SLOT_AUTHENTICATE)) < 0) Py_CLEAR(names);
        }
    }
    if (names) {
        runtime = PyObject_CallMethod(module, "create_runtime", "OOO", options, ini, names);
    }
    Py_XDECREF(names);
    Py_XDECREF(ini);
    Py_XDECREF(options);
    Py_XDECREF(module);
    return runtime;
}

static long runtime_fd(PyObject *runtime, const char *name)
{
    PyObject *value = PyObject_GetAttrString(runtime, name);
    long fd = value ? PyLong_AsLong(value) : -1;
    Py_XDECREF(value);
    return fd;
}

/* --- entry points ---------------------------------------------------------- */

/* Server::__construct: check the options now, so a typo fails where it was written. */
void pyb_check_options(pyb_server *server)
{
    if (!pyb_ensure_python()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *module = seam();
    PyObject *given = module ? pyb_from_zval(&server->slots[SLOT_OPTIONS]) : NULL;
    PyObject *ini = given ? pyb_ini_dict() : NULL;
    PyObject *resolved = ini ? PyObject_CallMethod(module, "check_options", "OO", given, ini) : NULL;
    if (!resolved) {
        pyb_throw_python_error();
    }
    Py_XDECREF(resolved);
    Py_XDECREF(ini);
    Py_XDECREF(given);
    Py_XDECREF(module);
    PyGILState_Release(gil);
}

/* Server::run, after the module checked it is not running already. */
void pyb_run(pyb_server *server)
{
    if (!pyb_ensure_python()) return;

    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *runtime = create_runtime(server);
    long wake_fd = runtime ? runtime_fd(runtime, "wake_fd") : -1;
    long wake_write_fd = runtime ? runtime_fd(runtime, "wake_write_fd") : -1;
    if (wake_fd < 0 || wake_write_fd < 0) {
        pyb_throw_python_error();
        Py_XDECREF(runtime);
        PyGILState_Release(gil);
        return;
    }

    install_stop_handlers((int) wake_write_fd);
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);  /* inherited by the hub thread */
    PyObject *started = PyObject_CallMethod(runtime, "start", NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (!started) {
        restore_stop_handlers();
        pyb_throw_python_error();
        Py_DECREF(runtime);
        PyGILState_Release(gil);
        return;
    }
    Py_DECREF(started);

    server->running = true;
    pyb_set_hub_thread_alive(true);
    bool bailed_out = false;
    serve_end end = serve_guarded(server, runtime, (int) wake_fd, &bailed_out);
    restore_stop_handlers();

    if (end == FORKED) {
        /* Leave the parent's hub alone: no stop, no join; run() returns here. */
        if (!EG(exception)) {
            php_error_docref(NULL, E_NOTICE, "a callback forked; run() returns in the child process");
        }
        Py_DECREF(runtime);
        server->running = false;
        PyGILState_Release(gil);
        return;
    }
    if (end == EXITING) {
        PyObject *done = PyObject_CallMethod(runtime, "stop", "O", Py_True);
        Py_XDECREF(done);
        PyErr_Clear();
    }

    PyObject *joined = PyObject_CallMethod(runtime, "join", "d", JOIN_TIMEOUT);
    pyb_set_hub_thread_alive(!joined || !PyObject_IsTrue(joined));
    if (!joined && !bailed_out && end == SERVED) {
        pyb_throw_python_error();
    }
    PyErr_Clear();
    Py_XDECREF(joined);
    Py_DECREF(runtime);
    server->running = false;
    PyGILState_Release(gil);
    if (bailed_out) {
        zend_bailout();
    }
}
