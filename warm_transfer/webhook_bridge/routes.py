"""Which LiveKit webhook means which signal, to which transfer.

Routing is by the attributes the engine tags its participants with
(``warm_transfer.workflow_id`` and ``warm_transfer.role``), so the bridge keeps no
state: any replica can take any webhook. Deciding what a signal means stays with the
workflow, which ignores signals about a leg it is no longer waiting on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from livekit import api
from pydantic import BaseModel

from warm_transfer.client import SignalName
from warm_transfer.models import CallerHungUp, HumanAnswered, HumanDeclined
from warm_transfer.wire import ATTR_ROLE, ATTR_WORKFLOW_ID, CALL_STATUS

Reason = api.DisconnectReason

# A caller "leaving" for these reasons is still on the call (a reconnect, a node move).
_CALLER_STILL_THERE: Final = frozenset({Reason.DUPLICATE_IDENTITY, Reason.MIGRATION})
# A dialed human leaving on their own, after answering: what the decline says. Other
# reasons are not the human's doing: the engine hung the leg up or closed the room
# (PARTICIPANT_REMOVED, ROOM_DELETED), MoveParticipant took it to the caller, or the
# dial failed before an answer (busy, rejected), which the dial activity reports.
_HUMAN_GONE: Final = {
    Reason.CLIENT_INITIATED: "hung up",
    Reason.SIGNAL_CLOSE: "call lost",
    Reason.CONNECTION_TIMEOUT: "call lost",
    Reason.MEDIA_FAILURE: "call lost",
}


@dataclass(frozen=True)
class Route:
    """One signal to send: to whom, which, with what."""

    workflow_id: str
    signal: SignalName
    payload: BaseModel
    participant_identity: str


def route_event(event: api.WebhookEvent) -> Route | None:
    """The signal a verified webhook stands for, or None when it stands for none.

    - a dialed human's leg joins already ``active``: ``human_answered``. LiveKit sends
      ``participant_joined`` while the phone still rings (``dialing``) and no webhook at
      all when it is answered: `leg_to_follow` names those legs for `AnswerWatcher`.
      (``participant_attributes_changed`` is still understood: LiveKit sends none.)
    - the caller leaves (``participant_left``): ``caller_hung_up``.
    - an answered human leg leaves on its own (``participant_left``, CLIENT_INITIATED):
      ``human_declined`` with reason ``hung up``. The workflow ignores it unless that
      leg is the one being briefed.
    """
    if not event.HasField("participant"):
        return None
    participant = event.participant
    attributes = dict(participant.attributes)
    workflow_id = attributes.get(ATTR_WORKFLOW_ID, "")
    role = attributes.get(ATTR_ROLE, "")
    identity = participant.identity
    if not workflow_id or not identity:
        return None
    kind = event.event
    if kind in ("participant_attributes_changed", "participant_joined"):
        if role == "human" and attributes.get(CALL_STATUS) == "active":
            return Route(
                workflow_id,
                "human_answered",
                HumanAnswered(participant_identity=identity),
                identity,
            )
        return None
    if kind != "participant_left":
        return None
    reason = participant.disconnect_reason
    if role == "caller" and reason not in _CALLER_STILL_THERE:
        return Route(workflow_id, "caller_hung_up", CallerHungUp(), identity)
    # A leg that only ever rang (dialing, ringing) ended with its dial: not a decline.
    answered = attributes.get(CALL_STATUS) in ("active", "hangup")
    if role == "human" and reason in _HUMAN_GONE and answered:
        declined = HumanDeclined(participant_identity=identity, reason=_HUMAN_GONE[reason])
        return Route(workflow_id, "human_declined", declined, identity)
    return None


def leg_to_follow(event: api.WebhookEvent) -> tuple[str, str, str] | None:
    """``(room, identity, workflow id)`` of a dialed human leg that joined still ringing."""
    if event.event != "participant_joined" or not event.HasField("participant"):
        return None
    attributes = dict(event.participant.attributes)
    workflow_id = attributes.get(ATTR_WORKFLOW_ID, "")
    if attributes.get(ATTR_ROLE) != "human" or not workflow_id:
        return None
    if attributes.get(CALL_STATUS) == "active":
        return None  # route_event signals it at once
    return event.room.name, event.participant.identity, workflow_id
