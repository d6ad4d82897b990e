"""The documents stay true to the tree: links resolve, the data contract is the project's own,
the model card describes the shipped model, and every configuration file loads."""

import re
from pathlib import Path

import pytest

from autosalt.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "data" / "README.md", ROOT / "models" / "MODEL_CARD.md",
                    *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(document):
    text = document.read_text(encoding="utf-8")
    targets = [target for target in LINK.findall(text) if "://" not in target]
    missing = [target for target in targets if not (document.parent / target).exists()]
    assert not missing, f"{document.relative_to(ROOT)}: links to missing {missing}"


def test_the_data_contract_is_in_the_repository():
    for document in DOCUMENTS:
        assert "../shared/" not in document.read_text(encoding="utf-8"), document
    contract = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    for section in ("## 1. What a SALT score is", "## 2. Photo folders", "## 3. Labeled data",
                    "## 4. Score tables"):
        assert section in contract


def test_models_holds_the_shipped_model_and_a_short_card():
    assert sorted(path.name for path in (ROOT / "models").iterdir()) == ["MODEL_CARD.md",
                                                                          "autosalt-default.pt"]
    assert len((ROOT / "models" / "MODEL_CARD.md").read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("path", sorted((ROOT / "configs").rglob("*.yaml")),
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_every_configuration_file_loads(path):
    load_config(path)


def test_the_recipe_has_a_configuration_per_training_stage():
    recipe = (ROOT / "docs" / "experiments" / "recipe.md").read_text(encoding="utf-8")
    stages = sorted((ROOT / "configs" / "release").glob("stage*.yaml"))
    assert [path.stem for path in stages] == ["stage10", "stage11", "stage12", "stage2", "stage3", "stage4",
                                              "stage5", "stage7", "stage8", "stage9"]
    for path in stages:
        assert f"configs/release/{path.name}" in recipe


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_constraints_pin_every_declared_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pinned = {_requirement_name(line): line.split("==", 1)[1]
              for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    assert not [r for r in declared if _requirement_name(r) not in pinned]
    assert "torch==" not in "".join(project["dependencies"])  # ranges in pyproject, pins here
