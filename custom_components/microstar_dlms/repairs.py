"""The repairs' fix flow: "I have done this, try now" polls the meter at once and says whether
it answered (its values are then back, and the repair gone), or what else to try."""

import asyncio
from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import probatio

from .coordinator import MicrostarConfigEntry
from .poll_health import issue_placeholders


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The try-now flow of an entry's repair (an entry gone: confirming removes the issue)."""
    entry_id = (data or {}).get("entry_id")
    entry = hass.config_entries.async_get_entry(entry_id) if isinstance(entry_id, str) else None
    if entry is None or getattr(entry, "runtime_data", None) is None:
        return ConfirmRepairFlow()
    return TryNowFlow(entry)


class TryNowFlow(RepairsFlow):
    """What the person can do, then one poll at once, then whether the meter answered."""

    def __init__(self, entry: MicrostarConfigEntry) -> None:
        """A flow for one entry's repair."""
        self._entry = entry
        self._try: asyncio.Task[bool] | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with what to do."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """What the person can do, and a "Try now" button."""
        if user_input is not None:
            return await self.async_step_try_now()
        return self._form("confirm")

    async def async_step_try_now(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Poll at once; the dialog shows a progress message until the poll ends."""
        if self._try is None:
            self._try = self.hass.async_create_task(self._async_try(), "microstar_dlms try now")
        if not self._try.done():
            return self.async_show_progress(
                step_id="try_now",
                progress_action="polling",
                progress_task=self._try,
                description_placeholders={"title": self._entry.title},
            )
        answered = self._try.result()
        self._try = None
        return self.async_show_progress_done(next_step_id="answered" if answered else "no_answer")

    async def async_step_answered(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """The meter answered: its values are back (the good poll removed the repair)."""
        return self.async_create_entry(
            data={}, description_placeholders={"title": self._entry.title}
        )

    async def async_step_no_answer(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Still no answer: what else to try, when Home Assistant tries by itself, "Try again"."""
        if user_input is not None:
            return await self.async_step_try_now()
        return self._form("no_answer")

    def _form(self, step_id: str) -> RepairsFlowResult:
        coordinator = self._entry.runtime_data.coordinator
        placeholders = issue_placeholders(
            self._entry.title, coordinator.meter_config, coordinator.health
        )
        return self.async_show_form(
            step_id=step_id, data_schema=probatio.Schema({}), description_placeholders=placeholders
        )

    async def _async_try(self) -> bool:
        """Poll now; the poll is not the dialog's: closing the dialog does not cut it short."""
        poll = self.hass.async_create_background_task(
            async_poll_now(self.hass, self._entry), "microstar_dlms poll asked for"
        )
        return await asyncio.shield(poll)


async def async_poll_now(hass: HomeAssistant, entry: MicrostarConfigEntry) -> bool:
    """Poll the meter at once, the back-off's wait cancelled; whether it answered.

    A meter silent since Home Assistant started has no loaded entry yet: its setup (which polls
    first) is tried again at once instead of at the next setup retry.
    """
    if entry.state is ConfigEntryState.LOADED:
        coordinator = entry.runtime_data.coordinator
        await coordinator.async_refresh()  # the next poll follows at the interval
        return coordinator.last_update_success
    return await hass.config_entries.async_reload(entry.entry_id)  # True once loaded
