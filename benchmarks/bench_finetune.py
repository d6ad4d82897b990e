"""Fine-tuning the default model on a look it never saw: SALT error before and after.

    python benchmarks/bench_finetune.py [--model models/autosalt-default.pt] [--work DIR]
                                        [--replay data/synthetic_train] [--epochs 8]

The retraining path of docs/retraining.md, measured: render 50 training visits with
``autosalt synth --look drape`` (teal drape, ring flash, green cast: nothing like the
default's training photos), 30 validation visits and 100 held-out test visits of that look,
and 100 held-out visits of the default look, every set with ``--stratify`` so that each
holds the usual mix of patterns; fine-tune with ``configs/finetune.yaml`` (half of each epoch
from the 50 visits, half from default-look replay data); score both test sets with the
starting model, the fine-tuned ``best.pt`` (chosen on the 30 validation visits) and the last
epoch. Writes the ``finetune`` section of docs/benchmarks.md.

Why these sizes: SALT errors of single visits spread by several points, so 30 test visits
cannot tell a 0.5-point change from chance (an earlier version of this benchmark, with 30
test visits drawn without ``--stratify``, ranked the same runs the other way round).
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

from autosalt.model.checkpoint import load_checkpoint  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402

#: name -> (seed, patients, visits, look)
SETS = {"drape_train": (4000, 25, 2, "drape"), "drape_val": (4200, 15, 2, "drape"),
        "drape_test": (4600, 50, 2, "drape"), "default_test": (4700, 50, 2, "default"),
        "default_replay": (4400, 100, 2, "default")}
TESTS = {"drape_test": "drape look (100 held-out visits, seed 4600)",
         "default_test": "default look (100 held-out visits, seed 4700)"}


def autosalt(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "autosalt"), *args], check=True)


def score(model: Path, root: Path) -> dict:
    predictor = Predictor(model)
    return evaluate(predictor.model, list_samples([root]), predictor.input_size, "cpu", progress=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    for name, (seed, patients, visits, look) in SETS.items():
        if name == "default_replay" and args.replay is not None:
            roots[name] = args.replay
            continue
        roots[name] = args.work / name
        if not (roots[name] / "truth.csv").exists():
            autosalt("synth", str(roots[name]), "--patients", str(patients), "--visits", str(visits),
                     "--seed", str(seed), "--size", "288", "288", "--look", look, "--stratify",
                     "--quiet")
    run = args.work / "run"
    shutil.rmtree(run, ignore_errors=True)  # a fresh run, not a continuation
    command = ["train", "--config", "configs/finetune.yaml", "--init", str(args.model), "--quiet",
               f"data.roots=[{roots['drape_train']},{roots['default_replay']}]",
               f"data.val_roots=[{roots['drape_val']}]", f"train.epochs={args.epochs}", *args.set,
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
    rows, results = [], {}
    for name, label in TESTS.items():
        for model_name, path in models.items():
            result = results[(name, model_name)] = score(path, roots[name])
            rows.append(f"| {label} | {model_name} | {result['salt_mae']:.2f} | "
                        f"{result['salt_max_error']:.2f} | {result['scalp_jaccard']:.3f} | "
                        f"{result['loss_jaccard']:.3f} | {result['fraction_mae']:.3f} |")
    replay = (f"`{args.replay}`" if args.replay else
              "200 default-look visits rendered with seed 4400")
    body = "\n".join([
        "## Fine-tuning on a new look (`benchmarks/bench_finetune.py`)", "",
        f"Machine: {where}. Base model `{args.model}` ({load_checkpoint(args.model)['model_id']}). "
        "Fine-tuned on 50 visits (200 photos, 288x288) rendered with `autosalt synth --look drape "
        "--seed 4000 --stratify` (teal drape, ring flash, green cast: a look the default never "
        f"saw), half of each epoch from them and half replayed from {replay}, validated on 30 "
        f"drape visits (seed 4200): `autosalt {' '.join(command[:5])} ... "
        f"{' '.join(command[8:-1])}` with `configs/finetune.yaml` (lr 1e-4, BatchNorm statistics "
        f"kept, EMA 0.99, 8 epochs of 50 steps); {minutes:.1f} min on this CPU; {chosen}. "
        "Post-processing `surface`; SALT errors in points.", "",
        "| test set | model | SALT MAE | SALT max | scalp Jaccard | hair-loss Jaccard | "
        "loss-fraction MAE |", "|---|---|---|---|---|---|---|", *rows])
    write_section("finetune", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
