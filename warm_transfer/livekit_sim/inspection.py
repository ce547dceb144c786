"""The sim-only ``/sim`` endpoints (no auth): inspect, drive humans, inject faults.

``POST /sim/answer`` ``{"room": ..., "identities": [...]}`` picks up ringing legs now,
all in one event-loop iteration (two phones answering in the same millisecond), for a
scenario that rings on (``no_answer``, or a long ``ring_s``) until a test answers it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warm_transfer.livekit_sim.config import Faults
from warm_transfer.livekit_sim.errors import TwirpError
from warm_transfer.livekit_sim.model import KIND_NAMES, participant_snapshot
from warm_transfer.livekit_sim.scenarios import parse_scenarios

if TYPE_CHECKING:
    from warm_transfer.livekit_sim.server import LiveKitSim


class JoinRequest(BaseModel):
    """Body of ``POST /sim/participants``."""

    model_config = ConfigDict(extra="forbid")

    room: str = Field(min_length=1)
    identity: str = Field(min_length=1)
    kind: str = "standard"
    name: str = ""
    metadata: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    # Who alone may subscribe to its track (set_track_subscription_permissions); None:
    # everyone.
    track_subscribers: list[str] | None = None


class AnswerRequest(BaseModel):
    """Body of ``POST /sim/answer``: ringing legs of one room to pick up at once."""

    model_config = ConfigDict(extra="forbid")

    room: str = Field(min_length=1)
    identities: list[str] = Field(min_length=1)


class ScenariosRequest(BaseModel):
    """Body of ``POST /sim/scenarios``."""

    model_config = ConfigDict(extra="forbid")

    scenarios: dict[str, Any]
    replace: bool = False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _number(request: web.Request, name: str, default: float) -> float:
    raw = request.query.get(name)
    return default if raw is None or raw == "" else float(raw)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    return json.loads(raw) if raw else {}


def add_routes(app: web.Application, sim: LiveKitSim) -> None:
    """Registers the ``/sim`` endpoints of ``sim`` on ``app``."""

    async def get_state(_: web.Request) -> web.Response:
        return web.json_response(sim.snapshot())

    async def get_calls(request: web.Request) -> web.Response:
        try:
            after = int(_number(request, "after", 0))
            limit = int(_number(request, "limit", 10_000))
        except ValueError:
            return _error(400, "after and limit must be numbers")
        method = request.query.get("method") or None
        return web.json_response({"calls": sim.calls.after(after, method, limit)})

    async def get_events(request: web.Request) -> web.Response:
        try:
            after = int(_number(request, "after", 0))
            timeout = min(_number(request, "timeout", 0.0), 60.0)
            limit = int(_number(request, "limit", 10_000))
        except ValueError:
            return _error(400, "after, timeout and limit must be numbers")
        events = await sim.events.wait_after(after, timeout, limit)
        return web.json_response({"events": events, "last_seq": sim.events.last_seq})

    async def post_participant(request: web.Request) -> web.Response:
        try:
            body = JoinRequest.model_validate(await _body(request))
        except (ValidationError, ValueError) as err:
            return _error(400, str(err))
        kind = KIND_NAMES.get(body.kind.lower())
        if kind is None:
            return _error(400, f"kind must be one of {sorted(KIND_NAMES)}")
        p = sim.state.join(
            body.room,
            body.identity,
            kind=kind,
            name=body.name,
            metadata=body.metadata,
            attributes=body.attributes,
            track_subscribers=body.track_subscribers,
        )
        return web.json_response(participant_snapshot(p))

    async def delete_participant(request: web.Request) -> web.Response:
        try:
            p = sim.state.participant(request.match_info["room"], request.match_info["identity"])
        except TwirpError as err:
            return _error(404, err.msg)
        sim.leave_on_own(p)
        return web.json_response({})

    async def post_answer(request: web.Request) -> web.Response:
        try:
            body = AnswerRequest.model_validate(await _body(request))
            legs = [sim.state.participant(body.room, identity) for identity in body.identities]
        except (ValidationError, ValueError) as err:
            return _error(400, str(err))
        except TwirpError as err:
            return _error(404, err.msg)
        return web.json_response({"answered": sim.dialer.answer_now(legs)})

    async def get_audibility(request: web.Request) -> web.Response:
        try:
            return web.json_response(sim.state.audibility(request.match_info["room"]))
        except TwirpError as err:
            return _error(404, err.msg)

    async def get_scenarios(_: web.Request) -> web.Response:
        table = {n: s.model_dump() for n, s in sim.dialer.scenarios.items()}
        return web.json_response({"scenarios": table})

    async def post_scenarios(request: web.Request) -> web.Response:
        try:
            body = ScenariosRequest.model_validate(await _body(request))
            table = parse_scenarios(body.scenarios)
        except (ValidationError, ValueError) as err:
            return _error(400, str(err))
        sim.set_scenarios(table, replace=body.replace)
        return web.json_response({"numbers": sorted(sim.dialer.scenarios)})

    async def post_faults(request: web.Request) -> web.Response:
        try:
            faults = Faults.model_validate(await _body(request))
        except (ValidationError, ValueError) as err:
            return _error(400, str(err))
        sim.set_faults(faults)
        return web.json_response(faults.model_dump())

    async def post_reset(_: web.Request) -> web.Response:
        sim.reset()
        return web.json_response({})

    app.router.add_get("/sim/state", get_state)
    app.router.add_get("/sim/calls", get_calls)
    app.router.add_get("/sim/events", get_events)
    app.router.add_post("/sim/participants", post_participant)
    app.router.add_delete("/sim/rooms/{room}/participants/{identity}", delete_participant)
    app.router.add_get("/sim/rooms/{room}/audibility", get_audibility)
    app.router.add_post("/sim/answer", post_answer)
    app.router.add_get("/sim/scenarios", get_scenarios)
    app.router.add_post("/sim/scenarios", post_scenarios)
    app.router.add_post("/sim/faults", post_faults)
    app.router.add_post("/sim/reset", post_reset)
