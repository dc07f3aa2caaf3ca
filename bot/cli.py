"""The `chatbot` command (also `python -m bot`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from contextlib import ExitStack
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from bot.cli_admin import admin_app
from bot.cli_evaluate import evaluate_app
from bot.cli_kb import kb_app
from bot.cli_kb_report import register_report
from bot.cli_model import model_app
from bot.cli_resume import resume_app
from bot.cli_speech import transcribe, with_local_asr
from bot.config import Settings, load_settings
from bot.errors import BotError

app = typer.Typer(help="Interview and help-desk bot on your own vLLM.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(model_app, name="model")
app.add_typer(kb_app, name="kb")
app.add_typer(admin_app)
register_report(kb_app)  # `chatbot kb report`, beside index, search and prepare
app.add_typer(evaluate_app)
app.command("transcribe")(transcribe)
app.add_typer(resume_app, name="resume")

log = logging.getLogger("bot")


def _settings(log_level: str | None = None) -> Settings:
    settings = load_settings()
    logging.basicConfig(
        level=log_level or settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for chatty in ("httpx", "httpx2", "apscheduler"):  # a line per request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return settings


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coroutine)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def run(
    local_model: Annotated[
        bool, typer.Option(help="start the embedded vLLM if BOT_LLM_BASE_URL does not answer")
    ] = True,
) -> None:
    """Every adapter whose credentials are set, the scheduler and the HTTP server; with no
    Slack or Telegram credentials, a support chat in this terminal."""
    settings = _settings()
    with ExitStack() as stack:
        settings = _with_local_model(settings, stack, local_model)
        if local_model and settings.telegram_token is not None:  # voice answers: Telegram only
            settings = with_local_asr(settings, stack)
        _run_everything(settings)


def _with_local_model(settings: Settings, stack: ExitStack, local_model: bool) -> Settings:
    """Start the embedded vLLM when the configured one is a local address that does not
    answer; a remote or reachable server is used as it is."""
    from bot.localmodel.launch import is_loopback, local_server, reachable

    url = settings.llm_base_url
    if not local_model or reachable(url) or not is_loopback(url):
        return settings
    port = urlsplit(url).port or 8000
    served = stack.enter_context(local_server("127.0.0.1", port))
    return settings.model_copy(update={"llm_base_url": served})


def _run_everything(settings: Settings) -> None:
    from bot.app import serve

    if settings.telegram_token is None and settings.slack_bot_token is None:
        typer.echo(
            "No Slack or Telegram credentials are set, so this is the help desk in your "
            "terminal.\nTo connect Telegram set BOT_TELEGRAM_TOKEN; for Slack set "
            "BOT_SLACK_BOT_TOKEN and BOT_SLACK_APP_TOKEN (Socket Mode) or "
            "BOT_SLACK_SIGNING_SECRET (HTTP events). See README.md.\n",
            err=True,
        )
        logging.getLogger().setLevel(logging.WARNING)  # the terminal is the chat now
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
