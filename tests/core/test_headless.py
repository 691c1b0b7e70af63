"""`core` must import and run on a machine with no Qt at all."""

import subprocess
import sys
import textwrap


def test_every_core_module_imports_with_qt_unimportable():
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys

        class BlockQt:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"}:
                    raise ImportError(f"{name} is blocked: core must not import Qt")
                return None

        sys.meta_path.insert(0, BlockQt())
        import resnet_studio.core as core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, "resnet_studio.core.")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 8  # models, weights, images, data, runs, ...
