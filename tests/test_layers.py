"""Imports flow one way (cli -> library -> ops), as each folder's one-line description promises, read from source."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "blurtool"


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (absolute names; relative ones resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x / from .m import x: relative to the file's package
                parts = package.split(".")
                prefix = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{prefix}.{base}" if base else prefix
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# folder -> what its modules must not import
RULES = {
    "ops": ("torch", "blurtool.inference", "blurtool.library", "blurtool.cli", "blurtool.train"),
    "library": ("blurtool.cli",),
}


@pytest.mark.parametrize("folder", sorted(RULES))
def test_a_folder_imports_nothing_above_it(folder):
    files = sorted((PACKAGE / folder).glob("*.py"))
    assert files
    wrong = {f.name: sorted(n for n in imported(f) if within(n, RULES[folder])) for f in files}
    assert not {k: v for k, v in wrong.items() if v}


def test_only_the_command_line_imports_the_command_line():
    files = [f for f in PACKAGE.rglob("*.py") if "cli" not in f.relative_to(PACKAGE).parts[:1]]
    wrong = {str(f.relative_to(PACKAGE)) for f in files if f.name != "__main__.py" and
             any(within(n, ("blurtool.cli",)) for n in imported(f))}
    assert not wrong

