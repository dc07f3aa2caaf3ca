"""The platforms' file downloads that turn steps use (voice notes, résumés): each adapter
registers its own, so the core never imports a platform SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from bot.domain import Platform

Source = TypeVar("Source")


class PlatformSources(Generic[Source]):
    def __init__(self, sources: Mapping[Platform, Source] | None = None) -> None:
        self.sources: dict[Platform, Source] = dict(sources or {})

    def register(self, platform: Platform, source: Source) -> None:
        self.sources[platform] = source
