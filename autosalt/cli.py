"""The ``autosalt`` command: one subcommand per step.

Each subcommand lives in its stage's module, which provides ``configure_parser(parser)`` and
``run(args) -> exit code``; modules are imported only when their subcommand runs, so
``autosalt --help`` is instant and scoring never imports the training code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Set before anything imports albumentations / huggingface_hub: no network at run time.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: name -> (module, one-line help). Order = order in ``--help``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("autosalt.synth.cli", "make a synthetic labeled dataset with exact SALT truth"),
    "score-masks": ("autosalt.postprocess.score_masks",
                    "score a labeled-data folder's masks into a SALT table"),
    "train": ("autosalt.training.train", "train or fine-tune the segmentation model"),
    "evaluate": ("autosalt.evaluation.evaluate", "agreement of predicted with manual SALT, with a report"),
    "evaluate-masks": ("autosalt.evaluation.masks", "segmentation metrics of a mask folder vs a reference"),
    "report": ("autosalt.evaluation.report", "longitudinal patient and cohort report from scores"),
    "infer": ("autosalt.inference.batch", "score photo folders with a model (masks, SALT, overlays)"),
    "merge": ("autosalt.inference.merge", "join the score tables of 'infer --shard' runs"),
    "export-onnx": ("autosalt.inference.onnx_backend", "export a checkpoint to ONNX for onnxruntime"),
    "import-annotations": ("autosalt.annotations.importer",
                           "LabelMe/CVAT/COCO annotations -> a labeled-data folder"),
    "check-dataset": ("autosalt.annotations.check", "check a labeled-data folder before training"),
}


def build_parser() -> argparse.ArgumentParser:
    from autosalt import __version__

    parser = argparse.ArgumentParser(
        prog="autosalt",
        description="Automatic SALT (Severity of Alopecia Tool) scoring from scalp photographs. "
                    "Run 'autosalt <command> --help' for each step.")
    parser.add_argument("--version", action="version", version=f"autosalt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        subparsers.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
        sub = argparse.ArgumentParser(prog=f"autosalt {argv[0]}",
                                      description=SUBCOMMANDS[argv[0]][1])
        module.configure_parser(sub)
        args = sub.parse_args(argv[1:])
        try:
            return int(module.run(args) or 0)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except (FileNotFoundError, NotADirectoryError, ValueError) as error:
            # Bad arguments or input a user can fix: a message, not a traceback.
            print(f"autosalt {argv[0]}: error: {error}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
