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
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackContext, TypeHandler

from adapters.telegram.callbacks import CallbackCodec
from adapters.telegram.delivery import RetryPolicy
from adapters.telegram.renderer import TelegramRenderer
from adapters.telegram.sender import RenderTiming
from adapters.telegram.translate import BotIdentity, to_incoming
from bot.config import Settings
from bot.domain import Platform
from bot.errors import ConfigError
from bot.ports import EngineAPI
from bot.texts import LANGS, text

log = logging.getLogger(__name__)

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
        self.application = _build_application(settings, webhook=self._webhook_url is not None)
        self.application.add_handler(TypeHandler(Update, self._on_polled_update))
        self.application.add_error_handler(self._on_error)
        self._codec = CallbackCodec()
        self._recent = _RecentIds()
        self._webhook_lock = asyncio.Lock()
        self._me: BotIdentity | None = None
        self.renderer = TelegramRenderer(self.application.bot, self._codec, timing, policy)
        engine.attach(Platform.TELEGRAM, self.renderer)

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        self._me = BotIdentity(app.bot.id, app.bot.username)
        await self._set_commands()
        await app.start()
        if self._webhook_url:
            await app.bot.set_webhook(
                self._webhook_url,
                secret_token=self._webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: webhook mode, %s", self._webhook_url)
        else:
            assert app.updater is not None
            # start_polling removes any webhook first (getUpdates is refused while one is set)
            await app.updater.start_polling(
                timeout=int(self._poll_timeout_s), allowed_updates=ALLOWED_UPDATES
            )
            log.info("telegram: long polling as @%s", self._me.username)

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

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

    async def _on_polled_update(self, update: Update, _context: CallbackContext) -> None:  # type: ignore[type-arg]
        await self.handle_update(update)

    async def _on_error(self, update: object, context: CallbackContext) -> None:  # type: ignore[type-arg]
        log.error("telegram: handling update failed", exc_info=context.error)

    async def handle_update(self, update: Update) -> None:
        """Submit what the update says, once; every callback query is answered."""
        if update.update_id in self._recent:
            log.debug("telegram: update %s redelivered; skipped", update.update_id)
            return
        if update.callback_query is not None:
            await self._answer_callback(update)
        assert self._me is not None, "start() first"
        incoming = to_incoming(update, self._me, self._codec)
        if incoming is not None:
            await self._engine.submit(incoming)
        self._recent.add(update.update_id)

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


def _build_application(settings: Settings, *, webhook: bool) -> Application:  # type: ignore[type-arg]
    assert settings.telegram_token is not None
    builder = ApplicationBuilder().token(settings.telegram_token.get_secret_value())
    if settings.telegram_base_url:
        builder = builder.base_url(f"{settings.telegram_base_url}/bot")
        builder = builder.base_file_url(f"{settings.telegram_base_url}/file/bot")
    if webhook:
        builder = builder.updater(None)
    return builder.build()
