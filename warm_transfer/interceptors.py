"""Worker interceptors: every activity's log lines carry the transfer they serve."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

# Input fields naming the LiveKit room an activity works on, most specific first:
# most requests carry ``room_name``; the bridge names the caller's room.
_ROOM_FIELDS = ("room_name", "caller_room")
_LEG_FIELDS = ("participant_identity", "human_identity")


class BindLogContext(Interceptor):
    """Binds workflow id, run id, activity, attempt, room and leg to structlog's context.

    Fields a log call passes itself win over these (``merge_contextvars`` only fills
    what is missing), so an activity that logs ``room=`` for the consultation room
    still says so.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wraps each activity execution."""
        return _BoundActivity(next)


class _BoundActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        fields: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        request = input.args[0] if input.args else None
        for name, candidates in (("room", _ROOM_FIELDS), ("leg", _LEG_FIELDS)):
            value = _first_attribute(request, candidates)
            if value is not None:
                fields[name] = value
        with structlog.contextvars.bound_contextvars(**fields):
            return await super().execute_activity(input)


def _first_attribute(obj: object, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, str) and value:
            return value
    return None
