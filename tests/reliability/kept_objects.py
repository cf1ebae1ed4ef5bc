"""What the integration keeps: the objects reachable from its own roots, and their size.

The soak's leak check counts these instead of every object of the process, which also holds
the simulator's bounded buffers and the test harness's records. The walk starts at the
integration's roots (config entries' runtime data, its entities, its keys in ``hass.data``,
the tables and caches of its modules) and goes on through its own objects, plain containers
and its own functions' closures; any other object reached (Home Assistant's, the event
loop's) is counted where it is held, not walked into.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict, deque
from dataclasses import dataclass
from functools import partial
import gc
import sys
from types import CellType, FunctionType, MethodType, ModuleType
from typing import Any
from weakref import WeakKeyDictionary, WeakValueDictionary

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import async_get_platforms

from custom_components.microstar_dlms.const import DOMAIN

PACKAGE = "custom_components.microstar_dlms"
SIMULATOR = "microstar_sim"
_CONTAINERS = (
    dict,
    list,
    tuple,
    set,
    frozenset,
    deque,
    Counter,
    defaultdict,
    OrderedDict,
    CellType,
    MethodType,
    partial,
)
# Exact types: isinstance() against an abstract base class fills its cache with weak
# references to every class asked about, which the soak would count as growth.
_TABLES = (dict, list, set, deque, Counter, defaultdict, WeakKeyDictionary, WeakValueDictionary)


@dataclass(frozen=True)
class KeptObjects:
    """Objects held at one moment: how many (of them, tracked by the garbage collector),
    their bytes, by type."""

    count: int
    tracked: int
    size: int
    types: Counter[str]

    def growth(self, later: KeptObjects, top: int = 8) -> dict[str, int]:
        """The types that grew most since this moment."""
        diff = later.types.copy()
        diff.subtract(self.types)
        return {name: count for name, count in diff.most_common(top) if count > 0}


def _ours(value: Any, package: str = PACKAGE) -> bool:
    module = getattr(type(value), "__module__", "")
    return isinstance(module, str) and module.startswith(package)


def _walked(value: Any, package: str) -> bool:
    """Whether the walk goes on through ``value`` (else it is counted, not entered)."""
    if isinstance(value, type | ModuleType):
        return False
    if isinstance(value, FunctionType):
        return value.__module__.startswith(package)
    return type(value) in _CONTAINERS or _ours(value, package)


def _parts(value: Any) -> list[Any]:
    """What ``value`` holds; of a function only its closure and defaults (not its globals)."""
    if isinstance(value, FunctionType):
        return [*(value.__closure__ or ()), *(value.__defaults__ or ())]
    return gc.get_referents(value)


def _roots(hass: HomeAssistant) -> list[Any]:
    roots: list[Any] = [
        entry.runtime_data
        for entry in hass.config_entries.async_entries(DOMAIN)
        if getattr(entry, "runtime_data", None) is not None
    ]
    roots += [
        entity
        for platform in async_get_platforms(hass, DOMAIN)
        for entity in platform.entities.values()
    ]
    roots += [value for key, value in hass.data.items() if isinstance(key, str) and DOMAIN in key]
    for name, module in list(sys.modules.items()):
        if name.startswith(PACKAGE) and module is not None:
            roots += [
                value
                for value in vars(module).values()
                if type(value) in _TABLES or _ours(value) or hasattr(value, "cache_info")
            ]
    return roots


def kept_by_integration(hass: HomeAssistant) -> KeptObjects:
    """Count what the integration's roots reach now."""
    return kept_from(_roots(hass), PACKAGE)


def kept_from(roots: list[Any], package: str) -> KeptObjects:
    """Count what ``roots`` reach through the objects of ``package`` and plain containers."""
    seen: dict[int, Any] = {id(root): root for root in roots}
    stack = list(roots)
    while stack:
        for part in _parts(stack.pop()):
            if id(part) not in seen:
                seen[id(part)] = part
                if _walked(part, package):
                    stack.append(part)
    kept = [value for value in seen.values() if not isinstance(value, type | ModuleType)]
    return KeptObjects(
        count=len(kept),
        tracked=sum(1 for value in kept if gc.is_tracked(value)),
        size=sum(sys.getsizeof(value) for value in kept),
        types=Counter(type(value).__qualname__ for value in kept),
    )
