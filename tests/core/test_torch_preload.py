"""torch's libraries opened ahead of `import torch`: loaded before the import, torch
still works after it, a second call is free, and where it cannot help it does
nothing. Each case runs in a fresh interpreter: this one has torch imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from resnet_studio.core import torch_preload

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's dlopen")


def run_fresh(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_libraries_are_loaded_before_torch_is_imported_and_torch_works_after():
    result = run_fresh(
        """
        import json, sys
        from resnet_studio.core.torch_preload import ENTRY_LIBRARY, preload_torch_libraries
        first = preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        loaded = {name: name in maps for name in (ENTRY_LIBRARY, "libtorch_cpu.so", "libc10.so")}
        torch_before = "torch" in sys.modules
        again = preload_torch_libraries()
        import torch
        value = float((torch.ones(3, 3) @ torch.ones(3, 3)).sum())
        print(json.dumps({"first": first, "again": again, "loaded": loaded,
                          "torch_before": torch_before, "after": preload_torch_libraries(),
                          "value": value}))
        """
    )
    assert result["first"] is True and result["again"] is True and result["after"] is True
    assert result["loaded"] == {
        torch_preload.ENTRY_LIBRARY: True,
        "libtorch_cpu.so": True,
        "libc10.so": True,
    }
    assert result["torch_before"] is False  # it opened the files without importing torch
    assert result["value"] == 27.0


def test_once_torch_is_imported_it_does_nothing():
    result = run_fresh(
        """
        import json
        import torch
        from resnet_studio.core import torch_preload
        print(json.dumps({"result": torch_preload.preload_torch_libraries(), "done": torch_preload._DONE}))
        """
    )
    assert result == {"result": False, "done": []}


def test_without_the_usual_wheel_layout_it_reports_false(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_preload, "torch_library_dir", lambda: tmp_path)
    assert torch_preload._open_entry_library() is False
    monkeypatch.setattr(torch_preload, "torch_library_dir", lambda: None)
    assert torch_preload._open_entry_library() is False


def test_the_library_dir_is_torch_lib_of_the_installed_torch():
    import torch

    assert torch_preload.torch_library_dir() == torch_preload.Path(torch.__file__).parent / "lib"
