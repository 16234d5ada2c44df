"""The build: the stub is the source of the committed arginfo, and regenerating it works offline."""

from __future__ import annotations

import subprocess

from support import ROOT


def test_arginfo_regenerates_offline_from_the_stub_unchanged() -> None:
    arginfo = ROOT / "ext" / "pybroadcast_arginfo.h"
    committed = arginfo.read_text()
    # `make stub` forces gen_stub.php to parse the stub again (no network here: it
    # uses Debian's php-parser) and rewrite the arginfo.
    result = subprocess.run(["make", "-s", "stub"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Saved ext/pybroadcast_arginfo.h" in result.stdout
    assert arginfo.read_text() == committed, "ext/pybroadcast_arginfo.h is not what the stub generates"
