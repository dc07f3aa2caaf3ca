"""The `chatbot` command (also `python -m bot`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Annotated, Any

import typer

from bot.config import Settings, load_settings
from bot.errors import BotError

app = typer.Typer(help="Interview and help-desk bot on your own vLLM.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

log = logging.getLogger("bot")


def _settings(log_level: str | None = None) -> Settings:
    settings = load_settings()
    logging.basicConfig(
        level=log_level or settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return settings


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coroutine)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def run() -> None:
    """Every adapter whose credentials are set, the scheduler and the HTTP server; with no
    Slack or Telegram credentials, a support chat in this terminal."""
    from bot.app import serve

    settings = _settings()
    if settings.telegram_token is None and settings.slack_bot_token is None:
        typer.echo(
            "No Slack or Telegram credentials are set, so this is the help desk in your "
            "terminal.\nTo connect Telegram set BOT_TELEGRAM_TOKEN; for Slack set "
            "BOT_SLACK_BOT_TOKEN and BOT_SLACK_APP_TOKEN (Socket Mode) or "
            "BOT_SLACK_SIGNING_SECRET (HTTP events). See README.md.\n",
            err=True,
        )
        _chat(settings, "support", None)
        return
    _run(serve(settings))


@app.command()
def chat(
    flow: Annotated[str, typer.Option(help="support or interview")] = "support",
    role: Annotated[
        str | None, typer.Option(help="interview role (prompts/roles/ROLE.yaml)")
    ] = None,
) -> None:
    """A conversation in this terminal, through the same engine; also from a pipe."""
    _chat(_settings("WARNING"), flow, role)


def _chat(settings: Settings, flow: str, role: str | None) -> None:
    from adapters.console.terminal import Terminal, stdin_lines
    from bot.app import core

    async def main() -> None:
        async with core(settings) as built:
            if flow not in built.engine.flows:
                raise typer.BadParameter(f"unknown flow {flow!r}", param_hint="--flow")
            if role is not None and role not in built.prompts.roles:
                known = ", ".join(built.prompts.roles)
                raise typer.BadParameter(f"unknown role {role!r} ({known})", param_hint="--role")
            terminal = Terminal(built.engine, flow, {"role": role} if role else {})
            await built.engine.start()
            try:
                await terminal.run(stdin_lines())
                await built.engine.idle()
            finally:
                await built.engine.stop()

    _run(main())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations up to head."""
    from bot.store.sql import SqlStore

    settings = _settings()

    async def main() -> None:
        store = SqlStore(settings.database_url)
        try:
            await store.upgrade()
        finally:
            await store.close()
        typer.echo("database is at the latest migration")

    _run(main())


def main() -> None:
    try:
        app()
    except BotError as exc:  # configuration and prompt errors: one line, no traceback
        typer.echo(f"chatbot: {exc}", err=True)
        raise SystemExit(2) from None
