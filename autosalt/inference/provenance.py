"""What a scoring run's rows depend on, and the check that a resumed run matches it.

``autosalt infer`` records these settings in ``OUT/run.json`` (``scoring``) and in every visit's
record, so ``--resume`` continues only a run scored the same way: another model file, backend,
precision, method or threshold is refused with a message naming what differs, and a record
scored otherwise is never reused.
"""

from __future__ import annotations

import json
from pathlib import Path


def scoring_settings(settings: dict, model_id: str, run_info: dict) -> dict:
    """The settings that decide a row's values and files, as plain JSON values.

    Args:
        settings: the run's :class:`autosalt.inference.visit_scoring.Settings` as a dict.
        model_id: the id stored in the checkpoint.
        run_info: what ``run.json`` records: ``model.sha256`` (the model file's hash) and
            ``settings.backend`` / ``settings.precision`` (as run); None where not given.
    """
    model, ran = run_info.get("model", {}), run_info.get("settings", {})
    return json.loads(json.dumps({
        "model_id": model_id, "model_sha256": model.get("sha256"), "backend": ran.get("backend"),
        "precision": ran.get("precision"), **settings}))


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``name: old -> new`` for every setting that differs (nested dicts by dotted name)."""
    found = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            found += differences(before, after, f"{prefix}{key}.")
        elif before != after:
            found.append(f"{prefix}{key}: {before!r} -> {after!r}")
    return found


def check_resumable(out: Path, scoring: dict) -> None:
    """Refuse (``ValueError``) to resume into ``out`` unless its run was scored as ``scoring``.

    A folder without ``run.json`` and without visit records is a new run and passes.
    """
    run_file = out / "run.json"
    try:
        recorded = json.loads(run_file.read_text(encoding="utf-8")).get("scoring")
    except FileNotFoundError:
        if any((out / "visits").glob("*/*.json")):
            raise ValueError(f"{out}: visit records but no run.json, so the settings they were "
                             "scored with are unknown; cannot --resume. Score into a new --out "
                             "(or delete this one)") from None
        return
    except (OSError, ValueError, AttributeError) as error:
        raise ValueError(f"{run_file}: cannot be read ({error}); cannot --resume. Score into a "
                         "new --out (or delete this one)") from None
    if not isinstance(recorded, dict):
        raise ValueError(f"{run_file}: does not record the scoring settings (written by another "
                         "autosalt version); cannot --resume. Score into a new --out")
    changed = differences(recorded, scoring)
    if changed:
        raise ValueError(f"{out} was scored with other settings or another model; --resume would "
                         f"mix rows scored two ways. Differs: {'; '.join(changed)}. Run with the "
                         "settings and model of that run, or score into a new --out")
