"""The progress events of the analyses: frozen dataclasses of plain values.

Downloads and decoding report with `core.evaluation`'s `DownloadProgress` and
`DecodeProgress`; the analysis loop itself with `AnalysisProgress`. A callback that
raises stops the loop between two forward passes (the Cancel button does that).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalysisProgress:
    """Forward passes of one analysis done so far (a pass: one lesion or one point of
    the landscape on one batch)."""

    task: str  # "lesion" | "landscape"
    model: str  # the zoo name of the network being analysed
    done: int
    total: int
