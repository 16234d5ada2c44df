"""An edited source never runs as its old compiled self (the build compiles in place)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from support import ROOT


def _import_copy(tmp_path, change) -> subprocess.CompletedProcess[str]:
    """Copy the built package, apply `change` to the copy, import it in a fresh interpreter."""
    copy = tmp_path / "pybroadcast"
    shutil.copytree(ROOT / "pybroadcast", copy, copy_function=shutil.copy2)  # keeps mtimes
    change(copy)
    return subprocess.run([sys.executable, "-c", "import pybroadcast"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)


def test_the_built_package_imports(tmp_path) -> None:
    assert list((ROOT / "pybroadcast").glob("validation.*.so")), "the hub is not compiled in place"
    assert _import_copy(tmp_path, lambda copy: None).returncode == 0


def test_a_source_edited_after_make_is_refused_with_run_make(tmp_path) -> None:
    def edit(copy) -> None:
        source = copy / "validation.py"
        source.write_text(source.read_text() + "\n# edited\n")
        later = os.stat(next(copy.glob("validation.*.so"))).st_mtime + 5
        os.utime(source, (later, later))

    result = _import_copy(tmp_path, edit)
    assert result.returncode != 0
    assert "validation.py changed after it was compiled: run make" in result.stderr


def test_c_declarations_edited_after_make_are_refused_too(tmp_path) -> None:
    def edit(copy) -> None:
        declarations = copy / "send_many.pxd"
        later = os.stat(next(copy.glob("send_many.*.so"))).st_mtime + 5
        os.utime(declarations, (later, later))

    result = _import_copy(tmp_path, edit)
    assert result.returncode != 0
    assert "send_many.pxd changed after it was compiled: run make" in result.stderr


def test_a_compiled_module_without_its_source_is_refused(tmp_path) -> None:
    result = _import_copy(tmp_path, lambda copy: (copy / "validation.py").unlink())
    assert result.returncode != 0 and "has no source any more: run make" in result.stderr
