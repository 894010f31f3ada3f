"""The package's layering, read from the source: commands are leaves, and stages never reach back up.

- A command module (one with `if __name__ == "__main__"`: `python -m pipeline.submit`, a stage's job entry...) is
  imported by no other module of the package or the benchmarks: what they share lives in library modules.
- A module under pipeline/stages/ (what runs in the images) imports no login-side module that itself imports
  pipeline.stages: the composer's side may use the stages' constants, never the other way round.
"""

import ast
from pathlib import Path

from conftest import PROJECT


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((PROJECT / "pipeline").rglob("*.py")):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path) -> set[str]:
    """Every pipeline.* module the file imports (at any depth: function-level imports count too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("pipeline")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def is_command(path: Path) -> bool:
    return 'if __name__ == "__main__"' in path.read_text()


def test_no_module_imports_a_command_module():
    mods = modules()
    commands = {name for name, path in mods.items() if is_command(path)}
    assert {"pipeline.submit", "pipeline.stages.train", "pipeline.download"} <= commands  # the check sees them
    files = list(mods.items()) + [(p.stem, p) for p in sorted((PROJECT / "benchmarks").glob("*.py"))]
    offenders = [(name, sorted(imports(path) & commands)) for name, path in files if imports(path) & commands]
    assert not offenders, f"modules importing command modules (move what they share to a library): {offenders}"


def test_stages_never_import_a_login_side_module_that_imports_stages():
    mods = modules()
    login_side_importing_stages = {
        name
        for name, path in mods.items()
        if not name.startswith("pipeline.stages") and any(i.startswith("pipeline.stages") for i in imports(path))
    }
    assert "pipeline.plan" in login_side_importing_stages  # the check sees them
    offenders = [
        (name, sorted(imports(path) & login_side_importing_stages))
        for name, path in mods.items()
        if name.startswith("pipeline.stages") and imports(path) & login_side_importing_stages
    ]
    assert not offenders, f"stage modules importing back up: {offenders}"
