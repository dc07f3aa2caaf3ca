"""Whisper often writes Mandarin in Traditional characters; candidates here read Simplified."""

from __future__ import annotations

import re

import zhconv

HAN = re.compile(r"[\u4e00-\u9fff]")


def has_han(text: str) -> bool:
    return HAN.search(text) is not None


def to_simplified(text: str) -> str:
    converted: str = zhconv.convert(text, "zh-cn")
    return converted
