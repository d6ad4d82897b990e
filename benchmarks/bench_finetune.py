"""Fine-tuning the default model on a new photo look: SALT error before and after.

    python benchmarks/bench_finetune.py [--look studio|coily|drape]
                                        [--model models/autosalt-default.pt] [--work DIR]
                                        [--replay data/synthetic_train] [--epochs 8]

The retraining path of docs/retraining.md, measured: render 50 training visits with
``autosalt synth --look LOOK`` (``studio``: closely cropped hair, a dark spotlit backdrop, a
cool light from above, the look no released model was trained on; ``coily``: tightly coiled
hair, patterned wallpaper, a warm side lamp; ``drape``: teal drape, ring flash, green cast;
the model card says which looks a release was trained on), 100 validation visits and 200
held-out test visits of that look, the same 200 test visits in the default look (what the
look itself costs the starting model: all there is for fine-tuning to win back), and 100
other held-out visits of the default look, every set with ``--stratify`` so that each holds
the usual mix of patterns; fine-tune with ``configs/finetune.yaml`` (half of each epoch from
the 50 visits, half from default-look replay data); score the test sets with the starting
model, the fine-tuned ``best.pt`` (chosen on the validation visits) and the last epoch, and
compare each fine-tuned model with the start visit by visit: the mean change of the SALT
error with a 95% interval from a bootstrap over patients, and how many visits got better or
worse. Writes the ``finetune_LOOK`` section of docs/benchmarks.md.

Why these sizes: SALT errors of single visits spread by several points, so 30 visits cannot
tell a 0.5-point change from chance: an earlier version of this benchmark, with 30 test
visits drawn without ``--stratify``, ranked the same runs the other way round, and one
fine-tuned model measured on four sets of drape visits came out 0.7 points worse than its
start on 30 of them and 0.1, 0.5 and 0.7 points better on 200, 100 and 100 others.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.model.checkpoint import load_checkpoint  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402

#: set -> (seed, patients, visits, look or None for the look under test)
SETS = {"train": (4000, 25, 2, None), "val": (4200, 50, 2, None), "test": (4600, 100, 2, None),
        "same_default": (4600, 100, 2, "default"), "default_test": (4700, 50, 2, "default"),
        "default_replay": (4400, 100, 2, "default")}
LOOK_TEXT = {"coily": "tightly coiled hair, patterned wallpaper, a warm side lamp",
             "drape": "teal drape, ring flash, green cast",
             "studio": "closely cropped hair, a dark spotlit backdrop, a cool light from above"}
BOOTSTRAP = 5000


def set_folder(work: Path, name: str, look: str) -> Path:
    """Rendered sets of the look under test are named after it (coily_test, drape_val...)."""
    return work / (name if SETS[name][3] else f"{look}_{name}")


def autosalt(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "autosalt"), *args], check=True)


def score(model: Path, root: Path) -> dict:
    predictor = Predictor(model)
    return evaluate(predictor.model, list_samples([root]), predictor.input_size, "cpu",
                    progress=False, per_visit=True)


def weights_digest(model: Path) -> str:
    """Identity of a checkpoint's weights (best.pt may hold the start or the last epoch)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(load_checkpoint(model)["state_dict"].items()):
        digest.update(name.encode())
        digest.update(tensor.cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def paired_change(start: dict, tuned: dict, seed: int = 0) -> tuple[float, float, float, int, int]:
    """Mean change of the per-visit SALT error (tuned - start), its 95% bootstrap interval
    (resampling patients, since one patient's visits are alike), visits better and worse."""
    keys = sorted(start)
    change = {key: tuned[key] - start[key] for key in keys}
    patients = sorted({patient for patient, _ in keys})
    by_patient = [[change[key] for key in keys if key[0] == patient] for patient in patients]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(BOOTSTRAP):
        drawn = rng.integers(0, len(patients), len(patients))
        values = [value for index in drawn for value in by_patient[index]]
        means.append(np.mean(values))
    low, high = np.percentile(means, [2.5, 97.5])
    values = np.array(list(change.values()))
    return float(values.mean()), float(low), float(high), int((values < 0).sum()), int((values > 0).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--look", choices=sorted(LOOK_TEXT), default="studio",
                        help="the new look to fine-tune on (default studio, the one look no "
                             "released model was trained on)")
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/autosalt-finetune"))
    parser.add_argument("--replay", type=Path, default=None,
                        help="default-look labeled folder to replay (default: render 200 visits)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="more training overrides, e.g. train.lr=2e-4")
    args = parser.parse_args()
    where = machine()
    roots = {}
    look = args.look
    tests = {"test": f"{look} look (200 held-out visits, seed 4600)",
             "default_test": "default look (100 other held-out visits, seed 4700)"}
    for name, (seed, patients, visits, set_look) in SETS.items():
        if name == "default_replay" and args.replay is not None:
            roots[name] = args.replay
            continue
        roots[name] = set_folder(args.work, name, look)
        if not (roots[name] / "truth.csv").exists():
            autosalt("synth", str(roots[name]), "--patients", str(patients), "--visits", str(visits),
                     "--seed", str(seed), "--size", "288", "288", "--look", set_look or look,
                     "--stratify", "--quiet")
    run = args.work / f"run_{look}"
    shutil.rmtree(run, ignore_errors=True)  # a fresh run, not a continuation
    command = ["train", "--config", "configs/finetune.yaml", "--init", str(args.model), "--quiet",
               f"data.roots=[{roots['train']},{roots['default_replay']}]",
               f"data.val_roots=[{roots['val']}]", f"train.epochs={args.epochs}", *args.set,
               f"out={run}"]
    started = time.perf_counter()
    autosalt(*command)
    minutes = (time.perf_counter() - started) / 60
    start = json.loads((run / "init_metrics.json").read_text())["salt_mae"]
    epochs = json.loads((run / "metrics.json").read_text())
    best_epoch = min(epochs, key=lambda row: row["salt_mae"])
    best_is_start = load_checkpoint(run / "best.pt")["model_id"] == load_checkpoint(args.model)["model_id"]
    chosen = (f"no epoch beat the starting model on validation ({start:.2f}; best epoch "
              f"{best_epoch['epoch']}: {best_epoch['salt_mae']:.2f}), so best.pt is the start"
              if best_is_start else
              f"best.pt is epoch {best_epoch['epoch']} (validation SALT MAE "
              f"{best_epoch['salt_mae']:.2f}, starting model {start:.2f})")
    models = {"starting model": args.model, "fine-tuned best.pt": run / "best.pt",
              f"fine-tuned last epoch ({epochs[-1]['epoch']})": run / "last.pt"}
    digests = {model_name: weights_digest(path) for model_name, path in models.items()}
    rows, results = [], {}
    same = score(args.model, roots["same_default"])
    start_on_look = score(args.model, roots["test"])
    results[("test", digests["starting model"])] = start_on_look
    cost, cost_low, cost_high, _, _ = paired_change(same["visit_errors"], start_on_look["visit_errors"])
    for name, label in tests.items():
        for model_name, path in models.items():
            key = (name, digests[model_name])
            if key not in results:  # the same weights under two names are scored once
                results[key] = score(path, roots[name])
            result = results[key]
            start = results[(name, digests["starting model"])]
            if model_name == "starting model":
                change = "- | - |"
            else:
                mean, low, high, better, worse = paired_change(start["visit_errors"],
                                                               result["visit_errors"])
                change = f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] | {better} / {worse} |"
            rows.append(f"| {label} | {model_name} | {result['salt_mae']:.2f} | "
                        f"{result['salt_max_error']:.2f} | {change} {result['scalp_jaccard']:.3f} | "
                        f"{result['loss_jaccard']:.3f} | {result['fraction_mae']:.3f} |")
    replay = (f"`{args.replay}`" if args.replay else
              "200 default-look visits rendered with seed 4400")
    body = "\n".join([
        f"## Fine-tuning on a new look: {look} (`benchmarks/bench_finetune.py --look {look}`)", "",
        f"Machine: {where}. Base model `{args.model}` ({load_checkpoint(args.model)['model_id']}). "
        f"Fine-tuned on 50 visits (200 photos, 288x288) rendered with `autosalt synth --look {look} "
        f"--seed 4000 --stratify` ({LOOK_TEXT[look]}), half of each epoch from them and half "
        f"replayed from {replay}, validated on 100 "
        f"{look} visits (seed 4200): `autosalt {' '.join(command[:5])} ... "
        f"{' '.join(command[8:-1])}` with `configs/finetune.yaml` (lr 1e-4, BatchNorm statistics "
        f"kept, EMA 0.99, {args.epochs} epochs of 50 steps); {minutes:.1f} min on this CPU; {chosen}. "
        "Post-processing `surface`; SALT errors in points. *Change*: the fine-tuned model's "
        "SALT error minus the starting model's on the same visit, averaged, with a 95% interval "
        f"from {BOOTSTRAP} bootstrap resamples of patients; *better / worse*: visits whose error "
        "fell / rose.", "",
        f"What the look costs the starting model: on the same 200 test visits rendered in the "
        f"default look its SALT MAE is {same['salt_mae']:.2f}, against {start_on_look['salt_mae']:.2f} "
        f"in the {look} look (paired change {cost:+.2f} [{cost_low:+.2f}, {cost_high:+.2f}]); "
        "that difference is all that fine-tuning on the look can win back.", "",
        "| test set | model | SALT MAE | SALT max | change vs start [95% CI] | better / worse | "
        "scalp Jaccard | hair-loss Jaccard | loss-fraction MAE |",
        "|---|---|---|---|---|---|---|---|---|", *rows])
    write_section(f"finetune_{look}", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
