"""The warm-transfer benchmark: ``python -m bench`` (full) or ``python -m bench --quick``.

Runs the Temporal dev server, the LiveKit stand-in and ``python worker.py`` as real
processes (`warm_transfer.stack.Stack`) and measures what a caller hears:

1. handoff gap: ``human_accepted`` sent -> the human is in the caller's room;
2. time to dial: workflow start -> the stand-in receives ``CreateSIPParticipant``;
3. the same LiveKit calls made by a plain asyncio script (no durability);
4. throughput: completed transfers per second with N concurrent callers;
5. in-flight capacity: transfers parked at once, worker memory, time to drain;
6. cost: history events and Temporal Cloud billable actions per transfer.

It prints a table and writes ``bench/results.json``; see ``docs/benchmark.md``.
"""
