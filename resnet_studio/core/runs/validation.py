"""What each file of a run folder must hold, checked when it is read.

Every check raises `RunDamagedError` naming the file, what is wrong with it and what
to do, and changes nothing on the disk: repairing is the user's call (resume from an
older checkpoint with ``--from-checkpoint``, fix the file, or delete the run). The
checks need no torch, so the listing and the window can run them in a blink; the
tensors (weights, optimizer state) are checked when they are loaded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from resnet_studio.core.catalog import RUN_STATUSES, SHORTCUTS, ModelChoice, parse_name
from resnet_studio.core.errors import RunDamagedError, StudioError
from resnet_studio.core.recipes import Recipe
from resnet_studio.core.runs.layout import CHECKPOINTS, POINTER, STATUS
from resnet_studio.core.runs.records import one_line, read_json

CHECKPOINT_NAME = re.compile(r"^iter-(\d+)(?:-(\d+))?$")  # checkpoints/iter-00000400[-1]

DELETE_THE_RUN = "delete the run (the runs table's Delete, or its folder)"
CONFIG_ADVICE = f"Resume needs it to rebuild the run: restore the file, or {DELETE_THE_RUN}."
STATUS_ADVICE = (f"Delete {STATUS} to have it written again when you resume (its summary "
                 f"is rebuilt), or {DELETE_THE_RUN}.")  # fmt: skip


def damaged(path: Path, problem: str, advice: str) -> RunDamagedError:
    """The error for a damaged file: "<path> is damaged: <problem>. <advice>"."""
    return RunDamagedError(f"{path} is damaged: {one_line(problem)}. {advice}", path)


def read_checked(path: Path, advice: str) -> dict[str, Any]:
    """read_json, with ``advice`` added when the file is not a JSON object."""
    try:
        return read_json(path)
    except RunDamagedError as exc:
        raise RunDamagedError(f"{exc} {advice}", path) from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


# --------------------------------------------------------------------------- config.json


def check_config(config: Mapping[str, Any], path: Path) -> Recipe:
    """The recipe of a run's config.json, after checking that the config names a model
    and holds a recipe whose every field has the right type (the listing's check)."""
    advice = CONFIG_ADVICE
    model = config.get("model")
    if model is None:
        raise damaged(path, "it names no model", advice)
    name = model.get("name") if isinstance(model, Mapping) else model
    if not isinstance(name, str) or not name:
        raise damaged(path, f"its model {model!r} has no name", advice)
    recipe = config.get("recipe")
    if recipe is None:
        raise damaged(path, "it has no recipe", advice)
    if not isinstance(recipe, Mapping):
        raise damaged(path, f"its recipe is a JSON {type(recipe).__name__}, not an object", advice)
    try:
        return Recipe.from_dict(dict(recipe))
    except StudioError as exc:
        raise damaged(path, f"its {exc}", advice) from None


def training_config(config: Mapping[str, Any], path: Path) -> tuple[ModelChoice, Recipe]:
    """The network and recipe a resumed run trains, from its config.json."""
    recipe = check_config(config, path)
    advice = f"Restore the file, or {DELETE_THE_RUN}."
    model = config["model"]
    options = model if isinstance(model, Mapping) else {"name": model}
    shortcut = options.get("shortcut")
    if shortcut is not None and shortcut not in SHORTCUTS:
        raise damaged(path, f"its model's shortcut {shortcut!r} is not one of "
                      f"{', '.join(SHORTCUTS)}", advice)  # fmt: skip
    zero_init = options.get("zero_init_residual", False)
    if not isinstance(zero_init, bool):
        raise damaged(path, f"its model's zero_init_residual {zero_init!r} is not true/false", advice)
    try:
        parse_name(options["name"])
    except StudioError as exc:
        raise damaged(path, f"its model: {exc}", advice) from None
    return ModelChoice(options["name"], shortcut=shortcut, zero_init_residual=zero_init), recipe


# --------------------------------------------------------------------------- gradient norms

GRAD_LAYERS_ADVICE = (f"Delete it to have it written again at the next record of a resume "
                      f"(the curves by depth then assume every layer is on the main path), "
                      f"or {DELETE_THE_RUN}.")  # fmt: skip


def check_grad_layers(doc: Mapping[str, Any], path: Path) -> tuple[list[str], list[int | None]]:
    """The layer names and depths of a grad_layers.json: two lists of one length,
    names as text, depths integers >= 1 or null (a projection shortcut)."""
    names, depths = doc.get("layers"), doc.get("depths")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise damaged(path, "its layers are not a list of layer names", GRAD_LAYERS_ADVICE)
    if not isinstance(depths, list) or not all(d is None or (_is_int(d) and d >= 1) for d in depths):
        raise damaged(path, "its depths are not a list of integers >= 1 or null", GRAD_LAYERS_ADVICE)
    if len(names) != len(depths):
        raise damaged(path, f"it names {len(names)} layers but gives {len(depths)} depths",
                      GRAD_LAYERS_ADVICE)  # fmt: skip
    return names, depths


def grad_norms_of(record: Mapping[str, Any]) -> list[float] | None:
    """A metrics record's "grad_norms" (one mean gradient norm per recorded layer, in
    the order of grad_layers.json; null where it was not finite) as floats, NaN for
    null; None when the record has none or they are not such a list (another writer's
    record: its other numbers still count)."""
    norms = record.get("grad_norms")
    if not isinstance(norms, list) or not norms:
        return None
    if not all(v is None or (_is_number(v) and v >= 0) for v in norms):
        return None
    return [math.nan if v is None else float(v) for v in norms]


# --------------------------------------------------------------------------- status.json


def check_status(doc: Mapping[str, Any], path: Path) -> str:
    """The status of a status.json (a JSON object with a known status)."""
    advice = STATUS_ADVICE
    status = doc.get("status")
    if status not in RUN_STATUSES:
        raise damaged(path, f"its status {status!r} is not one of {', '.join(RUN_STATUSES)}",
                      advice)  # fmt: skip
    if not isinstance(doc.get("reason", ""), str):
        raise damaged(path, "its reason is not text", advice)
    if not isinstance(doc.get("summary", {}), Mapping):
        raise damaged(path, "its summary is not an object", advice)
    return status


# --------------------------------------------------------------------------- checkpoints


def folder_iteration(folder: Path) -> int:
    """The iteration a checkpoint folder's name says (iter-00000400-1 -> 400)."""
    return int(CHECKPOINT_NAME.match(folder.name)[1])


def checkpoint_advice(run_name: str, folder: Path, others: list[Path]) -> str:
    """What to do when the checkpoint in ``folder`` is damaged: resume from an older
    complete one if the run kept one, else start again."""
    older = [f for f in others if f != folder and folder_iteration(f) <= folder_iteration(folder)]
    if older:
        it = folder_iteration(older[0])
        return (f"Resume from the checkpoint at iteration {it} kept beside it: "
                f"`resnet-studio train --resume {run_name} --from-checkpoint {it}`, or "
                f"{DELETE_THE_RUN}.")  # fmt: skip
    return f"No other checkpoint was kept: {DELETE_THE_RUN} and train it again."


def check_pointer(doc: Mapping[str, Any], path: Path, kept: list[Path]) -> str:
    """The folder name checkpoint.json points at: a checkpoint folder directly inside
    checkpoints/ (a pointer such as "../../x" would make resume read outside the run)."""
    folder = doc.get("folder")
    if isinstance(folder, str) and CHECKPOINT_NAME.match(folder):
        return folder
    names = ", ".join(f.name for f in kept[:3])
    point = (f"Point it at a folder of {CHECKPOINTS}/ ({names}), or delete {POINTER} to "
             "resume from the newest complete checkpoint" if names else
             f"No checkpoint is kept: {DELETE_THE_RUN}")  # fmt: skip
    raise damaged(path, f"it names {folder!r}, which is not a checkpoint folder inside "
                  f"{path.parent / CHECKPOINTS}", f"{point}.")  # fmt: skip


# The trainer state trainer.json holds (RunTrainer.trainer_state writes it): each key
# with the check its value must pass and what that check means.
_Check = tuple[Callable[[Any], bool], str]
TRAINER_FIELDS: dict[str, _Check] = {
    "iteration": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "warmed_up": (lambda v: isinstance(v, bool), "true or false"),
    "lr_scale": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "best_val": (lambda v: v is None or (_is_number(v) and 0 <= v <= 1), "null or a fraction"),
    "best_test": (lambda v: v is None or (_is_number(v) and 0 <= v <= 1), "null or a fraction"),
    "evals_without_gain": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "wall_time": (lambda v: _is_number(v) and v >= 0, "a number of seconds >= 0"),
}


def check_trainer_state(doc: Mapping[str, Any], path: Path, advice: str) -> dict[str, Any]:
    """A checkpoint's trainer.json: "iteration" present, every known field of its type,
    and the iteration the one its folder's name says."""
    if "iteration" not in doc:
        raise damaged(path, "it has no iteration", advice)
    for key, (ok, meaning) in TRAINER_FIELDS.items():
        if key in doc and not ok(doc[key]):
            raise damaged(path, f"its {key} is {doc[key]!r}, not {meaning}", advice)
    if CHECKPOINT_NAME.match(path.parent.name) and doc["iteration"] != folder_iteration(path.parent):
        raise damaged(path, f"its iteration {doc['iteration']} is not that of its folder "
                      f"{path.parent.name}", advice)  # fmt: skip
    return dict(doc)


def weights_mismatch(own: Mapping[str, Any], weights: Mapping[str, Any]) -> str:
    """How the tensors of a checkpoint differ from a network's state_dict, in one line
    ("" when names and shapes all agree): a checkpoint of another architecture."""
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    reshaped = [k for k in own if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)]
    return ", ".join(
        f"{len(keys)} {what} (such as {keys[0]!r})"
        for keys, what in ((missing, "tensors missing"), (unexpected, "unexpected tensors"),
                           (reshaped, "tensors of another shape"))  # fmt: skip
        if keys
    )
