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
HUB_SRC   := $(shell find pybroadcast -name "*.py" -o -name "*.pxd")
EXT_SRC   := config.m4 $(wildcard ext/*.c ext/*.h ext/core/*.c ext/core/*.h) ext/core/Makefile.frag

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

# --- the C extension and its core, built with phpize in build/php ------------
# The core embeds Python: the module dlopen()s it on first use, so that PHP
# processes that never call pybroadcast never load libpython (config.m4).
$(EXT_BUILD)/Makefile: config.m4 ext/core/Makefile.frag $(VPY)
	rm -rf $(EXT_BUILD) && mkdir -p $(EXT_BUILD)
	cp -p config.m4 $(EXT_BUILD)/ && cp -rp ext $(EXT_BUILD)/
	cd $(EXT_BUILD) && $(PHPIZE) >/dev/null && ./configure -q --with-python=$(VPY) \
	  --with-pybroadcast-hub=$(CURDIR) --with-pybroadcast-core=$(CURDIR)/$(CORE)

# The Lua scripts the C app route runs, embedded from the files Python reads (one definition).
LUA_IN_C  := members publish read_history
ext/redis_scripts.h: tools/embed-lua $(LUA_IN_C:%=pybroadcast/drivers/redis/lua/%.lua)
	$(PYTHON) tools/embed-lua $@ $(LUA_IN_C)

$(EXT) $(CORE) &: $(EXT_BUILD)/Makefile $(EXT_SRC) ext/pybroadcast_arginfo.h ext/redis_scripts.h
	cp -p ext/*.c ext/*.h ext/*.php $(EXT_BUILD)/ext/ && cp -p ext/core/*.c ext/core/*.h $(EXT_BUILD)/ext/core/
	$(MAKE) -s -C $(EXT_BUILD)
	mkdir -p modules && cp $(EXT_BUILD)/modules/pybroadcast.so $(EXT) && cp $(EXT_BUILD)/modules/pybroadcast_core.so $(CORE)

ext core: $(EXT) $(CORE)

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

demo: all node_modules/.stamp
	PHP="$(PHP_EXT)" php/demo.sh

# pusher-js and Laravel Echo, pinned in package-lock.json: the demo serves them, the tests drive them.
node_modules/.stamp: package.json package-lock.json
	@command -v npm >/dev/null || PYTHON=$(PYTHON) tools/install-deps test
	npm ci --silent --no-audit --no-fund
	touch $@

test: all
	@PYTHON=$(PYTHON) tools/install-deps test
	$(MAKE) -s node_modules/.stamp
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" VPY="$(VPY)" tests/run-all

fuzz: all
	@PYTHON=$(PYTHON) tools/install-deps test
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" $(VPY) tests/fuzz.py --cases $${CASES:-100000} --seed $${SEED:-1}

bench: all
	@PYTHON=$(PYTHON) tools/install-deps test
	PHP="$(PHP)" EXT="$(CURDIR)/$(EXT)" $(VPY) bench/run.py

clean:
	rm -rf build modules ext/redis_scripts.h
	find pybroadcast -name "*.so" -delete
