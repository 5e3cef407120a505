"""ABOR that arrives as a transfer ends is answered after that transfer's own final reply."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from pasv.server.handlers.data import abor


async def test_abor_after_the_transfer_ended_waits_for_the_commands_reply() -> None:
    """The transfer is over (``s.transfer`` is None) but its command still finishes (closing
    the file, accounting) before its 226: ABOR's own 226 must not go out first."""
    finished = asyncio.Event()
    order: list[str] = []

    async def stor_finishing() -> None:
        await finished.wait()
        order.append("STOR reply")

    running = asyncio.ensure_future(stor_finishing())
    s = SimpleNamespace(
        transfer=None,
        control=SimpleNamespace(current=running),
        close_data=lambda: None,
        aborted_unbegun=False,
    )
    answer = asyncio.ensure_future(abor(s, ""))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # one loop turn: ABOR is now waiting (or, before the fix, done)
    finished.set()
    reply = await answer
    order.append("ABOR reply")
    assert order == ["STOR reply", "ABOR reply"]
    assert reply.code == 226


async def test_abor_from_the_queue_does_not_wait_for_itself() -> None:
    async def queued_abor() -> object:
        s = SimpleNamespace(
            transfer=None,
            control=SimpleNamespace(current=asyncio.current_task()),
            close_data=lambda: None,
            aborted_unbegun=False,
        )
        return await abor(s, "")  # type: ignore[arg-type]

    reply = await asyncio.wait_for(queued_abor(), 10)
    assert getattr(reply, "code", None) == 226
