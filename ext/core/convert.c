/* Values between PHP and Python. PHP strings become bytes, because PHP strings
 * are bytes: the Python side decodes (and rejects invalid UTF-8) where text is
 * required. Python str becomes a PHP string in UTF-8. Nesting is bounded both
 * ways (a PHP array can contain a reference to itself). */
#include "core.h"
#include "zend_smart_str.h"

#define MAX_DEPTH 64

static PyObject *from_zval(zval *value, int depth);
static bool to_zval(PyObject *object, zval *result, int depth);

static PyObject *key_from_zend(zend_ulong index, zend_string *key)
{
    return key ? PyBytes_FromStringAndSize(ZSTR_VAL(key), ZSTR_LEN(key)) : PyLong_FromUnsignedLongLong(index);
}

PyObject *pyb_from_zval(zval *value)
{
    return from_zval(value, 0);
}

bool pyb_to_zval(PyObject *object, zval *result)
{
    return to_zval(object, result, 0);
}

static PyObject *from_zval(zval *value, int depth)
{
    ZVAL_DEREF(value);
    if (depth > MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError, "a PHP array nested over %d levels (or containing itself)", MAX_DEPTH);
        return NULL;
    }
    switch (Z_TYPE_P(value)) {
    case IS_NULL:  Py_RETURN_NONE;
    case IS_FALSE: Py_RETURN_FALSE;
    case IS_TRUE:  Py_RETURN_TRUE;
    case IS_LONG:  return PyLong_FromLongLong(Z_LVAL_P(value));
    case IS_DOUBLE: return PyFloat_FromDouble(Z_DVAL_P(value));
    case IS_STRING: return PyBytes_FromStringAndSize(Z_STRVAL_P(value), Z_STRLEN_P(value));
    case IS_ARRAY: {
        HashTable *table = Z_ARRVAL_P(value);
        bool is_list = zend_array_is_list(table);
        PyObject *result = is_list ? PyList_New(0) : PyDict_New();
        zend_ulong index;
        zend_string *key;
        zval *item;
        if (!result) return NULL;
        ZEND_HASH_FOREACH_KEY_VAL(table, index, key, item) {
            PyObject *converted = from_zval(item, depth + 1);
            int failed;
            if (!converted) { Py_DECREF(result); return NULL; }
            if (is_list) {
                failed = PyList_Append(result, converted);
            } else {
                PyObject *pykey = key_from_zend(index, key);
                failed = !pykey || PyDict_SetItem(result, pykey, converted);
                Py_XDECREF(pykey);
            }
            Py_DECREF(converted);
            if (failed) { Py_DECREF(result); return NULL; }
        } ZEND_HASH_FOREACH_END();
        return result;
    }
    default:
        PyErr_Format(PyExc_TypeError, "cannot pass a PHP %s to pybroadcast", zend_zval_type_name(value));
        return NULL;
    }
}

static bool set_key(zval *array, PyObject *key, zval *item)
{
    if (PyLong_Check(key)) {
        add_index_zval(array, (zend_ulong) PyLong_AsLongLong(key), item);
    } else if (PyUnicode_Check(key)) {
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(key, &len);
        if (!text) return false;
        add_assoc_zval_ex(array, text, len, item);
    } else if (PyBytes_Check(key)) {
        add_assoc_zval_ex(array, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), item);
    } else {
        PyErr_SetString(PyExc_TypeError, "array keys must be int or str");
        return false;
    }
    return true;
}

static bool to_zval(PyObject *object, zval *result, int depth)
{
    if (depth > MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError, "a value nested over %d levels (or containing itself)", MAX_DEPTH);
        return false;
    }
    if (object == Py_None) {
        ZVAL_NULL(result);
    } else if (PyBool_Check(object)) {
        ZVAL_BOOL(result, object == Py_True);
    } else if (PyLong_Check(object)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(object, &overflow);
        if (overflow) {  /* keep big numbers exact, as strings */
            PyObject *text = PyObject_Str(object);
            if (!text) return false;
            ZVAL_STRING(result, PyUnicode_AsUTF8(text));
            Py_DECREF(text);
        } else {
            ZVAL_LONG(result, number);
        }
    } else if (PyFloat_Check(object)) {
        ZVAL_DOUBLE(result, PyFloat_AS_DOUBLE(object));
    } else if (PyUnicode_Check(object)) {
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(object, &len);
        if (!text) return false;
        ZVAL_STRINGL(result, text, len);
    } else if (PyBytes_Check(object)) {
        ZVAL_STRINGL(result, PyBytes_AS_STRING(object), PyBytes_GET_SIZE(object));
    } else if (PyList_Check(object) || PyTuple_Check(object)) {
        PyObject *fast = PySequence_Fast(object, "sequence expected");
        Py_ssize_t count = PySequence_Fast_GET_SIZE(fast);
        array_init_size(result, (uint32_t) count);
        for (Py_ssize_t i = 0; i < count; i++) {
            zval item;
            if (!to_zval(PySequence_Fast_GET_ITEM(fast, i), &item, depth + 1)) {
                Py_DECREF(fast);
                zval_ptr_dtor(result);
                return false;
            }
            add_next_index_zval(result, &item);
        }
        Py_DECREF(fast);
    } else if (PyDict_Check(object)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        array_init_size(result, (uint32_t) PyDict_Size(object));
        while (PyDict_Next(object, &pos, &key, &value)) {
            zval item;
            if (!to_zval(value, &item, depth + 1)) { zval_ptr_dtor(result); return false; }
            if (!set_key(result, key, &item)) { zval_ptr_dtor(&item); zval_ptr_dtor(result); return false; }
        }
    } else {
        PyErr_Format(PyExc_TypeError, "cannot return a Python %s to PHP", Py_TYPE(object)->tp_name);
        return false;
    }
    return true;
}
