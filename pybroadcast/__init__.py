"""pybroadcast: the realtime hub embedded in the PHP extension.

App processes import only :mod:`pybroadcast.client`; the hub (asyncio, websockets)
is imported by :mod:`pybroadcast.runtime` inside the process that runs
``PyBroadcast\\Server::run()``.

``make`` compiles every module with Cython beside its source, and a compiled
module wins the import over its ``.py``. So that an edited source never runs as
its old compiled self, importing the package checks that no compiled module is
older than its source, or left without one, and says "run make" otherwise.
"""

__version__ = "0.1.0"


def _check_compiled() -> None:
    import os
    from importlib.machinery import EXTENSION_SUFFIXES

    problems = []
    for directory, _, files in os.walk(os.path.dirname(os.path.abspath(__file__))):
        present = set(files)
        for name in files:
            suffix = next((s for s in EXTENSION_SUFFIXES if name.endswith(s)), None)
            if suffix is None:
                continue
            stem = name[: -len(suffix)]
            path = os.path.join(directory, name)
            if stem + ".py" not in present:
                problems.append(f"{path} has no source any more")
                continue
            for source in (stem + ".py", stem + ".pxd"):  # a .pxd: C declarations the .py compiles with
                if source in present and os.stat(os.path.join(directory, source)).st_mtime > os.stat(path).st_mtime:
                    problems.append(f"{os.path.join(directory, source)} changed after it was compiled")
    if problems:
        raise ImportError("; ".join(problems) + ": run make (a compiled module would run the old code)")


_check_compiled()
