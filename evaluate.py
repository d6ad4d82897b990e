"""Validate predicted SALT against manual scores: ``python evaluate.py --pred P --manual M --out R``.

The same as ``autosalt evaluate``; see ``docs/evaluation.md``.
"""

import sys

from autosalt.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["evaluate", *sys.argv[1:]]))
