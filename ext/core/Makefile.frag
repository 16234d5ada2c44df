# The core (pybroadcast_core.so), linked the way PHP links its modules, plus libpython.
$(phplibdir)/pybroadcast_core.la: ./pybroadcast_core.la
	$(LIBTOOL) --tag=CC --mode=install cp ./pybroadcast_core.la $(phplibdir)

./pybroadcast_core.la: $(shared_objects_pybroadcast_core)
	$(LIBTOOL) --tag=CC --mode=link $(CC) -shared $(COMMON_FLAGS) $(CFLAGS_CLEAN) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ -avoid-version -prefer-pic -module -rpath $(phplibdir) $(shared_objects_pybroadcast_core) $(PYB_PY_LIBS)

all: $(phplibdir)/pybroadcast_core.la
