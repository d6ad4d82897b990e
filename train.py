"""Train the segmentation model: ``python train.py --config configs/default.yaml [key=value ...]``."""
import sys

from autosalt.cli import main

raise SystemExit(main(["train", *sys.argv[1:]]))
