"""The house rules that keep one code path for every backend."""

import ast
from pathlib import Path

import gnet

MATH_MODULES = [
    "activations",
    "losses",
    "layers",
    "init",
    "optim",
    "network",
    "mlp",
    "inference",
    "parameters",
    "description",
    "train",
    "steps",
    "batching",
    "callbacks",
    "metrics",
]
LIBRARY_NAMES = {"numpy", "cupy", "torch", "array_api_strict", "jax"}
PACKAGE = Path(gnet.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def math_files() -> list[Path]:
    """Each math module's file, or every file of a math package (layers/)."""
    paths = []
    for name in MATH_MODULES:
        folder = PACKAGE / name
        paths += sorted(folder.glob("*.py")) if folder.is_dir() else [PACKAGE / f"{name}.py"]
    return paths


def test_math_modules_import_no_array_library():
    for path in math_files():
        name = path.relative_to(PACKAGE)
        found = imported_modules(path) & LIBRARY_NAMES
        assert not found, f"gnet/{name} imports {found}: only backend/ may"


def test_math_modules_have_no_host_synchronisation_in_the_batch_loop():
    # .item() and data-dependent indexing would stall a GPU in every batch.
    for path in math_files():
        name = path.relative_to(PACKAGE)
        source = path.read_text()
        assert ".item()" not in source, f"gnet/{name} calls .item()"
        assert "nonzero(" not in source, f"gnet/{name} calls nonzero"


def test_library_never_prints():
    for path in PACKAGE.rglob("*.py"):
        if path.name in {"cli.py", "__main__.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                raise AssertionError(f"{path.relative_to(PACKAGE)} calls print()")
