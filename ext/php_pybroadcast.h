/* pybroadcast: shared declarations of the extension's C files. */
#ifndef PHP_PYBROADCAST_H
#define PHP_PYBROADCAST_H

/* Python.h first: it sets feature macros the system headers must see. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif
#include "php.h"

#define PHP_PYBROADCAST_VERSION "0.1.0"

extern zend_module_entry pybroadcast_module_entry;
#define phpext_pybroadcast_ptr &pybroadcast_module_entry

extern zend_class_entry *pyb_exception_ce;

/* embed.c: the interpreter, started lazily and at most once per process. */
bool pyb_ensure_python(void);          /* false: a PyBroadcast\Exception was thrown */
bool pyb_python_started(void);
void pyb_set_hub_thread_alive(bool alive);
void pyb_finalize_python(void);
PyObject *pyb_import(const char *module);   /* new ref, needs the GIL */
PyObject *pyb_ini_dict(void);                /* new ref: the pybroadcast.* ini values that are set */
void pyb_throw_python_error(void);     /* converts the pending Python error into a PHP exception */

/* convert.c: values between PHP and Python (both need the GIL, PHP thread only). */
PyObject *pyb_from_zval(zval *value);                 /* new ref, or NULL with a Python error */
bool pyb_to_zval(PyObject *object, zval *result);     /* false with a Python error set */

/* server.c */
void pyb_server_init_class(zend_class_entry *ce);  /* ce from the generated arginfo */

#endif
