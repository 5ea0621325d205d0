"""The packages form a one-way stack (docs/architecture.md): nothing imports from a layer above
it, and the engine and the sinks do not know each other.

Every import counts, also the ones inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import greenroom

PACKAGE = Path(greenroom.__file__).parent

#: Layer of each top-level module or package, from the ground up.
LAYERS = {
    "frames": 0, "errors": 0, "extras": 0, "testing": 0, "atomic": 0,
    "sources": 1, "samples": 1,
    "segmentation": 2, "matte": 2, "compositing": 2, "enhance": 2, "aux_models": 2,
    "pipeline": 2,
    "sinks": 2,
    "api": 3, "jobs": 3, "evaluation": 3, "training": 3,
    "cli": 4, "web": 4, "__init__": 4, "__main__": 4,
}
#: Side by side on one layer, and kept apart: the engine computes frames, sinks store them.
ENGINE = {"segmentation", "matte", "compositing", "enhance", "aux_models", "pipeline"}
APART = [(ENGINE, {"sinks"}), ({"sinks"}, ENGINE)]


def imports() -> list[tuple[str, str, str]]:
    """(importing top-level name, imported top-level name, file:line) for every greenroom import."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        owner = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "greenroom" and len(parts) > 1 and parts[1] != owner:
                    found.append((owner, parts[1], f"{relative}:{node.lineno}"))
    return found


def test_every_module_has_a_layer():
    names = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
             if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert names - set(LAYERS) == set(), "add the new module to LAYERS (and docs/architecture.md)"


def test_no_import_reaches_up_a_layer():
    upward = [f"{where}: {owner} imports {target}" for owner, target, where in imports()
              if LAYERS[target] > LAYERS[owner]]
    assert upward == []


def test_the_engine_and_the_sinks_do_not_import_each_other():
    crossing = [f"{where}: {owner} imports {target}" for owner, target, where in imports()
                for importers, imported in APART if owner in importers and target in imported]
    assert crossing == []


def test_the_check_sees_imports_inside_functions():
    """The jobs layer imports sinks lazily in places; the scan must see those too."""
    seen = {(owner, target) for owner, target, _ in imports()}
    assert ("jobs", "sinks") in seen and ("cli", "jobs") in seen
