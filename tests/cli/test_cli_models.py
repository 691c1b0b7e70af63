"""`resnet-studio models` answers from the torch-free model table: the same output,
byte for byte, as measuring every network with torch, and it runs with torch unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from resnet_studio import cli
from resnet_studio.core import model_table
from resnet_studio.core.catalog import model_names

# torch, torchvision and numpy cannot be imported at all in the child (not just absent)
NO_TORCH = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "numpy"}:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
from resnet_studio.cli import main
code = main(sys.argv[1:])
assert not {"torch", "numpy"} & set(sys.modules), "imported torch or numpy"
sys.exit(code)
"""


def _without_torch(*argv: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(NO_TORCH), *argv],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _measured(capsys, monkeypatch, *argv: str) -> str:
    """What the command prints when every network is measured with torch (the table
    answers None, as for a network it lacks)."""
    monkeypatch.setattr(model_table, "listed_info", lambda *args, **kwargs: None)
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [("models", "--json"), ("models",)], ids=["json", "text"])
def test_models_without_torch_prints_what_measuring_prints(capsys, monkeypatch, argv):
    table = _without_torch(*argv)
    measured = _measured(capsys, monkeypatch, *argv)
    rows = len(model_names()) + (0 if "--json" in argv else 1)  # the text has a header
    assert len(table.splitlines()) == rows
    assert table == measured, f"run `{model_table.REGENERATE_COMMAND}`"


def test_a_filter_selects_from_the_table_too():
    out = _without_torch("models", "cifar-plain", "--json")
    assert [line.split('"')[3] for line in out.splitlines()] == [
        "cifar-plain20", "cifar-plain32", "cifar-plain44", "cifar-plain56", "cifar-plain110", "cifar-plain1202",
        "cifar-plain110-preact", "cifar-plain164-bottleneck", "cifar-plain164-bottleneck-preact",
        "cifar-plain1001-bottleneck", "cifar-plain1001-bottleneck-preact",
    ]  # fmt: skip
