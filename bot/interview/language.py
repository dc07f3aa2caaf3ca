"""Sticky language: the interview's language is chosen once and changed only on purpose.

Chosen at the start (the start's parameter, else the user's locale), then by the first
substantive answer; after that only /lang changes it, or two consecutive substantive
answers in the other language. A short reply ("OK", "yes, go on") never switches it.
"""

from __future__ import annotations

from bot.interview.evidence import word_count
from bot.interview.state import InterviewState
from bot.lang import detect_lang
from bot.prompts import Lang

SUBSTANTIVE_WORDS = 6  # fewer words than this is a short reply, not a choice of language
SWITCH_AFTER = 2  # consecutive substantive answers in the other language


def follow_language(state: InterviewState, answer: str) -> None:
    if state.lang_chosen:  # /lang: the candidate said so
        return
    found = detect_lang(answer)
    if found is None or word_count(answer) < SUBSTANTIVE_WORDS:
        return
    detected: Lang = "zh" if found == "zh" else "en"
    if not state.lang_settled:
        state.lang, state.lang_settled, state.other_lang_answers = detected, True, 0
    elif detected == state.lang:
        state.other_lang_answers = 0
    else:
        state.other_lang_answers += 1
        if state.other_lang_answers >= SWITCH_AFTER:
            state.lang, state.other_lang_answers = detected, 0
