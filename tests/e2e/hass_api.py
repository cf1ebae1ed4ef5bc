"""Talk to a running Home Assistant the way its frontend does: REST, auth and the websocket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import itertools
import json
import math
import time
from typing import Any

import aiohttp

USERNAME = "e2e"
PASSWORD = "e2e-demo-password"  # a throwaway user of a throwaway config dir


class HassApiError(AssertionError):
    """Home Assistant answered a call with an error."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens the frontend keeps after logging in."""

    hass_url: str
    client_id: str
    access_token: str
    refresh_token: str
    expires_in: int
    obtained: float

    def hass_tokens_json(self) -> str:
        """The frontend's localStorage ``hassTokens`` value (home-assistant-js-websocket)."""
        return json.dumps(
            {
                "hassUrl": self.hass_url,
                "clientId": self.client_id,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "expires": int((self.obtained + self.expires_in) * 1000),
            }
        )


class HassRest:
    """The REST API, with or without a bearer token."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str | None) -> None:
        """``base_url`` like http://127.0.0.1:8123 (no trailing slash)."""
        self.session = session
        self.base_url = base_url
        self.token = token

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; JSON answer (or text), HassApiError on a status >= 400."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, self.base_url + path, headers=headers, **kwargs
        ) as response:
            body = await response.text()
            if response.status >= 400:
                raise HassApiError(f"{method} {path}: HTTP {response.status}: {body}")
            if response.content_type == "application/json":
                return json.loads(body)
            return body

    async def get(self, path: str) -> Any:
        """GET a path."""
        return await self.request("GET", path)

    async def post(self, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        """POST JSON to a path."""
        return await self.request("POST", path, json=dict(payload or {}))


async def onboard(session: aiohttp.ClientSession, base_url: str) -> Tokens:
    """Walk the onboarding steps as the frontend does; return the new owner's tokens."""
    anonymous = HassRest(session, base_url, None)
    client_id = f"{base_url}/"
    created = await anonymous.post(
        "/api/onboarding/users",
        {
            "client_id": client_id,
            "name": "E2E Owner",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "en",
        },
    )
    tokens = await _exchange_code(anonymous, client_id, created["auth_code"])
    owner = HassRest(session, base_url, tokens.access_token)
    await owner.post("/api/onboarding/core_config")
    await owner.post("/api/onboarding/analytics")
    # The last step hands out a code for the frontend's own client, as after the wizard.
    done = await owner.post(
        "/api/onboarding/integration",
        {"client_id": client_id, "redirect_uri": f"{base_url}/?auth_callback=1"},
    )
    return await _exchange_code(anonymous, client_id, done["auth_code"])


async def _exchange_code(rest: HassRest, client_id: str, code: str) -> Tokens:
    """The OAuth2 authorization-code exchange of /auth/token."""
    answer = await rest.request(
        "POST",
        "/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
    )
    return Tokens(
        hass_url=rest.base_url,
        client_id=client_id,
        access_token=answer["access_token"],
        refresh_token=answer["refresh_token"],
        expires_in=int(answer["expires_in"]),
        obtained=time.time(),
    )


class HassWebSocket:
    """The websocket API: authenticate, then one command at a time."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """Use ``connect``."""
        self._socket = socket
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, base_url: str, token: str
    ) -> HassWebSocket:
        """Open /api/websocket and authenticate."""
        socket = await session.ws_connect(base_url.replace("http", "ws", 1) + "/api/websocket")
        hello = await socket.receive_json()
        assert hello["type"] == "auth_required", hello
        await socket.send_json({"type": "auth", "access_token": token})
        answer = await socket.receive_json()
        if answer["type"] != "auth_ok":
            await socket.close()
            raise HassApiError(f"websocket auth: {answer}")
        return cls(socket)

    async def call(self, command: str, **payload: Any) -> Any:
        """Send a command and return its result (events of subscriptions are skipped)."""
        message_id = next(self._ids)
        await self._socket.send_json({"id": message_id, "type": command, **payload})
        while True:
            answer = await asyncio.wait_for(self._socket.receive_json(), 30)
            if answer.get("id") == message_id and answer["type"] == "result":
                if not answer["success"]:
                    raise HassApiError(f"{command}: {answer['error']}")
                return answer["result"]

    async def close(self) -> None:
        """Close the socket."""
        await self._socket.close()


def form_payload(data_schema: list[dict[str, Any]], typed: Mapping[str, Any]) -> dict[str, Any]:
    """What the frontend submits for a form: schema defaults (sections nested), then typed values.

    Like ha-form, fields the user leaves empty and that have no default are not sent.
    """
    payload: dict[str, Any] = {}
    for field in data_schema:
        name = field["name"]
        if field.get("type") == "expandable":
            payload[name] = form_payload(field["schema"], typed.get(name, {}))
        elif name in typed:
            payload[name] = typed[name]
        elif "default" in field:
            payload[name] = field["default"]
    unknown = set(typed) - {field["name"] for field in data_schema}
    assert not unknown, f"the form has no fields {sorted(unknown)}"
    return payload


async def eventually[T](
    probe: Callable[[], Awaitable[T | None]], seconds: float, what: str, interval: float = 0.25
) -> T:
    """Await ``probe`` until it returns a truthy value; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:g} s for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)


DOMAIN = "microstar_dlms"


async def add_meter(rest: HassRest, typed: Mapping[str, Any]) -> dict[str, Any]:
    """Add integration -> Microstar DLMS -> TCP gateway -> type ``typed`` -> Submit."""
    form = await open_tcp_form(rest)
    return await submit_form(rest, form, typed)


async def open_tcp_form(rest: HassRest) -> dict[str, Any]:
    """Add integration -> Microstar DLMS -> TCP gateway: the empty form."""
    flow = await rest.post(
        "/api/config/config_entries/flow", {"handler": DOMAIN, "show_advanced_options": False}
    )
    assert flow["type"] == "menu", flow
    assert "tcp" in flow["menu_options"], flow
    form: dict[str, Any] = await rest.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "tcp"}
    )
    assert form["type"] == "form", form
    assert form["step_id"] == "tcp", form
    assert not form["errors"], form
    return form


async def submit_form(
    rest: HassRest, form: Mapping[str, Any], typed: Mapping[str, Any]
) -> dict[str, Any]:
    """Type ``typed`` into ``form`` (a shown form of a flow) and Submit; the flow's answer."""
    result: dict[str, Any] = await rest.post(
        f"/api/config/config_entries/flow/{form['flow_id']}",
        form_payload(form["data_schema"], typed),
    )
    return result


def suggested(form: Mapping[str, Any], name: str) -> Any:
    """The value a shown form fills ``name`` in with (what the frontend puts in the field)."""
    for field in form["data_schema"]:
        if field["name"] == name:
            return (field.get("description") or {}).get("suggested_value")
    raise AssertionError(f"the form has no field {name}")


async def meter_entities(ws: HassWebSocket, entry_id: str, serial: str) -> dict[str, str]:
    """The enabled entities of a config entry, by OBIS key."""
    entries = await ws.call("config/entity_registry/list")
    return {
        e["unique_id"].removeprefix(f"{serial}_"): e["entity_id"]
        for e in entries
        if e["config_entry_id"] == entry_id and not e["disabled_by"]
    }


def number(state: Mapping[str, Any]) -> float:
    """A numeric state; fails with the state when it is not one."""
    try:
        value = float(state["state"])
    except ValueError:
        raise AssertionError(f"{state['entity_id']} is not a number: {state}") from None
    assert math.isfinite(value), state
    return value
