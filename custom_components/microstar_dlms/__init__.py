"""The Microstar DLMS integration: DLMS/COSEM electricity meters over HDLC.

Nothing here imports Home Assistant, because Python runs this module before any subpackage:
the protocol core (``dlms/``) must import without Home Assistant (the simulator, the field tool,
the ``microstar-dlms-core`` wheel; docs/architecture.md). Home Assistant's entry points live in
``lifecycle.py``; Home Assistant finds them here with ``hasattr``/``getattr`` on this module
(its setup, config and config entries modules), which ``__getattr__`` answers (PEP 562).
"""

from __future__ import annotations

import importlib
import sys

ENTRY_POINTS = frozenset(
    {
        "CONFIG_SCHEMA",
        "async_migrate_entry",
        "async_remove_config_entry_device",
        "async_remove_entry",
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
    }
)
"""The names Home Assistant looks up on this module, defined in ``lifecycle.py``."""


def __getattr__(name: str) -> object:
    """Hand Home Assistant an entry point from ``lifecycle.py``; nothing else is found here."""
    if name not in ENTRY_POINTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Through import_module, which Home Assistant reports when it must import in the event loop.
    return getattr(importlib.import_module(f"{__name__}.lifecycle"), name)


# The branch not taken here is taken in the child interpreters of test_entry_points.py.
if "homeassistant" in sys.modules:  # pragma: no branch
    # Home Assistant imports this package in its import executor: load the entry points there
    # too, not on its first look-up, which it makes in the event loop.
    from . import lifecycle  # noqa: F401
