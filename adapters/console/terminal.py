"""The terminal adapter: a conversation on stdin/stdout through the same engine.

One line is one message. Replies stream token by token. Buttons are shown as numbered
choices; typing the number taps the button. With piped stdin it answers every line in
order and returns at end of input, so it can be scripted.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import AsyncIterator
from typing import TextIO

from bot.domain import (
    Button,
    Buttons,
    ConversationKey,
    FlowStart,
    Incoming,
    InputKind,
    Message,
    Output,
    Platform,
    Sources,
    TextDelta,
    TextDone,
    UserRef,
)
from bot.ports import EngineAPI
from bot.texts import text

CHAT_ID = "terminal"


class Terminal:
    def __init__(
        self,
        engine: EngineAPI,
        flow: str,
        params: dict[str, str] | None = None,
        *,
        out: TextIO | None = None,
        user: str | None = None,
    ) -> None:
        self.engine = engine
        self.start = FlowStart(flow, params or {})
        self.out = out or sys.stdout
        name = user or getpass.getuser()
        self.user = UserRef(Platform.CONSOLE, name, name)
        self.key = ConversationKey.user_in_chat(Platform.CONSOLE, CHAT_ID, name)
        self._buttons: tuple[Button, ...] = ()
        engine.attach(Platform.CONSOLE, self.render)

    async def render(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        streamed = False
        async for output in outputs:
            if isinstance(output, TextDelta):
                if not streamed:
                    self._write("bot> ")
                    streamed = True
                self._write(output.text)
            elif isinstance(output, TextDone):
                self._write("\n" if streamed else f"bot> {output.text}\n")
                streamed = False
            elif isinstance(output, Message):
                self._end_stream(streamed)
                streamed = False
                self._write(f"bot> {output.text}\n")
            elif isinstance(output, Buttons):
                self._end_stream(streamed)
                streamed = False
                self._buttons = output.buttons
                choices = "  ".join(f"[{i}] {b.label}" for i, b in enumerate(output.buttons, 1))
                self._write(f"bot> {output.text}\n     {choices}\n")
            elif isinstance(output, Sources) and output.items:
                self._end_stream(streamed)
                streamed = False
                listed = "".join(
                    f"     [{s.number}] {s.title} ({s.location})\n" for s in output.items
                )
                self._write(f"     {text('kb_sources', output.lang)}:\n{listed}")
        self._end_stream(streamed)

    async def run(self, lines: AsyncIterator[str]) -> None:
        """Start (or resume) the conversation, then one message per line until the end."""
        await self._send(Incoming(self.key, self.user, InputKind.START, start=self.start))
        interactive = sys.stdin.isatty()
        if interactive:
            self._write("(type your message; /help for commands, Ctrl-D to leave)\n")
        async for line in lines:
            await self._send(self._incoming(line.rstrip("\r\n")))

    def _incoming(self, line: str) -> Incoming:
        choice = line.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(self._buttons):
            button = self._buttons[int(choice) - 1]
            self._buttons = ()
            return Incoming(
                self.key, self.user, InputKind.ACTION, button.value, action_id=button.action_id
            )
        if choice.startswith("/start"):
            return Incoming(self.key, self.user, InputKind.START, start=self.start)
        if choice.startswith("/") and len(choice) > 1:
            return Incoming(self.key, self.user, InputKind.COMMAND, choice[1:])
        return Incoming(self.key, self.user, InputKind.TEXT, line, start=self.start)

    async def _send(self, incoming: Incoming) -> None:
        receipt = await self.engine.submit(incoming)
        await receipt.wait()

    def _end_stream(self, streamed: bool) -> None:
        if streamed:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


async def stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin as text; bytes that are not UTF-8 survive as surrogates, so the
    engine can tell the user it could not read them instead of crashing here."""
    loop = asyncio.get_running_loop()
    reader = sys.stdin.buffer
    while True:
        raw = await loop.run_in_executor(None, reader.readline)
        if not raw:
            return
        yield raw.decode("utf-8", errors="surrogateescape")
