"""JSON shapes of the ``/sim`` inspection endpoints, as TypedDicts.

Event types and their fields (every event has ``seq``, ``time``, ``type``, ``room``):

* ``room_created`` (room_sid), ``room_deleted`` (room_sid, reason: ``deleted`` |
  ``empty_timeout`` | ``departure_timeout``), ``room_metadata_changed`` (metadata)
* ``participant_joined`` (participant_identity, participant_sid, kind, attributes),
  ``participant_left`` (participant_identity, participant_sid, kind, reason: a
  ``DisconnectReason`` name such as ``USER_UNAVAILABLE``)
* ``attributes_changed`` (participant_identity, changed: {key: value, "" = deleted}),
  ``participant_updated`` (participant_identity, metadata?, name?, permission?)
* ``track_published`` (participant_identity, track_sid), ``track_muted`` (muted)
* ``call_status`` (participant_identity, status: dialing | ringing | active | hangup,
  number, call_id, sip_status_code on failures)
* ``sip_dtmf`` (participant_identity, digit)
* ``sip_request`` (participant_identity, method, number, call_id): a SIP request LiveKit
  sent to a dialed phone: ``INVITE`` (the dial), ``CANCEL`` (hung up while it rang),
  ``BYE`` (hung up after it answered); a phone that fails or hangs up itself gets none
* ``moved`` (participant_identity, from_room; ``room`` is the destination)
* ``data_sent`` (topic, destination_identities, data_kind, payload (JSON-decoded when
  possible, else text) or payload_b64)
* ``dispatch_created`` (dispatch_id, agent_name, metadata), ``dispatch_deleted``
* ``subscription_changed`` (participant_identity, track_sids, subscribe)
* ``transfer_started`` (participant_identity, transfer_to, transfer_id),
  ``transferred`` (participant_identity, transfer_to), ``transfer_failed`` (...,
  sip_status_code)
"""

from __future__ import annotations

from typing import Any, Required, TypedDict


class SimEvent(TypedDict, total=False):
    """One entry of ``GET /sim/events``."""

    seq: Required[int]
    time: Required[float]
    type: Required[str]
    room: str
    room_sid: str
    reason: str
    metadata: str
    name: str
    participant_identity: str
    participant_sid: str
    kind: str
    attributes: dict[str, str]
    changed: dict[str, str]
    permission: dict[str, bool]
    track_sid: str
    muted: bool
    status: str
    number: str
    call_id: str
    sip_status_code: int
    digit: str
    method: str
    from_room: str
    topic: str
    destination_identities: list[str]
    data_kind: str
    payload: Any
    payload_b64: str
    dispatch_id: str
    agent_name: str
    track_sids: list[str]
    subscribe: bool
    transfer_to: str
    transfer_id: str


class CallResult(TypedDict, total=False):
    """Outcome of a Twirp call: ``{"ok": true}`` or the error answered."""

    ok: Required[bool]
    code: str
    msg: str
    meta: dict[str, str]


class CallRecord(TypedDict):
    """One entry of ``GET /sim/calls``.

    ``fault`` is None or ``fail_first_n`` | ``fail_rate`` | ``drop`` | ``drop_after``;
    ``status`` is the HTTP status answered (None when the connection was dropped);
    ``request`` is the decoded request (proto field names) or None if it never decoded.
    """

    seq: int
    start: float
    end: float | None
    service: str
    method: str
    request: dict[str, Any] | None
    request_id: str
    status: int | None
    result: CallResult | None
    fault: str | None
    latency_ms: float


class TrackState(TypedDict):
    """A published audio track."""

    sid: str
    muted: bool


class ParticipantState(TypedDict):
    """A participant in ``GET /sim/state``; ``sip`` describes an outbound leg."""

    sid: str
    identity: str
    name: str
    kind: str
    state: str
    attributes: dict[str, str]
    metadata: str
    permission: dict[str, bool]
    tracks: list[TrackState]
    unsubscribed: list[str]
    track_subscribers: list[str] | None
    joined_at: float
    sip: dict[str, Any] | None


class DispatchState(TypedDict):
    """An agent dispatch in ``GET /sim/state``."""

    id: str
    agent_name: str
    metadata: str
    created_at: float


class RoomState(TypedDict):
    """A room in ``GET /sim/state``."""

    sid: str
    name: str
    metadata: str
    created_at: float
    participants: dict[str, ParticipantState]
    dispatches: list[DispatchState]


class SimStateSnapshot(TypedDict):
    """``GET /sim/state``."""

    rooms: dict[str, RoomState]
    counters: dict[str, int]
    faults: dict[str, Any]
    faults_injected: dict[str, int]
    last_event_seq: int
    calls_logged: int
    webhooks: dict[str, int]
