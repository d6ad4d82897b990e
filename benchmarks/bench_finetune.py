"""Fine-tuning the default model on a look it never saw: SALT error before and after.

    python benchmarks/bench_finetune.py [--model models/autosalt-default.pt] [--work DIR]
                                        [--epochs 8]

The retraining path of docs/retraining.md, measured: render 50 training visits with
``autosalt synth --look drape`` (teal drape, ring flash, green cast: nothing like the
default's training photos), 30 validation visits and 30 held-out test visits of the same
look from other seeds, every set with ``--stratify`` so that each holds the usual mix of
patterns (drawn at random, 25 patients held 2 diffuse heads and the test set 5 totalis: a
fine-tune then learns a lower prior for ambiguous thinning than its test set has); score
the test visits with the default model; fine-tune it with
``autosalt train --config configs/finetune.yaml --init MODEL`` on the 50; score the test
visits again. Also scores held-out visits of the default look with both models, to show
what fine-tuning costs there. Writes the ``finetune`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402

#: name -> (seed, patients, visits, look)
SETS = {"drape_train": (4000, 25, 2, "drape"), "drape_val": (4200, 15, 2, "drape"),
        "drape_test": (4100, 15, 2, "drape"), "default_test": (4300, 15, 2, "default"),
        "default_mix": (4400, 25, 2, "default")}


def autosalt(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "autosalt"), *args], check=True)


def score(model: Path, root: Path) -> dict:
    predictor = Predictor(model)
    return evaluate(predictor.model, list_samples([root]), predictor.input_size, "cpu", progress=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/autosalt-finetune"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--mix", action="store_true",
                        help="train on the 50 new-look visits plus 50 default-look ones (seed 4400)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="more training overrides, e.g. train.lr=2e-4 train.freeze_encoder=true")
    args = parser.parse_args()
    where = machine()
    roots = {}
    for name, (seed, patients, visits, look) in SETS.items():
        roots[name] = args.work / name
        if not (roots[name] / "truth.csv").exists():
            autosalt("synth", str(roots[name]), "--patients", str(patients), "--visits", str(visits),
                     "--seed", str(seed), "--size", "288", "288", "--look", look, "--stratify",
                     "--quiet")
    before = {name: score(args.model, roots[name]) for name in ("drape_test", "default_test")}
    run = args.work / "run"
    shutil.rmtree(run, ignore_errors=True)  # a fresh run, not a continuation
    train_roots = [roots["drape_train"]] + ([roots["default_mix"]] if args.mix else [])
    command = ["train", "--config", "configs/finetune.yaml", "--init", str(args.model), "--quiet",
               f"data.roots=[{','.join(map(str, train_roots))}]", f"data.val_roots=[{roots['drape_val']}]",
               f"train.epochs={args.epochs}", *args.set, f"out={run}"]
    started = time.perf_counter()
    autosalt(*command)
    minutes = (time.perf_counter() - started) / 60
    after = {name: score(run / "best.pt", roots[name]) for name in ("drape_test", "default_test")}
    start = json.loads((run / "init_metrics.json").read_text())["salt_mae"]
    epochs = json.loads((run / "metrics.json").read_text())
    best_epoch = min(epochs, key=lambda row: row["salt_mae"])
    chosen = (f"best.pt is epoch {best_epoch['epoch']} (validation SALT MAE "
              f"{best_epoch['salt_mae']:.2f}, starting model {start:.2f})"
              if best_epoch["salt_mae"] < start else
              f"no epoch beat the starting model on validation ({start:.2f}): best.pt is the start")
    results_method = after["drape_test"]["method"]
    rows = []
    for name, label in (("drape_test", "drape look (30 held-out visits, seed 4100)"),
                        ("default_test", "default look (30 held-out visits, seed 4300)")):
        for model, result in (("default model", before[name]), ("fine-tuned", after[name])):
            rows.append(f"| {label} | {model} | {result['salt_mae']:.2f} | {result['salt_max_error']:.2f} "
                        f"| {result['scalp_jaccard']:.3f} | {result['loss_jaccard']:.3f} |")
    body = "\n".join([
        "## Fine-tuning on a new look (`benchmarks/bench_finetune.py`)", "",
        f"Machine: {where}. Base model `{args.model}`. Fine-tuned on 50 visits (200 photos, "
        "288x288) rendered with `autosalt synth --look drape --seed 4000` (teal drape, ring "
        "flash, green cast: a look the default never saw), validated on 30 (seed 4200), "
        + ("mixed with 50 default-look visits (seed 4400), " if args.mix else "")
        + f"with `autosalt {' '.join(command[:5])} ... {' '.join(command[8:-1])}`: {minutes:.1f} min "
        f"on this CPU; {chosen}. Post-processing `{results_method}`; SALT errors in points.", "",
        "| test set | model | SALT MAE | SALT max | scalp Jaccard | hair-loss Jaccard |",
        "|---|---|---|---|---|---|", *rows])
    write_section("finetune", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
