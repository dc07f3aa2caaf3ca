"""The grounded-answer prompt: data in prompts/support/grounded.yaml, validated on load."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import PromptError


class Languages(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class GroundedPrompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(min_length=1)
    question: str = Field(min_length=1)
    follow_up: str = Field(min_length=1)
    check_system: str = Field(min_length=1)
    check: str = Field(min_length=1)
    languages: Languages
    version: str = ""

    def language(self, lang: str) -> str:
        return self.languages.zh if lang == "zh" else self.languages.en


def load_grounded_prompt(prompts_dir: Path) -> GroundedPrompt:
    path = prompts_dir / "support" / "grounded.yaml"
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
        prompt = GroundedPrompt.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PromptError(f"{path}: {type(exc).__name__}: {exc}") from None
    return prompt.model_copy(update={"version": hashlib.sha256(raw).hexdigest()[:12]})
