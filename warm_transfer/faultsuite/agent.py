"""The briefing agent of the fault suite: persistent, and on request, unruly.

`SimulatedBriefingAgent` drops a signal Temporal refuses; a real briefing agent must
not (a lost ``human_accepted`` strands a human who said yes), so this one retries
while the Temporal service is away (a server restart is one of the faults). With
``unruly`` it also sends what real agents and webhook bridges send by accident: every
signal twice, a signal naming nobody the engine dialed, ``human_answered`` after
``human_accepted``, and, after a decline, an accept from the same human (at once, and
again later, while the next human is being dialed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final

import structlog
from temporalio.service import RPCError, RPCStatusCode

from warm_transfer.models import HumanAccepted, HumanAnswered, HumanDeclined
from warm_transfer.sim_agents import SimulatedBriefingAgent

log = structlog.get_logger(__name__)

# Temporal's answers that mean "try again later" rather than "this transfer is over".
_TRANSIENT: Final = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNKNOWN}
)


@dataclass
class FaultSuiteAgent(SimulatedBriefingAgent):
    """A briefing agent that retries signals and, with ``unruly``, sends extra ones.

    Args:
        retry_for_s: how long a signal is retried while Temporal is unavailable.
        unruly: send duplicate, unknown, out-of-order and late signals too.
    """

    retry_for_s: float = 60.0
    unruly: bool = False
    extra_signals: int = 0
    _declined: dict[str, list[str]] = field(default_factory=dict)  # wid -> declined legs

    async def _signal(self, workflow_id: str, name: str, payload: object) -> None:
        await self._send(workflow_id, name, payload)
        if not self.unruly:
            return
        await self._send(workflow_id, name, payload, extra=True)  # the same, twice
        nobody = HumanAccepted(participant_identity=f"{workflow_id}-nobody")
        await self._send(workflow_id, "human_accepted", nobody, extra=True)
        if isinstance(payload, HumanDeclined):
            leg = payload.participant_identity
            self._declined.setdefault(workflow_id, []).append(leg)
            accept = HumanAccepted(participant_identity=leg)
            await self._send(workflow_id, "human_accepted", accept, extra=True)
        elif isinstance(payload, HumanAnswered):
            # The next human answered: a late accept from an earlier one arrives now.
            for leg in self._declined.get(workflow_id, []):
                late = HumanAccepted(participant_identity=leg)
                await self._send(workflow_id, "human_accepted", late, extra=True)
        elif isinstance(payload, HumanAccepted):
            answered = HumanAnswered(participant_identity=payload.participant_identity)
            await self._send(workflow_id, "human_answered", answered, extra=True)

    async def _send(
        self, workflow_id: str, name: str, payload: object, extra: bool = False
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for_s
        handle = self.client.get_workflow_handle(workflow_id)
        while True:
            try:
                await handle.signal(name, payload)
            except RPCError as err:
                if err.status in _TRANSIENT and loop.time() < deadline:
                    await asyncio.sleep(0.5)
                    continue
                # The transfer is over (a late DTMF, a late extra signal): nothing to do.
                log.info("signal not delivered", signal=name, workflow_id=workflow_id)
                return
            break
        if extra:
            self.extra_signals += 1
        else:
            self.signals_sent.append((name, workflow_id))
