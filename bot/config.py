"""Typed settings, read once by the composition root from the environment (and `.env`).

The variable names are a contract (DESIGN.md): tests, benchmarks and deployment files use
them. A missing or invalid value stops start-up with one line naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.errors import ConfigError

ENV_PREFIX = "BOT_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = "sqlite+aiosqlite:///./data/bot.db"
    # connections per process, the lock connection included; never exceeded (PostgreSQL)
    database_pool_size: int = Field(default=10, ge=2, le=1000)

    llm_base_url: str = "http://127.0.0.1:8000/v1"
    llm_model: str | None = None  # None: the first model of /v1/models
    llm_api_key: SecretStr = SecretStr("EMPTY")
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_connect_timeout_s: float = Field(default=5.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_max_tokens: int = Field(default=512, gt=0)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    # the window when /v1/models has no max_model_len (the smaller wins when both say)
    llm_context_tokens: int | None = Field(default=None, gt=0)
    # requests in flight to the model server; beyond it a fair queue (bot.llm.queue)
    llm_max_concurrency: int = Field(default=64, ge=1, le=10000)
    llm_queue_notice_s: float = Field(default=3.0, gt=0)  # wait before "you are number N"

    telegram_token: SecretStr | None = None
    telegram_base_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_require_invitation: bool = False
    # the bot's @username, for invitation deep links https://t.me/<username>?start=<token>
    telegram_bot_username: str | None = None

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None
    slack_hiring_channel: str | None = None
    slack_escalation_channel: str | None = None
    # user ids allowed to decide besides hiring-channel members, comma-separated
    slack_deciders: Annotated[tuple[str, ...], NoDecode] = ()
    # a top-level DM answered in a thread under it, streamed natively ("thread"), or in
    # the DM itself with a placeholder that is edited as the reply grows ("inline")
    slack_dm_replies: Literal["thread", "inline"] = "thread"

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)

    prompts_dir: Path = Path(__file__).resolve().parent.parent / "prompts"
    company_name: str = "Acme"
    max_input_chars: int = Field(default=8000, gt=0)
    rate_limit_per_minute: int = Field(default=20, ge=0)  # per user; 0 turns it off
    support_session_idle_hours: float = Field(default=8.0, ge=0)  # 0: one session forever
    retention_days: int = Field(default=180, ge=1)
    retake_after_days: int = Field(default=180, ge=0)  # one interview per candidate and role
    # an invitation link works this long after it is made; 0: it never expires
    invitation_ttl_days: int = Field(default=14, ge=0, le=3650)
    # ---- jobs: reminders, expiry, retention purge (bot.jobs) ----
    reminder_after_hours: float = Field(default=24.0, gt=0)  # idle candidate reminded
    expire_after_hours: float = Field(default=72.0, gt=0)  # idle interview expires
    idle_check_minutes: float = Field(default=10.0, gt=0)  # how often idleness is checked
    retention_purge_hour: int = Field(default=3, ge=0, le=23)  # daily, UTC
    evaluation_samples: int = Field(default=1, ge=1, le=9)
    # ---- knowledge base (bot.knowledge): unset embeddings URL = the embedded e5 model ----
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    kb_paths: Annotated[tuple[Path, ...], NoDecode] = ()  # re-indexed by a scheduled job
    kb_reindex_minutes: float = Field(default=60.0, gt=0)
    kb_passages: int = Field(default=4, ge=1, le=10)  # passages given to the model
    kb_check_answers: bool = True  # a second model reading of each grounded answer
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # ---- voice answers (bot.speech): an OpenAI-compatible /v1/audio/transcriptions ----
    asr_base_url: str = "http://127.0.0.1:8010/v1"  # loopback and silent: `run` starts Whisper
    asr_model: str | None = None  # None: the first model of the ASR server's /v1/models
    asr_max_seconds: float = Field(default=180.0, gt=0)
    keep_audio: bool = False  # keep voice answers' audio (retention and /delete cover it)
    # the embedded Whisper's files (bot.localmodel.asr reads it before Settings exist)
    local_asr_dir: Path | None = None

    @field_validator("kb_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):  # like PATH: colon-separated (commas work too)
            parts = value.replace(",", ":").split(":")
            return tuple(Path(part.strip()) for part in parts if part.strip())
        return value

    @field_validator("slack_deciders", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "llm_base_url",
        "telegram_base_url",
        "slack_api_url",
        "telegram_webhook_url",
        "asr_base_url",
        "embeddings_base_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("expire_after_hours")
    @classmethod
    def _expiry_after_reminder(cls, value: float, info: ValidationInfo) -> float:
        reminder = info.data.get("reminder_after_hours")
        if reminder is not None and value <= reminder:
            raise ValueError(f"must be longer than BOT_REMINDER_AFTER_HOURS ({reminder})")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be a sqlite+aiosqlite:// or postgresql+asyncpg:// SQLAlchemy URL"
            )
        return value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        variable = f"{ENV_PREFIX}{field.upper()}"
        raise ConfigError(f"{variable}: {first['msg']}") from None
