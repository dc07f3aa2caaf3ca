"""Whisper often writes Mandarin in Traditional characters; candidates here read Simplified."""

from __future__ import annotations

import re
from functools import cache

from opencc import OpenCC

HAN = re.compile(r"[\u4e00-\u9fff]")


def has_han(text: str) -> bool:
    return HAN.search(text) is not None


@cache
def _converter() -> OpenCC:
    return OpenCC("t2s")  # loads its dictionaries once


def to_simplified(text: str) -> str:
    converted: str = _converter().convert(text)
    return converted
