"""Which of the bot's languages a text is written in: one rule for every part of the bot
(the engine's language switch, the interview, the help desk, the knowledge base)."""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "zh"]

CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CLASS}]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_lang(text: str) -> Lang | None:
    """ "zh" when the text is mostly Chinese, "en" when mostly Latin, None when unclear."""
    cjk, latin = len(CJK.findall(text)), len(_LATIN.findall(text))
    if cjk and cjk * 3 >= latin:  # one Chinese character carries about a word
        return "zh"
    if latin >= 3:
        return "en"
    return None
