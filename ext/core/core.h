/* The core's own declarations: everything here may touch Python. */
#ifndef PYB_CORE_H
#define PYB_CORE_H

/* Python.h first: it sets feature macros the system headers must see. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "php_pybroadcast.h"

/* PyBroadcast\Exception, handed over by the module at init (the module owns the class). */
extern zend_class_entry *pyb_host_exception_ce;

/* embed.c: the interpreter, started lazily and at most once per process. */
bool pyb_ensure_python(void);          /* false: a PyBroadcast\Exception was thrown */
bool pyb_python_started(void);
void pyb_set_hub_thread_alive(bool alive);
void pyb_finalize_python(void);
PyObject *pyb_import(const char *module);   /* new ref, needs the GIL */
#define PYB_SEAM "pybroadcast.seam"           /* the only module C reaches: its docstring is the contract */
PyObject *pyb_ini_dict(void);                /* new ref: the pybroadcast.* ini values that are set */
void pyb_throw_python_error(void);     /* converts the pending Python error into a PHP exception */

/* convert.c: values between PHP and Python (both need the GIL, PHP thread only). */
PyObject *pyb_from_zval(zval *value);                 /* new ref, or NULL with a Python error */
bool pyb_to_zval(PyObject *object, zval *result);     /* false with a Python error set */

/* hub_runner.c */
void pyb_check_options(pyb_server *server);
void pyb_run(pyb_server *server);

#endif
