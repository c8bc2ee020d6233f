"""The package boundaries of docs/architecture.md, as import-linter contracts, hold and bite.

The contracts live in the root pyproject.toml (``[tool.importlinter]``); ``make lint`` runs
``lint-imports``. Here the same contracts run over the workspace (they hold) and over a small
package tree with one deliberate forbidden import (they fail, naming the contract).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "importlinter"
]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PROBE = "hakiriprobe"
"""The namespace of the probe tree: never importable as the real ``hakiri``."""


def _lint(config: Path, *, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    # The probe tree runs in an environment of its own: only its namespace is importable.
    env = None if pythonpath is None else {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _member_packages() -> set[str]:
    packages = set()
    for src in ROOT.glob("packages/*/src/hakiri"):
        packages |= {f"hakiri.{d.name}" for d in src.iterdir() if (d / "__init__.py").is_file()}
    return packages


def test_every_member_is_a_root_package() -> None:
    # A member missing here would be outside every contract: nothing would stop it.
    assert set(CONFIG["root_packages"]) == _member_packages()


def test_the_workspace_keeps_every_contract() -> None:
    proc = _lint(ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for contract in CONFIG["contracts"]:
        assert f"{contract['name']} KEPT" in proc.stdout


def _ini_value(value: Any, rename: bool) -> str:
    items = value if isinstance(value, list) else [value]
    text = [str(item).replace("hakiri.", f"{PROBE}.", 1) if rename else str(item) for item in items]
    return "".join(f"\n    {item}" for item in text) if isinstance(value, list) else text[0]


def _contract_modules() -> set[str]:
    """Every module a contract names (members and the packages inside them)."""
    names = set(CONFIG["root_packages"])
    for contract in CONFIG["contracts"]:
        for key, value in contract.items():
            if key.endswith("_modules"):
                names |= set(value)
    return names


def _module_file(tree: Path, name: str) -> Path:
    """Where module ``name`` (dotted, under the namespace) lives in ``tree``: the
    ``__init__.py`` of a package that exists, else ``name.py``, its parents made packages."""
    path = tree / PROBE / name.replace(".", "/")
    if path.is_dir():
        return path / "__init__.py"
    for parent in reversed(path.parents):
        if parent.is_relative_to(tree / PROBE) and parent != tree / PROBE:
            parent.mkdir(exist_ok=True)
            (parent / "__init__.py").touch()
    return path.with_suffix(".py")


def _probe_tree(tmp_path: Path, modules: dict[str, str]) -> Path:
    """A tree of empty packages, one for every module a contract names, plus ``modules``
    (dotted name under the namespace -> source), and the workspace's contracts over it
    (``hakiri`` renamed, contract names kept) in ``tmp_path/.importlinter``; returns the
    tree's root."""
    tree = tmp_path / "src"
    # Shortest first: a package before the packages inside it.
    for name in sorted(_contract_modules(), key=len):
        directory = tree / PROBE / name.split(".", 1)[1].replace(".", "/")
        directory.mkdir(parents=True)
        (directory / "__init__.py").write_text("")
    for name, source in modules.items():
        _module_file(tree, name).write_text(source)
    lines = ["[importlinter]", f"root_packages = {_ini_value(CONFIG['root_packages'], True)}"]
    for contract in CONFIG["contracts"]:
        lines.append(f"[importlinter:contract:{contract['id']}]")
        for key, value in contract.items():
            if key != "id":
                lines.append(f"{key} = {_ini_value(value, key.endswith('_modules'))}")
    (tmp_path / ".importlinter").write_text("\n".join(lines) + "\n")
    return tree


def _contract_name(contract_id: str) -> str:
    (contract,) = [c for c in CONFIG["contracts"] if c["id"] == contract_id]
    return str(contract["name"])


def test_a_clean_probe_tree_passes(tmp_path: Path) -> None:
    tree = _probe_tree(
        tmp_path,
        {
            "connectors.source": f"import {PROBE}.core\n",
            # The connectors share their HTTP machinery, which imports only core.
            "connectors.http.source": f"from {PROBE}.connectors._http import client\n",
            "connectors.github.source": f"from {PROBE}.connectors._http import client\n",
            "connectors.wasm.fetch": f"from {PROBE}.connectors._http import proxies\n",
            "connectors._http.client": f"from {PROBE}.connectors._http import proxies\n",
            "connectors._http.proxies": f"import {PROBE}.core\n",
            "agent.server": f"from {PROBE} import connectors, context, runtime\n",
            "testing.host": f"import {PROBE}.runtime\n",
        },
    )
    proc = _lint(tmp_path / ".importlinter", pythonpath=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in proc.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract_id"),
    [
        # The layering this issue removed: a connector writing through the store...
        ("connectors.context", f"from {PROBE}.context import parquet\n", "connectors"),
        # ...the runtime reaching into a connector, lazily inside a function...
        ("runtime.wasm", f"def load():\n    import {PROBE}.connectors.http\n", "runtime"),
        # ...core importing up...
        ("core.plugins", f"import {PROBE}.runtime\n", "core"),
        # ...a connector reaching into the http connector for the shared HTTP machinery...
        (
            "connectors.github.source",
            f"from {PROBE}.connectors.http import client\n",
            "connectors-http",
        ),
        # ...and that machinery depending on a connector's options.
        (
            "connectors._http.client",
            f"from {PROBE}.connectors.http.config import RetryConfig\n",
            "connectors-shared-http",
        ),
    ],
    ids=[
        "connectors->context",
        "runtime->connectors",
        "core->runtime",
        "github->http",
        "_http->http",
    ],
)
def test_a_forbidden_import_fails_naming_its_contract(
    tmp_path: Path, module: str, source: str, contract_id: str
) -> None:
    # The imported modules exist, as they do in the workspace.
    tree = _probe_tree(
        tmp_path,
        {
            module: source,
            "context.parquet": "",
            "connectors.http.client": "",
            "connectors.http.config": "",
        },
    )
    proc = _lint(tmp_path / ".importlinter", pythonpath=tree)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    name = _contract_name(contract_id)
    assert f"{name} BROKEN" in proc.stdout, proc.stdout
    assert f"{PROBE}.{module}" in proc.stdout  # the offending module is named
