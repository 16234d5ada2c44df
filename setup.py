"""Compiles the hub package with Cython, in place: ``python setup.py build_ext --inplace``.

Every module but the packages' ``__init__`` is compiled; the .py files stay
beside the extension modules as their source (Python imports the compiled one
first, and ``pybroadcast/__init__.py`` refuses one older than its source). A
compiled module whose source is gone (moved or deleted) is removed first.
"""

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from Cython.Build import cythonize
from setuptools import find_packages, setup

for compiled in Path("pybroadcast").rglob("*.so"):
    suffix = next((s for s in EXTENSION_SUFFIXES if compiled.name.endswith(s)), ".so")
    if not compiled.with_name(compiled.name[: -len(suffix)] + ".py").exists():
        compiled.unlink()

modules = sorted(str(path) for path in Path("pybroadcast").rglob("*.py") if path.name != "__init__.py")

setup(
    name="pybroadcast",
    version="0.1.0",
    packages=find_packages(include=["pybroadcast", "pybroadcast.*"]),
    package_data={"pybroadcast.drivers.redis": ["lua/*.lua"]},
    ext_modules=cythonize(
        modules,
        language_level=3,
        compiler_directives={"binding": True, "embedsignature": True},
        quiet=True,
        build_dir="build/cython",
    ),
    zip_safe=False,
)
