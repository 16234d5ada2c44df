# pybroadcast — see README.md. Everything builds inside this checkout.
PYTHON    ?= python3
PHP       ?= php
PHPIZE    ?= phpize
VENV      := $(CURDIR)/.venv
VPY       := $(VENV)/bin/python
EXT_BUILD := build/php
EXT       := modules/pybroadcast.so
CORE      := modules/pybroadcast_core.so
PHP_EXT   := $(PHP) -n -d extension=$(CURDIR)/$(EXT)
HUB_SRC   := $(shell find pybroadcast -name "*.py")
EXT_SRC   := config.m4 $(wildcard ext/*.c ext/*.h)
CORE_SRC  := $(wildcard ext/core/*.c ext/core/*.h) ext/php_pybroadcast.h

.PHONY: all deps venv hub ext core stub stub-parser install demo test fuzz bench clean

all: hub ext core

deps:
	@PYTHON=$(PYTHON) tools/install-deps build

# --- the Python side: virtualenv and Cython-compiled hub --------------------
$(VPY): requirements.txt requirements-test.txt | deps
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	touch $(VPY)

venv: $(VPY)

build/hub.stamp: $(HUB_SRC) setup.py $(VPY)
	$(VPY) setup.py -q build_ext --inplace --build-temp build/cython
	@mkdir -p build && touch $@

hub: build/hub.stamp

# --- the C extension, built with phpize in build/php ------------------------
$(EXT_BUILD)/Makefile: config.m4 $(VPY)
	rm -rf $(EXT_BUILD) && mkdir -p $(EXT_BUILD)
	cp -p config.m4 $(EXT_BUILD)/ && cp -rp ext $(EXT_BUILD)/
	cd $(EXT_BUILD) && $(PHPIZE) >/dev/null && ./configure -q --with-python=$(VPY) \
	  --with-pybroadcast-hub=$(CURDIR) --with-pybroadcast-core=$(CURDIR)/$(CORE)

$(EXT): $(EXT_BUILD)/Makefile $(EXT_SRC) ext/pybroadcast_arginfo.h
	cp -p ext/*.c ext/*.h ext/*.php $(EXT_BUILD)/ext/
	$(MAKE) -s -C $(EXT_BUILD)
	mkdir -p modules && cp $(EXT_BUILD)/modules/pybroadcast.so $(EXT)

ext: $(EXT)

# The core embeds Python: a plain shared object that the module dlopen()s on
# first use, so that PHP processes that never call pybroadcast never load libpython.
PY_CONFIG = $(VPY) -c "import sysconfig as s; v = s.get_config_var;
$(CORE): $(CORE_SRC) $(VPY)
	mkdir -p modules
	$(CC) -shared -fPIC -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -I ext $$($(PHP)-config --includes 2>/dev/null || php-config --includes) \
	  -I $$($(PY_CONFIG) print(s.get_paths()['include'])") \
	  ext/core/*.c -o $@ \
	  $$($(PY_CONFIG) print(f\"-L{v('LIBDIR')} -Wl,-rpath,{v('LIBDIR')} -lpython{v('LDVERSION')}\")")

core: $(CORE)

# Regenerates ext/pybroadcast_arginfo.h from the stub, offline: gen_stub.php
# wants to download PHP-Parser; Debian's php-parser package provides it.
stub: stub-parser
	$(PHP) $(EXT_BUILD)/build/gen_stub.php -f ext/pybroadcast.stub.php

stub-parser: $(EXT_BUILD)/Makefile
	@version=$$(sed -n 's/.*\$$version = "\(.*\)";/\1/p' $(EXT_BUILD)/build/gen_stub.php | head -1); \
	  mkdir -p $(EXT_BUILD)/build/PHP-Parser-$$version/lib; \
	  ln -sfn /usr/share/php/PhpParser $(EXT_BUILD)/build/PHP-Parser-$$version/lib/PhpParser

install: all
	$(MAKE) -s -C $(EXT_BUILD) install
	tools/install-ini $(PHP)

demo: all
	PHP="$(PHP_EXT)" php/demo.sh

test: all
	@PYTHON=$(PYTHON) tools/install-deps test
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" VPY="$(VPY)" tests/run-all

fuzz: all
	@PYTHON=$(PYTHON) tools/install-deps test
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" $(VPY) tests/fuzz.py --cases $${CASES:-100000} --seed $${SEED:-1}

bench: all
	@PYTHON=$(PYTHON) tools/install-deps test
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" $(VPY) bench/run.py

clean:
	rm -rf build modules
	find pybroadcast -name "*.so" -delete
