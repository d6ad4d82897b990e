"""Score photo folders: ``python infer.py PHOTOS --out OUT [--model models/...]``."""
import sys

from autosalt.cli import main

raise SystemExit(main(["infer", *sys.argv[1:]]))
