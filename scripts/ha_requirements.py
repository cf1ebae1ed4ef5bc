"""Print the pip requirements of the Home Assistant integrations a config will load.

Used by scripts/develop so that Home Assistant starts without installing packages itself.
Usage: python scripts/ha_requirements.py DOMAIN [DOMAIN...]
"""

import json
from pathlib import Path
import sys
from typing import Any

from homeassistant import bootstrap
import homeassistant.components


def manifest(domain: str) -> dict[str, Any] | None:
    """Return a core integration's manifest, or None when it is not a core integration."""
    path = Path(homeassistant.components.__path__[0]) / domain / "manifest.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def requirements(domains: set[str]) -> list[str]:
    """Walk the domains and their dependencies; collect their requirements."""
    seen: set[str] = set()
    todo = list(domains)
    reqs: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        info = manifest(domain)
        if info is None:
            continue
        reqs.update(info.get("requirements", []))
        todo.extend(info.get("dependencies", []))
    return sorted(reqs)


def main() -> None:
    """Print one requirement a line for the always-loaded and the named domains."""
    domains = set(sys.argv[1:]) | bootstrap.CORE_INTEGRATIONS | bootstrap.DEFAULT_INTEGRATIONS
    print("\n".join(requirements(domains)))


if __name__ == "__main__":
    main()
