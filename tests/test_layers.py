"""The layers of docs/architecture.md hold: every module imports on its own (no import cycles,
no import errors), the pure layers import nothing above them, and ``import misclass`` is light.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "misclass"

#: The bottom layer: the contract types, input checks, errors, number formatting and the
#: optional-import helper. Every layer may import these; they import only each other.
BOTTOM = ("misclass.errors", "misclass.validation", "misclass.types", "misclass.format",
          "misclass.extras")
#: Below the views and workflows: what each layer may import of misclass, besides itself.
#: The packages that produce predictions split along their dependency line: importers and the
#: scikit-learn zoo need no torch; the torch engine; training, above the engine.
_BELOW_PRODUCING = (*BOTTOM, "misclass.data", "misclass.store", "misclass.analysis")
ALLOWED = {
    "misclass.importers": _BELOW_PRODUCING,
    "misclass.zoo": (*BOTTOM, "misclass.importers.readers"),
    "misclass.engine": (*_BELOW_PRODUCING, "misclass.importers.readers"),
    "misclass.training": (*_BELOW_PRODUCING, "misclass.engine"),
    "misclass.analysis": ("misclass.errors", "misclass.validation", "misclass.types", "misclass.format"),
    "misclass.store": BOTTOM,
    "misclass.data": BOTTOM,
    **{name: BOTTOM for name in BOTTOM},
}
#: Optional extras (torch, ...) that no pure layer may import.
PURE_LAYERS_AVOID = ("torch", "torchvision", "timm", "captum", "fastapi", "uvicorn", "sqlalchemy")
#: What each layer may not import of the extras (default: :data:`PURE_LAYERS_AVOID`).
AVOID = {"misclass.engine": ("fastapi", "uvicorn", "sqlalchemy"),
         "misclass.training": ("fastapi", "uvicorn", "sqlalchemy")}

#: Known offenders, each failing its check until the named fix lands (strict: a fixed one
#: fails the suite until it is taken off this list).
KNOWN_OFFENDERS: dict[str, str] = {}

HEAVY_FOR_IMPORT_MISCLASS = ("pandas", "pyarrow", "torch", "scipy", "sklearn", "matplotlib")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def _path_of(name: str) -> Path:
    base = SRC.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def misclass_imports(name: str, source: str | None = None) -> set[str]:
    """The modules ``name`` (or ``source`` as that module) imports anywhere: functions
    included, relative imports resolved, ``importlib.import_module`` of a literal name counted."""
    path = _path_of(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target == "misclass":  # names the package defines, or modules it loads
                found.update("misclass" if alias.name in _package_names() else f"misclass.{alias.name}"
                             for alias in node.names)
                continue
            found.add(target)
            if target.startswith("misclass."):  # ``from misclass.store import files``
                found.update(f"{target}.{alias.name}" for alias in node.names
                             if _path_of(f"{target}.{alias.name}").exists())
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


@cache
def _package_names() -> set[str]:
    """Names ``misclass/__init__.py`` binds itself; the others (``Store``, the workflows) load
    modules on use (PEP 562), so ``from misclass import Store`` counts as importing misclass.Store."""
    names = set()
    for node in ast.parse((PACKAGE / "__init__.py").read_text()).body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _layer_of(name: str) -> str | None:
    return next((layer for layer in ALLOWED if name == layer or name.startswith(layer + ".")), None)


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# --- every module imports in a fresh interpreter -------------------------------------------

_IMPORT_EACH = r"""
import importlib, json, sys, traceback

def missing_module(exc):
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name.split(".")[0]
        exc = exc.__cause__ or exc.__context__
    return None

package, names = sys.argv[1], sys.argv[2:]
results = {}
for name in names:
    # the package starts afresh for each module (third-party modules stay loaded: they are not
    # what is checked, and reloading them would make this minutes instead of seconds)
    for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
        results[name] = None
    except Exception as exc:
        results[name] = {"error": f"{type(exc).__name__}: {exc}", "missing": missing_module(exc),
                         "trace": traceback.format_exc(limit=-8)}
print(json.dumps(results))
"""


@cache
def _extras() -> dict[str, str]:
    """Top-level module of each optional dependency -> the misclass extra that installs it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    out = {}
    for extra, requirements in extras.items():
        for requirement in requirements:
            dist = requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip()
            if dist != "misclass" and extra not in ("all", "dev"):
                out.setdefault(dist.replace("-", "_").lower(), extra)
    return out


def import_each(package: str, modules: list[str], cwd: Path = ROOT) -> dict[str, dict | None]:
    """Import each module with ``package`` fresh, in a few interpreters run side by side; the
    error of each that failed (None where it imported)."""
    workers = max(1, min(4, os.cpu_count() or 1, len(modules)))
    chunks = [modules[i::workers] for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", _IMPORT_EACH, package, *chunk], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for chunk in chunks]
    results = {}
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.update(json.loads(out.strip().splitlines()[-1]))
    return results


@cache
def _import_results() -> dict[str, dict | None]:
    return import_each("misclass", MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_in_a_fresh_interpreter(name):
    failure = _import_results()[name]
    if failure is None:
        return
    extra = _extras().get(failure["missing"] or "")
    if extra is not None:
        pytest.skip(f"needs the optional extra misclass[{extra}] ({failure['missing']} is missing)")
    pytest.fail(f"import {name} failed: {failure['error']}\n{failure['trace']}", pytrace=False)


def test_fresh_imports_find_a_cycle(tmp_path):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\nB = 2\n")
    (package / "c.py").write_text("C = 3\n")
    got = import_each("cyclic", ["cyclic.a", "cyclic.b", "cyclic.c"], cwd=tmp_path)
    assert "partially initialized" in got["cyclic.a"]["error"]
    assert "partially initialized" in got["cyclic.b"]["error"]  # fresh: b first fails too
    assert got["cyclic.c"] is None


# --- the lower layers import nothing above them ---------------------------------------------

LAYERED_MODULES = [name for name in MODULES if _layer_of(name)]


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_OFFENDERS[name], strict=True))
    if name in KNOWN_OFFENDERS else name for name in LAYERED_MODULES])
def test_lower_layers_import_nothing_above_them(name):
    layer = _layer_of(name)
    imports = misclass_imports(name)
    # ``import misclass`` (the package alone) is allowed: it loads only misclass.errors
    above = sorted(m for m in imports if _within(m, ("misclass",)) and m != "misclass"
                   and not _within(m, (layer, *ALLOWED[layer])))
    assert not above, f"{name} ({layer}) imports {above}; it may import only {layer} and {ALLOWED[layer]}"
    extras = sorted(m for m in imports if m.split(".")[0] in AVOID.get(layer, PURE_LAYERS_AVOID))
    assert not extras, f"{name} ({layer}) imports optional extras {extras}"


def test_the_import_check_sees_imports():
    # the checks above are only as good as misclass_imports: it finds plain, from-, relative,
    # in-function and importlib imports
    assert {"misclass.store.lock", "misclass.store.files", "misclass.errors"} <= \
        misclass_imports("misclass.store.core")
    assert "misclass.validation" in misclass_imports("misclass.store.layout")  # inside a function
    assert "misclass.store.core" in misclass_imports("misclass.store")  # importlib.import_module
    assert "misclass.extras" in misclass_imports("misclass.explain.saliency")
    source = ("from misclass import Store, __version__\nfrom ..store import layout\nfrom . import stats\n"
              "def f():\n    import misclass.workflows.compare\n")
    assert misclass_imports("misclass.analysis.fake", source) == {
        "misclass.Store", "misclass", "misclass.store", "misclass.store.layout", "misclass.analysis",
        "misclass.analysis.stats", "misclass.workflows.compare"}


# --- import misclass stays light -----------------------------------------------------------

def test_import_misclass_loads_no_heavy_library():
    code = ("import json, sys, misclass\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) & set(HEAVY_FOR_IMPORT_MISCLASS) == set()
