dnl pybroadcast: a PHP extension that embeds CPython to run the realtime hub.
PHP_ARG_WITH([python],
  [for the Python that pybroadcast embeds],
  [AS_HELP_STRING([--with-python=PATH],
    [Python executable to embed: the virtualenv's bin/python (default: python3)])],
  [yes])

PHP_ARG_WITH([pybroadcast-hub],
  [for the directory holding the pybroadcast Python package],
  [AS_HELP_STRING([--with-pybroadcast-hub=DIR], [directory added to sys.path (default: the source tree)])],
  [no], [no])

if test "$PHP_PYTHON" != "no"; then
  if test "$PHP_PYTHON" = "yes"; then
    PHP_PYTHON=python3
  fi
  AC_MSG_CHECKING([the embeddable libpython of $PHP_PYTHON])
  PYB_PY="import sysconfig as s; v=s.get_config_var"
  if ! $PHP_PYTHON -c "$PYB_PY; assert v('Py_ENABLE_SHARED')" 2>/dev/null; then
    AC_MSG_ERROR([$PHP_PYTHON is not a Python built with --enable-shared; install python3-dev or use another Python])
  fi
  PYB_INCLUDE=`$PHP_PYTHON -c "$PYB_PY; print(s.get_paths()[['include']])"`
  PYB_LIBDIR=`$PHP_PYTHON -c "$PYB_PY; print(v('LIBDIR'))"`
  PYB_LDVERSION=`$PHP_PYTHON -c "$PYB_PY; print(v('LDVERSION'))"`
  PYB_SONAME=`$PHP_PYTHON -c "$PYB_PY; print(v('INSTSONAME'))"`
  PYB_PROGRAM=`$PHP_PYTHON -c "import sys, os; print(os.path.abspath(sys.executable) if sys.prefix != sys.base_prefix else sys.executable)"`
  AC_MSG_RESULT([$PYB_LIBDIR/$PYB_SONAME])

  if test "$PHP_PYBROADCAST_HUB" = "no"; then
    PHP_PYBROADCAST_HUB=`cd $ext_srcdir && pwd`
  fi

  PHP_ADD_INCLUDE([$PYB_INCLUDE])
  PHP_ADD_LIBRARY_WITH_PATH([python$PYB_LDVERSION], [$PYB_LIBDIR], [PYBROADCAST_SHARED_LIBADD])
  PHP_SUBST([PYBROADCAST_SHARED_LIBADD])
  AC_DEFINE_UNQUOTED([PYB_DEFAULT_PYTHON], ["$PYB_PROGRAM"], [Python executable whose virtualenv is used])
  AC_DEFINE_UNQUOTED([PYB_DEFAULT_HUB_PATH], ["$PHP_PYBROADCAST_HUB"], [directory holding the pybroadcast package])
  AC_DEFINE_UNQUOTED([PYB_LIBPYTHON_SONAME], ["$PYB_SONAME"], [soname of libpython])

  PHP_NEW_EXTENSION([pybroadcast],
    [ext/pybroadcast.c ext/embed.c ext/convert.c ext/server.c],
    [$ext_shared],, [-DZEND_ENABLE_STATIC_TSRMLS_CACHE=1])
  PHP_ADD_BUILD_DIR([$ext_builddir/ext])
fi
