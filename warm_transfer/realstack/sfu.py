"""The SFU's own account of who hears whom: livekit-server's ``/debug/rooms``.

For each published track livekit-server lists its down tracks, one per subscriber
(by participant SID). That is what the SFU forwards, so it is the evidence for "the
caller is not subscribed to the human before the accept", independent of what the
engine believes it asked for.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from warm_transfer.realstack.servers import DEBUG_PORT


async def track_subscribers(lk_ip: str, room: str) -> dict[str, dict[str, set[str]]]:
    """Publisher identity -> its published tracks (by key) -> identities subscribed."""
    url = f"http://{lk_ip}:{DEBUG_PORT}/debug/rooms"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        rooms: list[dict[str, Any]] = await resp.json(content_type=None)
    for info in rooms:
        if info.get("Name") != room:
            continue
        participants: dict[str, Any] = info.get("Participants") or {}
        identity_of = {p.get("ID"): identity for identity, p in participants.items()}
        heard: dict[str, dict[str, set[str]]] = {}
        for identity, p in participants.items():
            tracks = (p.get("UpTrackManager") or {}).get("PublishedTracks") or {}
            published = heard.setdefault(identity, {})
            for key, track in tracks.items():
                listeners = published.setdefault(str(key), set())
                for down in track.get("DownTracks") or []:
                    sub = down.get("SubscriberID")
                    listeners.add(identity_of.get(sub, str(sub)))
        return heard
    return {}


async def subscribers(lk_ip: str, room: str) -> dict[str, set[str]]:
    """Publisher identity -> identities subscribed to any of its tracks, in ``room``."""
    return {
        identity: set().union(*tracks.values()) if tracks else set()
        for identity, tracks in (await track_subscribers(lk_ip, room)).items()
    }
