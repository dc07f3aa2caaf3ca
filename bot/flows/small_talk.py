"""Greetings and thanks in the help desk: answered as such, never searched in the handbook
(a "hi" that gets "I could not find that in the handbook" reads as broken)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

SmallTalk = Literal["greeting", "thanks"]

_GREETINGS = {
    "hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening",
    "hi there", "hello there", "hey there", "morning", "你好", "您好", "嗨", "哈喽", "早",
    "早上好", "上午好", "下午好", "晚上好", "大家好",
}  # fmt: skip
_THANKS = {
    "thanks", "thank you", "thx", "ty", "cheers", "great thanks", "ok thanks", "thanks a lot",
    "thank you very much", "many thanks", "perfect thanks", "got it thanks", "谢谢", "多谢",
    "谢啦", "感谢", "谢谢你", "谢谢您", "好的谢谢", "好的，谢谢", "非常感谢", "收到谢谢",
}  # fmt: skip
_BOT_WORDS = re.compile(r"\b(?:bot|helpdesk|help desk|team|all|everyone)\b", re.IGNORECASE)


def _plain(text: str) -> str:
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text.casefold())
    return " ".join(_BOT_WORDS.sub(" ", kept).split())


def small_talk(text: str) -> SmallTalk | None:
    """ "greeting" or "thanks" when that is all the message says (punctuation, emoji and
    "bot"/"team" aside); None for anything with a question in it."""
    plain = _plain(text)
    if plain in _GREETINGS:
        return "greeting"
    if plain in _THANKS or plain.replace(" ", "") in _THANKS:
        return "thanks"
    return None
