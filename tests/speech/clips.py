"""The committed voice-note clips (tests/fixtures/audio) and their reference texts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@dataclass(frozen=True)
class Clip:
    name: str
    lang: str
    text: str
    seconds: float

    @property
    def path(self) -> Path:
        return AUDIO / self.name

    def read(self) -> bytes:
        return self.path.read_bytes()


def clips() -> list[Clip]:
    manifest = json.loads((AUDIO / "clips.json").read_text())
    return [Clip(c["name"], c["lang"], c["text"], c["seconds"]) for c in manifest]


def clip(name: str) -> Clip:
    return next(c for c in clips() if c.name == name)
