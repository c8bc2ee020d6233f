"""hakiri-core without its arrow extra: every module imports, Arrow-backed helpers say which
extra to install. Run in a fresh interpreter where pyarrow cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    class NoArrow:
        def find_spec(self, name, path=None, target=None):
            if name == "pyarrow" or name.startswith("pyarrow."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoArrow())
    import hakiri.core
    from hakiri.core.errors import HakiriError

    modules = sorted(
        info.name for info in pkgutil.walk_packages(hakiri.core.__path__, "hakiri.core.")
    )
    for name in modules:
        importlib.import_module(name)
    from hakiri.core.batch import Batch

    try:
        Batch.from_records([{"id": 1}])
        error = None
    except HakiriError as exc:
        error = {"code": exc.code, "line": exc.one_line()}
    print(json.dumps({
        "modules": modules,
        "arrow_loaded": sorted(m for m in sys.modules if m.split(".")[0] == "pyarrow"),
        "error": error,
    }))
    """
)


def test_every_core_module_imports_without_pyarrow() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(proc.stdout)
    assert {"hakiri.core.batch", "hakiri.core.evolution", "hakiri.core.due"} <= set(
        found["modules"]
    )
    assert found["arrow_loaded"] == []
    assert found["error"]["code"] == "missing_dependency"
    assert "pip install 'hakiri-core[arrow]'" in found["error"]["line"]
