dnl pybroadcast: a PHP extension that embeds CPython to run the realtime hub.
dnl This builds the PHP module (modules/pybroadcast.so), which does not link
dnl libpython, and the core that does (modules/pybroadcast_core.so), which the
dnl module dlopen()s on first use: both with PHP's own compiler flags and libtool.
PHP_ARG_WITH([python],
  [for the Python that pybroadcast embeds],
  [AS_HELP_STRING([--with-python=PATH],
    [Python executable to embed: the virtualenv's bin/python (default: python3)])],
  [yes])

PHP_ARG_WITH([pybroadcast-hub],
  [for the directory holding the pybroadcast Python package],
  [AS_HELP_STRING([--with-pybroadcast-hub=DIR], [directory added to sys.path (default: the source tree)])],
  [no], [no])

PHP_ARG_WITH([pybroadcast-core],
  [for the pybroadcast core library],
  [AS_HELP_STRING([--with-pybroadcast-core=PATH], [pybroadcast_core.so (default: modules/ of the source tree)])],
  [no], [no])

if test "$PHP_PYTHON" != "no"; then
  dnl The code uses PHP 8.1 APIs and keeps per-process state (one interpreter, one
  dnl hub thread): refuse what it does not support rather than build something that breaks.
  AC_MSG_CHECKING([for a PHP that pybroadcast supports])
  PYB_PHP_VERNUM=`$PHP_CONFIG --vernum 2>/dev/null`
  PYB_PHP_VERSION=`$PHP_CONFIG --version 2>/dev/null`
  if test -z "$PYB_PHP_VERNUM" || test "$PYB_PHP_VERNUM" -lt 80100; then
    AC_MSG_ERROR([pybroadcast needs PHP 8.1 or later; $PHP_CONFIG reports PHP ${PYB_PHP_VERSION:-unknown}])
  fi
  if test "$PHP_THREAD_SAFETY" = "yes"; then
    AC_MSG_ERROR([pybroadcast supports non-thread-safe (NTS) PHP only; this PHP ($PYB_PHP_VERSION) is ZTS])
  fi
  AC_MSG_RESULT([PHP $PYB_PHP_VERSION, NTS])
  if test "$PHP_PYTHON" = "yes"; then
    PHP_PYTHON=python3
  fi
  AC_MSG_CHECKING([the Python to embed])
  if ! $PHP_PYTHON -c "import sysconfig as s; assert s.get_config_var('Py_ENABLE_SHARED')" 2>/dev/null; then
    AC_MSG_ERROR([$PHP_PYTHON is not a Python built with --enable-shared; install python3-dev or use another Python])
  fi
  PYB_PROGRAM=`$PHP_PYTHON -c "import sys, os; print(os.path.abspath(sys.executable) if sys.prefix != sys.base_prefix else sys.executable)"`
  PYB_VERSION=`$PHP_PYTHON -c "import platform; print(platform.python_version())"`
  AC_MSG_RESULT([$PYB_PROGRAM ($PYB_VERSION)])

  PYB_SRC=`cd $ext_srcdir && pwd`
  if test "$PHP_PYBROADCAST_HUB" = "no"; then
    PHP_PYBROADCAST_HUB=$PYB_SRC
  fi
  if test "$PHP_PYBROADCAST_CORE" = "no"; then
    PHP_PYBROADCAST_CORE=$PYB_SRC/modules/pybroadcast_core.so
  fi

  AC_DEFINE_UNQUOTED([PYB_DEFAULT_PYTHON], ["$PYB_PROGRAM"], [Python executable whose virtualenv is used])
  AC_DEFINE_UNQUOTED([PYB_DEFAULT_HUB_PATH], ["$PHP_PYBROADCAST_HUB"], [directory holding the pybroadcast package])
  AC_DEFINE_UNQUOTED([PYB_DEFAULT_CORE], ["$PHP_PYBROADCAST_CORE"], [the core shared object])
  AC_DEFINE_UNQUOTED([PYB_PYTHON_VERSION], ["$PYB_VERSION"], [the embedded Python's version])
  PYB_LIBDIR=`$PHP_PYTHON -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"`
  AC_DEFINE_UNQUOTED([PYB_PYTHON_LIBDIR], ["$PYB_LIBDIR"], [where the embedded Python's libpython is])

  dnl hiredis (Debian: libhiredis-dev) lets app processes publish to Redis without Python. Linked
  dnl statically when its archive is there: nothing more for PHP to load at start, nothing to install.
  AC_CHECK_HEADER([hiredis/hiredis.h], [
    PHP_CHECK_LIBRARY([hiredis], [redisConnectWithTimeout], [
      PYB_HIREDIS_A=""
      for dir in `$CC -print-multi-os-directory >/dev/null 2>&1 && $CC -print-search-dirs | sed -n 's/^libraries: =//p' | tr ':' ' '`; do
        if test -z "$PYB_HIREDIS_A" && test -f "$dir/libhiredis.a"; then PYB_HIREDIS_A="$dir/libhiredis.a"; fi
      done
      if test -n "$PYB_HIREDIS_A"; then
        dnl (its symbols kept inside: another module may bring its own hiredis)
        PYBROADCAST_SHARED_LIBADD="$PYBROADCAST_SHARED_LIBADD $PYB_HIREDIS_A -Wl,--exclude-libs,libhiredis.a"
      else
        PHP_ADD_LIBRARY([hiredis], 1, PYBROADCAST_SHARED_LIBADD)
      fi
      AC_DEFINE([PYB_HAVE_HIREDIS], 1, [the Redis driver's app calls run in C])
      dnl OpenSSL (libssl-dev) for rediss:// URLs, which Debian's hiredis (0.14) cannot speak. Linked
      dnl dynamically: PHP's own openssl extension has usually loaded it already.
      AC_CHECK_HEADER([openssl/ssl.h], [
        PHP_CHECK_LIBRARY([ssl], [SSL_CTX_new], [
          PHP_ADD_LIBRARY([ssl], 1, PYBROADCAST_SHARED_LIBADD)
          PHP_ADD_LIBRARY([crypto], 1, PYBROADCAST_SHARED_LIBADD)
          AC_DEFINE([PYB_HAVE_OPENSSL], 1, [rediss:// app calls run in C too])
        ], [AC_MSG_WARN([libssl not usable: rediss:// app calls will start Python])], [-lcrypto])
      ], [AC_MSG_WARN([OpenSSL headers not found (apt-get install libssl-dev): rediss:// app calls will start Python])])
    ], [AC_MSG_WARN([libhiredis not usable: the Redis driver's app calls will start Python])])
  ], [AC_MSG_WARN([hiredis not found (apt-get install libhiredis-dev): the Redis driver's app calls will start Python])])
  PHP_SUBST([PYBROADCAST_SHARED_LIBADD])

  PHP_NEW_EXTENSION([pybroadcast], [ext/pybroadcast.c ext/server.c ext/app_route.c ext/socket_route.c ext/redis_route.c ext/redis_tls.c ext/redaction.c],
                    [$ext_shared])
  PHP_ADD_BUILD_DIR([$ext_builddir/ext])

  dnl The core: a plain shared object (not a PHP module) that embeds Python.
  PYB_PY_CFLAGS=`$PHP_PYTHON -c "import sysconfig as s; print('-I' + s.get_paths()[['include']])"`
  PYB_PY_LIBS=`$PHP_PYTHON -c "import sysconfig as s; v = s.get_config_var; print(f\"-L{v('LIBDIR')} -Wl,-rpath,{v('LIBDIR')} -lpython{v('LDVERSION')}\")"`
  PHP_ADD_BUILD_DIR([$ext_builddir/ext/core])
  PHP_ADD_SOURCES_X([PHP_EXT_DIR(pybroadcast)/ext/core], [convert.c core.c embed.c hub_runner.c],
                    [$PYB_PY_CFLAGS -I$ext_srcdir/ext -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers],
                    [shared_objects_pybroadcast_core], [yes])
  PHP_SUBST([shared_objects_pybroadcast_core])
  PHP_SUBST([PYB_PY_LIBS])
  PHP_ADD_MAKEFILE_FRAGMENT([$ext_srcdir/ext/core/Makefile.frag])
fi
