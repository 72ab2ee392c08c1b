"""Usage checks made before the target starts: each problem is one line for the user.

The CLI turns a ``CheckError`` into ``concadvisor: error: ...`` and exit 2. Nothing here
runs any of the target's code: ``-m pkg.mod`` is looked up by walking the import
system's finders with each package's search path, without importing the packages
(``importlib.util.find_spec`` would run their ``__init__``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


class CheckError(ValueError):
    """A usage problem found before anything ran (one line)."""


def script(path_text: str) -> None:
    """What ``python SCRIPT`` accepts: a readable file, or a folder with ``__main__.py``."""
    path = Path(path_text)
    if not path.exists():
        raise CheckError(f"script not found: {path_text}")
    if path.is_dir():
        if not (path / "__main__.py").is_file():
            raise CheckError(f"{path_text} is a folder without __main__.py (python cannot run it)")
        return
    if not os.access(path, os.R_OK):
        raise CheckError(f"script not readable: {path_text}")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise CheckError(f"cannot open script {path_text}: {exc.strerror}") from None


# Run by the target's interpreter: exit 0 found, 1 missing, 3 a package with no __main__.
_MODULE_PROBE = r"""
import importlib.machinery, sys
def find(name, path):
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, path) if path is not None else find_spec(name, None)
        except Exception:
            spec = None
        if spec is not None:
            return spec
    return None
parts = sys.argv[1].split(".")
path = None
for i in range(len(parts)):
    spec = find(".".join(parts[: i + 1]), path)
    if spec is None:
        sys.exit(1)
    path = spec.submodule_search_locations
    if path is not None:
        path = list(path)
    if i < len(parts) - 1 and path is None:
        sys.exit(1)
if path is not None and find(sys.argv[1] + ".__main__", path) is None:
    sys.exit(3)
sys.exit(0)
"""


def module(name: str, python: str = sys.executable) -> None:
    """What ``python -m NAME`` accepts, asked of the target's own interpreter."""
    if not name or any(not part.isidentifier() for part in name.split(".")):
        raise CheckError(f"not a module name: {name!r}")
    done = subprocess.run([python, "-c", _MODULE_PROBE, name], cwd=os.getcwd(),
                          capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode == 3:
        raise CheckError(f"{name} is a package without __main__ (python -m cannot run it)")
    if done.returncode != 0:
        raise CheckError(f"no module named {name!r}")


def distinct_outputs(outputs: dict[str, Path | None], inputs: dict[str, object] | None = None) -> None:
    """No two outputs on one file, and none over an input (the script, a result being read)."""
    seen: dict[Path, str] = {}
    kept = {Path(str(path)).expanduser().resolve(): what for what, path in (inputs or {}).items() if path}
    for what, path in outputs.items():
        if path is None:
            continue
        resolved = Path(path).expanduser().resolve()
        if resolved in kept:
            raise CheckError(f"the {what} {path} would overwrite the {kept[resolved]}")
        if resolved in seen:
            raise CheckError(f"the {what} and the {seen[resolved]} are the same file: {path}")
        seen[resolved] = what
