"""The Telegram connection: python-telegram-bot's Application, polling or webhook.

Translation only: an update becomes an `Incoming` submitted to the engine; replies come
back through the `TelegramRenderer` the engine was given. PTB's own webhook server is not
used: the webhook is one aiohttp route on the bot's HTTP server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from urllib.parse import urlparse

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from adapters.telegram.callbacks import CallbackCodec
from adapters.telegram.delivery import RetryPolicy
from adapters.telegram.polling import Poller
from adapters.telegram.renderer import TelegramRenderer
from adapters.telegram.sender import RenderTiming
from adapters.telegram.translate import BotIdentity, to_incoming
from bot.config import Settings
from bot.domain import Platform
from bot.errors import ConfigError
from bot.ports import EngineAPI
from bot.texts import LANGS, text

log = logging.getLogger(__name__)

TELEGRAM_API_URL = "https://api.telegram.org"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
COMMANDS = ("start", "help", "cancel", "export", "delete", "lang")


class _RecentIds:
    """The last few update ids seen: skips obvious redeliveries before the engine's DB does."""

    def __init__(self, size: int = 2048) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def __contains__(self, update_id: int) -> bool:
        return update_id in self._ids

    def add(self, update_id: int) -> None:
        self._ids[update_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


class TelegramAdapter:
    def __init__(
        self,
        settings: Settings,
        engine: EngineAPI,
        *,
        webhook_path: str | None = None,
        poll_timeout_s: float = 10.0,
        timing: RenderTiming | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if settings.telegram_token is None:
            raise ConfigError("BOT_TELEGRAM_TOKEN: required for the Telegram adapter")
        self.platform = Platform.TELEGRAM
        self._engine = engine
        self._webhook_url = settings.telegram_webhook_url
        self._webhook_secret = (
            settings.telegram_webhook_secret.get_secret_value()
            if settings.telegram_webhook_secret
            else None
        )
        if self._webhook_url and not self._webhook_secret:
            raise ConfigError(
                "BOT_TELEGRAM_WEBHOOK_SECRET: required when BOT_TELEGRAM_WEBHOOK_URL is set"
            )
        self._webhook_path = webhook_path or _path_of(self._webhook_url) or DEFAULT_WEBHOOK_PATH
        self._poll_timeout_s = poll_timeout_s
        # PTB's Application only builds the Bot here; its Updater and update queue are not
        # used (they confirm updates before they are stored: see polling.py).
        self.application = _build_application(settings)
        self._api_url = settings.telegram_base_url or TELEGRAM_API_URL
        self._codec = CallbackCodec()
        self._recent = _RecentIds()
        self._webhook_lock = asyncio.Lock()
        self._me: BotIdentity | None = None
        self._poller = Poller(
            self.application.bot,
            self.handle_update,
            timeout_s=int(poll_timeout_s),
            allowed_updates=ALLOWED_UPDATES,
        )
        self.renderer = TelegramRenderer(self.application.bot, self._codec, timing, policy)
        engine.attach(Platform.TELEGRAM, self.renderer)

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, or fail in one sentence (ConfigError) that names the variable and never
        the token: PTB's own messages quote it."""
        app = self.application
        try:
            await app.initialize()
            self._me = BotIdentity(app.bot.id, app.bot.username)
            await self._set_commands()
        except InvalidToken:
            raise ConfigError(
                f"BOT_TELEGRAM_TOKEN: the Bot API at {self._api_url} rejected the token"
            ) from None
        except TelegramError as error:
            raise ConfigError(
                f"BOT_TELEGRAM_BASE_URL: could not reach the Bot API at {self._api_url} "
                f"({type(error).__name__})"
            ) from None
        if self._webhook_url:
            await app.bot.set_webhook(
                self._webhook_url,
                secret_token=self._webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: webhook mode, %s", self._webhook_url)
        else:
            await self._poller.start()
            log.info("telegram: long polling as @%s", self._me.username)

    async def stop(self) -> None:
        await self._poller.stop()
        await self.application.shutdown()

    async def _set_commands(self) -> None:
        for lang in LANGS:
            commands = [
                BotCommand(name, text(f"telegram_command_{name}", lang)) for name in COMMANDS
            ]
            await self.application.bot.set_my_commands(
                commands, language_code=None if lang == "en" else lang
            )

    # ---- incoming -----------------------------------------------------------------------

    def http_routes(self) -> list[web.RouteDef]:
        if not self._webhook_url:
            return []
        return [web.post(self._webhook_path, self._on_webhook)]

    async def _on_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        assert self._webhook_secret is not None
        if not hmac.compare_digest(given.encode(), self._webhook_secret.encode()):
            log.warning("telegram webhook: wrong or missing secret from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError, json.JSONDecodeError):
            return web.Response(status=400, text="not a Telegram update")
        async with self._webhook_lock:  # one at a time, so messages are submitted in order
            await self.handle_update(update)
        return web.Response(text="ok")

    async def handle_update(self, update: Update) -> None:
        """Submit what the update says, once; returns when it is stored (a store failure
        raises, so the update is not confirmed). A callback query is answered after."""
        if update.update_id in self._recent:
            log.debug("telegram: update %s redelivered; skipped", update.update_id)
            return
        assert self._me is not None, "start() first"
        try:
            incoming = to_incoming(update, self._me, self._codec)
        except Exception:
            log.exception("telegram: update %s could not be read; skipped", update.update_id)
            incoming = None
        if incoming is not None:
            await self._engine.submit(incoming)
        self._recent.add(update.update_id)
        if update.callback_query is not None:
            await self._answer_callback(update)

    async def _answer_callback(self, update: Update) -> None:
        assert update.callback_query is not None
        try:
            await update.callback_query.answer()
        except TelegramError as error:  # too old, or Telegram busy: the tap still counts
            log.info("telegram: answerCallbackQuery failed: %s", error.message)


def _path_of(url: str | None) -> str | None:
    if not url:
        return None
    path = urlparse(url).path
    return path if path not in ("", "/") else None


def _build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    assert settings.telegram_token is not None
    builder = ApplicationBuilder().token(settings.telegram_token.get_secret_value())
    if settings.telegram_base_url:
        builder = builder.base_url(f"{settings.telegram_base_url}/bot")
        builder = builder.base_file_url(f"{settings.telegram_base_url}/file/bot")
    return builder.updater(None).build()
