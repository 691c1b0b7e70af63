"""Regenerate `resnet_studio/resources/model_table.json`, the torch-free table of every
listed network's parameters and multiply-adds that `resnet-studio models` and the
Model panel read instead of importing torch.

    python scripts/model_table.py          # rewrite the table (about 10 s)
    python scripts/model_table.py --check  # exit 1 if the table differs from a fresh measurement

Run it after adding or changing a network of the zoo; `tests/core/test_model_table.py`
fails, naming this command, until the table matches `core.models.model_info`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from resnet_studio.core.catalog import model_names
from resnet_studio.core.model_table import TABLE_FILE, table_text
from resnet_studio.core.models import model_info

OUT = Path(__file__).resolve().parents[1] / "resnet_studio" / "resources" / TABLE_FILE


def measured_text() -> str:
    """The table as measured now: every listed name at its default options."""
    return table_text([model_info(name) for name in model_names()], torch.__version__.split("+")[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    text = measured_text()
    old = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    if args.check:
        same = _models_part(old) == _models_part(text)
        print(f"{OUT.name}: {'up to date' if same else 'differs from the code: run python scripts/model_table.py'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(model_names())} networks)")
    return 0


def _models_part(text: str) -> str:
    """The table without its "about" line, which names the torch version only."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(' "about"'))


if __name__ == "__main__":
    sys.exit(main())
