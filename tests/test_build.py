"""The build: the stub is the source of the committed arginfo, and the build refuses what it cannot support."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig

from support import PHP, ROOT, client, php_command, recv_json, run_php, subscribe


def test_arginfo_regenerates_offline_from_the_stub_unchanged(tmp_path) -> None:
    # gen_stub.php parses a copy of the stub (no network: it uses Debian's php-parser)
    # and writes the arginfo beside that copy; the tracked files are left alone.
    prepared = subprocess.run(["make", "-s", "stub-parser"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    shutil.copy(ROOT / "ext" / "pybroadcast.stub.php", tmp_path)
    result = subprocess.run([PHP, str(ROOT / "build" / "php" / "build" / "gen_stub.php"), "-f",
                             str(tmp_path / "pybroadcast.stub.php")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (tmp_path / "pybroadcast_arginfo.h").read_text()
    assert generated == (ROOT / "ext" / "pybroadcast_arginfo.h").read_text(), \
        "ext/pybroadcast_arginfo.h is not what the stub generates: run make stub"


def test_configure_refuses_php_older_than_8_1(tmp_path) -> None:
    shutil.copy(ROOT / "config.m4", tmp_path)
    shutil.copytree(ROOT / "ext", tmp_path / "ext")
    fake = tmp_path / "php-config"
    fake.write_text('#!/bin/sh\ncase "$1" in --vernum) echo 80030;; --version) echo 8.0.30;; '
                    '*) exec php-config "$@";; esac\n')
    fake.chmod(0o755)
    assert subprocess.run(["phpize"], cwd=tmp_path, capture_output=True, timeout=120).returncode == 0
    result = subprocess.run(["./configure", f"--with-php-config={fake}", f"--with-python={ROOT / '.venv' / 'bin' / 'python'}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert result.returncode != 0
    assert "pybroadcast needs PHP 8.1 or later" in result.stdout + result.stderr


async def test_make_install_gives_an_extension_that_runs_a_hub_and_an_app_from_php_s_extension_dir(make_hub, tmp_path) -> None:
    """What `sudo make install` copies (into a staging root here), used from elsewhere: the extension
    still finds its core, the Python and the hub package it was built with (README: Install)."""
    staged = subprocess.run(["make", "-s", "-C", str(ROOT / "build" / "php"), "install", f"INSTALL_ROOT={tmp_path}"],
                            capture_output=True, text=True, timeout=120)
    assert staged.returncode == 0, staged.stdout + staged.stderr
    installed = str(next(tmp_path.rglob("pybroadcast.so")))
    assert installed.startswith(str(tmp_path)) and "/lib/php/" in installed
    hub = make_hub(ext=installed, wrapper=["env", "-C", str(tmp_path)])  # run from the staging root
    async with await client(hub, "1") as ws:
        assert (await subscribe(ws, "news"))["event"] == "subscribed"
        app = subprocess.run(php_command("-r", "broadcast('news', 'installed');", ini=hub.ini, ext=installed),
                             cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert app.returncode == 0 and not app.stderr, app.stdout + app.stderr
        assert (await recv_json(ws))["data"] == "installed"
    assert hub.stop() == 0


def test_a_process_given_another_libpython_than_the_builds_is_told_which(tmp_path) -> None:
    """The core's libpython is the build's Python's (its RUNPATH). Where the loader takes another file
    of that name instead (a distribution's, for a user who cannot read the build's; here one that
    LD_LIBRARY_PATH names), the first call that needs Python fails naming both, before Python runs."""
    libdir, name = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    shutil.copy(os.path.join(libdir, name), tmp_path)
    code = "try { getChannelUsers('x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }"
    ini = {"pybroadcast.listen": ":8080", "pybroadcast.socket": str(tmp_path / "none.sock")}  # (listen: Python's)
    other = run_php(code, ini=ini, env={"LD_LIBRARY_PATH": str(tmp_path)})
    assert f"built with the libpython in {libdir}, but this process (uid {os.geteuid()}) loaded " \
           f"{os.path.realpath(tmp_path / name)}" in other.stdout, other.stdout + other.stderr
    builds = run_php(code, ini=ini)
    assert "hub unreachable" in builds.stdout, builds.stdout + builds.stderr
