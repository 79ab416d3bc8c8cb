"""The floors of the code base, as docs/architecture.md states them, checked on every import.

- ``landscape`` core (everything but ``landscape.cli``) imports neither ``trainers`` nor ``analysis``;
- ``trainers`` never imports ``analysis``: the measurements made during training are passed in by the caller,
  and every measurement kind is registered in one place (``analysis.measurements``); the training loop names none;
- nothing but ``landscape.cli`` imports ``landscape.cli``; the examples neither: they use only the public API;
- only the run-file modules of the core touch h5py;
- no module imports a private name (``_x``) from another module.

Imports inside functions count as much as those at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("landscape", "trainers", "analysis")
H5PY_OWNERS = {"landscape/runfile.py", "landscape/writer.py", "landscape/amend.py", "landscape/weights.py"}


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every import statement in the file; names empty for ``import x``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [alias.name for alias in node.names], node.lineno))
    return out


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _violations(folders: tuple[str, ...], forbidden, exempt=lambda rel: False) -> list[str]:
    found = []
    for path in _sources(*folders):
        rel = _rel(path)
        if exempt(rel):
            continue
        for module, _names, line in _imports(path):
            if forbidden(module):
                found.append(f"{rel}:{line} imports {module}")
    return found


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_core_never_imports_upward():
    found = _violations(("landscape",), lambda m: _under(m, "trainers") or _under(m, "analysis"),
                        exempt=lambda rel: rel.startswith("landscape/cli/"))
    assert not found, found


def test_trainers_never_import_analysis():
    assert not (found := _violations(("trainers",), lambda m: _under(m, "analysis"))), found


def test_only_the_cli_imports_the_cli():
    entry = ("landscape/cli/", "landscape/__main__.py")  # `python -m landscape` runs the CLI
    found = _violations(PACKAGES, lambda m: _under(m, "landscape.cli"), exempt=lambda rel: rel.startswith(entry))
    assert not found, found


def test_the_examples_use_only_the_public_api_not_the_cli():
    """The examples are what a user copies: whatever they need (progress displays, the quality reference, whether a
    run file is complete, one-line warnings) is library API, never a ``landscape.cli`` helper."""
    assert not (found := _violations(("examples",), lambda m: _under(m, "landscape.cli"))), found


def test_only_the_run_file_modules_touch_h5py():
    folders = (*PACKAGES, "examples", "benchmarks")
    assert not (found := _violations(folders, lambda m: _under(m, "h5py"), exempt=lambda rel: rel in H5PY_OWNERS)), found


@pytest.mark.parametrize("folder", [*PACKAGES, "examples", "benchmarks", "tests"])
def test_no_private_name_is_imported_from_another_module(folder):
    found = []
    for path in _sources(folder):
        for module, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
            if private and module.split(".")[0] in (*PACKAGES, "test_lgc", "conftest"):
                found.append(f"{_rel(path)}:{line} imports {', '.join(private)} from {module}")
    assert not found, found


#: The bases a measurement kind subclasses (``landscape.measurements``).
KIND_BASES = ("Measurement", "OnDemand")


def _measurement_kinds() -> dict[str, list[str]]:
    """module -> the measurement kinds (subclasses of ``Measurement`` or of its on-demand form ``OnDemand``) it
    defines, for every module of ``analysis``."""
    found = {}
    for path in _sources("analysis"):
        classes = [node.name for node in ast.walk(ast.parse(path.read_text(), str(path)))
                   if isinstance(node, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", None)) in KIND_BASES
                                                              for b in node.bases)]
        if classes:
            found[_rel(path)[:-3].replace("/", ".")] = classes
    return found


def test_measurement_kinds_are_registered_in_one_place():
    """Every measurement kind is in ``analysis.measurements.KINDS``, and the CLI and the trainers get kinds only
    from there: no module of ``landscape`` or ``trainers`` imports a kind's module to wire it into a trainer."""
    from analysis.measurements import KINDS

    kinds = _measurement_kinds()
    registered = {entry for entry in KINDS}
    defined = {f"{module}:{name}" for module, names in kinds.items() for name in names}
    assert defined == registered, (defined, registered)
    found = _violations(("landscape", "trainers"), lambda m: m in kinds)
    assert not found, found


def _code_names(path: Path) -> set[str]:
    """Every identifier, attribute and string literal (docstrings and comments left out) of a module, lower case."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.arg)):
            names.add(getattr(node, "name", None) or node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            names.add(node.value)
    return {name.lower() for name in names}


def test_the_training_loop_names_no_measurement_kind():
    """The trainer calls whatever measurement is due: no kind (Hessian, quality, a toy's coverage) in its code."""
    words = ("hessian", "quality", "curvature", "coverage")
    for module in ("trainers/loop.py", "trainers/schedule.py"):
        named = sorted(name for name in _code_names(REPO / module) if any(word in name for word in words))
        assert not named, f"{module} names {named}"


def _metric_tables(path: Path, names: set[str]) -> list[str]:
    """Literal tables in a module that restate quality metric names: dicts keyed by two or more of them with constant
    values (titles, flags, spans), and lists of three or more (a view choosing the two it shows is its own choice;
    ``__all__`` lists functions; a dict computing values is a measurement, not a table)."""
    tree = ast.parse(path.read_text(), str(path))
    exports = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and any(getattr(t, "id", None) == "__all__" for t in node.targets)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and id(node) not in exports:
            keys, least = node.elts, 3
        elif isinstance(node, ast.Dict) and all(isinstance(v, (ast.Constant, ast.Tuple)) for v in node.values):
            keys, least = node.keys, 2
        else:
            continue
        named = {k.value for k in keys if isinstance(k, ast.Constant) and k.value in names}
        if len(named) >= least:
            where = _rel(path) if path.is_relative_to(REPO) else path.name
            found.append(f"{where}:{node.lineno} names {sorted(named)}")
    return found


def test_quality_metric_names_have_one_owner():
    """The quality metrics (names, titles, short names, direction, spans, which are counts) are one table,
    ``landscape.metric_names.QUALITY_METRICS``: no other module restates a table of them."""
    from landscape.metric_names import QUALITY_METRICS

    names = {m.name for m in QUALITY_METRICS}
    owner = "landscape/metric_names.py"
    found = [hit for path in _sources(*PACKAGES) if _rel(path) != owner for hit in _metric_tables(path, names)]
    assert not found, found



def test_a_command_is_one_file():
    """Every ``landscape`` command comes from the ``COMMANDS`` its own module declares: the package's
    ``__init__`` imports no command module, and what the app registers is exactly what the modules declare."""
    import importlib
    import pkgutil

    import landscape.cli as cli

    init = REPO / "landscape" / "cli" / "__init__.py"
    declared = {}
    for module in pkgutil.iter_modules(cli.__path__):
        commands = getattr(importlib.import_module(f"landscape.cli.{module.name}"), "COMMANDS", {})
        declared.update(commands)
        if commands:  # a command module: the package's __init__ does not import it by name
            assert not any(name == f"landscape.cli.{module.name}" or (name == "landscape.cli" and module.name in names)
                           for name, names, _ in _imports(init)), module.name
    registered = {c.name for c in cli.app.registered_commands} | {g.name for g in cli.app.registered_groups}
    assert registered == set(declared) and {"record", "lgc", "game", "surface", "walk", "data"} <= registered


def test_the_checks_can_fail(tmp_path):
    """The AST walk sees function-level and private imports (the checks above are not vacuous)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from analysis.lgc import _secret\n    import h5py\n")
    assert _imports(source) == [("analysis.lgc", ["_secret"], 2), ("h5py", [], 3)]
    tables = tmp_path / "t.py"
    tables.write_text('TITLES = {"class_kl": "class KL", "inception_score": "IS"}\nALL = ("a", "b", "c")\n'
                      'def f(p):\n    return {"class_kl": kl(p), "inception_score": score(p)}\n')
    assert _metric_tables(tables, {"class_kl", "inception_score", "a", "b", "c"}) == [
        "t.py:1 names ['class_kl', 'inception_score']", "t.py:2 names ['a', 'b', 'c']"]
