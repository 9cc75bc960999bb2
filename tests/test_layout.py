"""The layout keeps production and simulation apart, and the data-only folders free of Python."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("vhub", "bots", "tasks")
SIMULATED = ROOT / "vhub" / "simulated"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, with its line (module-level and inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _product_files() -> list[Path]:
    return [path for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))]


def test_only_vhub_simulated_imports_the_simulators() -> None:
    """No module of vhub/, bots/ or tasks/ outside vhub/simulated/ imports fixtures/."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _product_files()
        if SIMULATED not in path.parents
        for line, module in _imports(path)
        if module == "fixtures" or module.startswith("fixtures.")
    ]
    assert [] == offenders


def test_only_the_cli_reaches_vhub_simulated() -> None:
    """The simulated systems, demo and bench are reached only through the CLI's explicit commands."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _product_files()
        if SIMULATED not in path.parents and path != ROOT / "vhub" / "cli.py"
        for line, module in _imports(path)
        if module.startswith("vhub.simulated")
    ]
    assert [] == offenders


def test_importing_the_product_loads_no_simulator() -> None:
    """Importing every product module (CLI included) leaves fixtures and vhub.simulated unloaded."""
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in _product_files()
        if SIMULATED not in path.parents and "migrations" not in path.parts and path.name != "__main__.py"
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fixtures' or m.startswith('vhub.simulated')))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert 0 == result.returncode, result.stderr
    assert "[]" == result.stdout.strip()


def test_queue_and_selectors_hold_no_python() -> None:
    """queue/ and selectors/ stay data: a package by either name would shadow the standard library."""
    assert [] == [str(path) for folder in ("queue", "selectors") for path in (ROOT / folder).rglob("*.py")]
