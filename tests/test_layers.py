"""The layers hold: `core` and the application layer run with no Qt at all, the
catalog imports no torch, and no module borrows another module's private names.

import-linter checks the static imports (pyproject.toml, run by .ci/run); these tests
check what actually happens at import time, where a lazy import could slip past it.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_studio"

BLOCKER = """
import importlib, pkgutil, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
"""


def _run(blocked: set[str], body: str) -> subprocess.CompletedProcess:
    script = f"BLOCKED = {blocked!r}\n" + BLOCKER + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


QT = {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"}


@pytest.mark.parametrize(("package", "at_least"), [("core", 8), ("app", 3)])
def test_every_module_imports_with_qt_unimportable(package, at_least):
    result = _run(QT, f"""
        import resnet_studio.{package} as pkg
        names = [m.name for m in pkgutil.walk_packages(pkg.__path__, "resnet_studio.{package}.")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= at_least


def test_catalog_imports_without_torch_or_numpy():
    result = _run({"torch", "torchvision", "numpy", "PIL"} | QT, """
        from resnet_studio.core import catalog
        print(len(catalog.model_names()))
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 78  # 58 + the pre-act and CIFAR-bottleneck names


def _private_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """`from x import _name` where x is another module of ours (`__future__` aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("resnet_studio"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.module}.{alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _private_imports(path)]
    assert not offenders, "private names imported across modules:\n" + "\n".join(offenders)


def test_the_private_import_check_sees_one(tmp_path):
    sample = tmp_path / "resnet_studio" / "m.py"
    sample.parent.mkdir()
    sample.write_text("from resnet_studio.core.runs.layout import _lock_path\n")
    assert _private_imports(sample, tmp_path) == [
        "resnet_studio/m.py:1 resnet_studio.core.runs.layout._lock_path"
    ]
