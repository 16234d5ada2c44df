"""Compiles the hub package with Cython, in place: ``python setup.py build_ext --inplace``.

Every module but ``__init__`` is compiled; the .py files stay beside the
extension modules as their source (Python imports the compiled one first).
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import setup

modules = sorted(str(path) for path in Path("pybroadcast").glob("*.py") if path.name != "__init__.py")

setup(
    name="pybroadcast",
    version="0.1.0",
    packages=["pybroadcast"],
    ext_modules=cythonize(
        modules,
        language_level=3,
        compiler_directives={"binding": True, "embedsignature": True},
        quiet=True,
        build_dir="build/cython",
    ),
    zip_safe=False,
)
