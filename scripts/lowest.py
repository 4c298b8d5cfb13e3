"""The lowest version of each core dependency that pyproject.toml allows, as pins (``redis==8.0.0``);
with ``--check``, fail unless those are the versions this Python imports (``make test-lowest``)."""

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.version import Version  # pytest's own dependency: 8.0 and 8.0.0 are one version

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def lowest() -> dict[str, str]:
    """Each dependency of the package itself with its ``>=`` bound: ``{"redis": "8.0.0", ...}``."""
    pins = {}
    for requirement in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", ""))
        if found is None:
            raise SystemExit(f"scripts/lowest.py: no lower bound to test in {requirement!r}")
        pins[found[1]] = found[2]
    return pins


def main() -> None:
    pins = lowest()
    if "--check" not in sys.argv[1:]:
        print("\n".join(f"{name}=={version}" for name, version in pins.items()))
        return
    # importlib.metadata reads the first distribution on sys.path, the one `import` finds too
    found = {name: importlib.metadata.version(name) for name in pins}
    if any(Version(found[name]) != Version(version) for name, version in pins.items()):
        raise SystemExit(f"scripts/lowest.py: expected {pins}, this Python imports {found}")
    print("testing with", ", ".join(f"{name} {version}" for name, version in found.items()))


if __name__ == "__main__":
    main()
