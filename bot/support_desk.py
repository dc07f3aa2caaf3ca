"""The help desk around the support flow: pinned answers, feedback and hand-off to people.

`SupportDesk` is the flow registered as "support": it wraps the answering flow
(bot.flows.support) and adds what every help-desk answer has, on every platform:
- a pinned answer (prompts/support/answers.yaml) when the question matches one closely,
  served without the model and labelled as the help desk's;
- under each answer: thumbs up / down and "Talk to a person" (`support:human`); the
  answering flow offers a person by itself on a decline, and a thumbs-down offers one too;
- `/human` and the `support:human` button ask for a person: the turn yields `Handoff`,
  which the engine announces (`HandoffRequested`) once the turn is stored; the relay of the
  escalation channel (adapters/slack/helpdesk.py) opens the hand-off from there.

Each answer is recorded (question, outcome, citations, sources) in the help desk's store,
so feedback is stored with the answer it rates, and `chatbot kb report` and /metrics can
count them. The sources an answer lists (the knowledge base's `Sources` output, or a
`last_sources` list in the answering flow's state) go with the record and into the
hand-off post.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from bot import metrics
from bot.domain import Button, Buttons, FlowStart, Handoff, Message, TextDone, UserRef
from bot.flows.base import (
    Flow,
    FlowEvent,
    FlowState,
    ReplyMeta,
    TurnContext,
    UserInput,
)
from bot.flows.support import SupportFlow
from bot.lang import detect_lang
from bot.pinned_answers import PinnedAnswers
from bot.prompts import PromptLibrary
from bot.store.api import HelpDeskStore, NewHelpAnswer
from bot.texts import text

log = logging.getLogger(__name__)

ACTION_HUMAN = "support:human"
ACTION_UP = "support:feedback:up"
ACTION_DOWN = "support:feedback:down"
COMMAND_HUMAN = "human"
_CITATION = re.compile(r"\[\d{1,2}\]")


def answer_buttons(answer_id: int, lang: str, *, people: bool) -> Buttons:
    buttons = [
        Button(text("desk_button_up", lang), ACTION_UP, str(answer_id)),
        Button(text("desk_button_down", lang), ACTION_DOWN, str(answer_id)),
    ]
    if people:
        buttons.append(Button(text("desk_button_human", lang), ACTION_HUMAN, str(answer_id)))
    return Buttons(text("desk_answer_prompt", lang), tuple(buttons))


def offer_person(lang: str, key: str = "desk_thanks_down") -> Buttons:
    return Buttons(text(key, lang), (Button(text("desk_button_human", lang), ACTION_HUMAN),))


def _listed_sources(event: object) -> list[dict[str, Any]]:
    """A `Sources` output's items (number, title, location) as the answer record keeps them."""
    return [
        {
            "title": str(getattr(item, "title", "")),
            "source": str(getattr(item, "location", "")),
            "text": str(getattr(item, "text", "")),
        }
        for item in getattr(event, "items", ())
    ]


def _sources_of(state: FlowState) -> list[dict[str, Any]]:
    found = state.model_dump(mode="json").get("last_sources") or []
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


class SupportDesk:
    name: ClassVar[str] = "support"
    state_type: ClassVar[type[FlowState]] = SupportFlow.state_type  # the answering flow's

    def __init__(
        self,
        answering: Flow,
        records: HelpDeskStore,
        pinned: PinnedAnswers,
        *,
        people: bool,  # an escalation channel is set: a person can be offered
    ) -> None:
        self.answering, self.records, self.pinned, self.people = answering, records, pinned, people

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> FlowState:
        return self.answering.new_state(start, user, prompts)

    def on_start(self, ctx: TurnContext, state: Any) -> AsyncIterator[FlowEvent]:
        return self.answering.on_start(ctx, state)

    def help_text(self, ctx: TurnContext, state: Any) -> str:
        return self.answering.help_text(ctx, state)

    def on_command(
        self, ctx: TurnContext, state: FlowState, name: str, argument: str
    ) -> AsyncIterator[FlowEvent] | None:
        """Commands of the help desk beside the shared ones (bot.commands)."""
        if name == COMMAND_HUMAN:
            return self._hand_off(ctx, state)
        return None

    async def on_input(
        self, ctx: TurnContext, state: FlowState, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        if user_input.kind == "action" and user_input.action_id == ACTION_HUMAN:
            events = self._hand_off(ctx, state)
        elif user_input.kind == "action" and user_input.action_id in (ACTION_UP, ACTION_DOWN):
            events = self._feedback(ctx, state, user_input)
        elif user_input.kind == "text":
            if not state.lang_chosen:
                state.lang = detect_lang(user_input.text) or state.lang
            match = self.pinned.match(user_input.text)
            if match is not None:
                events = self._pinned(ctx, state, user_input.text, match.answer, match.version)
            else:
                events = self._answer(ctx, state, user_input)
        else:
            events = self.answering.on_input(ctx, state, user_input)
        async for event in events:
            yield event

    # ---- answers ------------------------------------------------------------------------

    async def _answer(
        self, ctx: TurnContext, state: FlowState, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        answer, offered_person, sources = "", False, _sources_of(state)
        async for event in self.answering.on_input(ctx, state, user_input):
            if isinstance(event, TextDone):
                answer = event.text
            elif isinstance(event, Buttons):
                offered_person |= any(b.action_id == ACTION_HUMAN for b in event.buttons)
                answer = answer or event.text  # a decline may be the offer alone
            elif type(event).__name__ == "Sources":  # the knowledge base's list (bot.domain)
                sources = _listed_sources(event) or sources
            yield event
        if not answer:
            return  # nothing was answered (a notice): nothing to rate
        outcome = "declined" if offered_person else "answered"
        cited = outcome == "answered" and bool(_CITATION.search(answer))
        record = NewHelpAnswer(
            ctx.conversation_id, user_input.text, answer, outcome, cited, sources
        )
        answer_id = await self.records.record_answer(record)
        metrics.observe_help_answer(outcome, cited=cited)
        if not offered_person:
            yield answer_buttons(answer_id, state.lang, people=self.people)

    async def _pinned(
        self, ctx: TurnContext, state: FlowState, question: str, pinned: Any, version: str
    ) -> AsyncIterator[FlowEvent]:
        lang = state.lang
        body = (
            f"{text('desk_pinned_label', lang)}\n{pinned.text(lang)}\n"
            f"{text('desk_source', lang, source=pinned.source)}"
        )
        log.info("support: pinned answer %s served", pinned.id)
        yield TextDone(body)
        yield ReplyMeta(model="pinned", prompt_version=version)
        source = {"title": pinned.id, "source": pinned.source, "text": pinned.text(lang)}
        answer_id = await self.records.record_answer(
            NewHelpAnswer(ctx.conversation_id, question, body, "pinned", True, [source])
        )
        metrics.observe_help_answer("pinned", cited=True)
        yield answer_buttons(answer_id, lang, people=self.people)

    # ---- feedback and people ------------------------------------------------------------

    async def _feedback(
        self, ctx: TurnContext, state: FlowState, tap: UserInput
    ) -> AsyncIterator[FlowEvent]:
        rating = "up" if tap.action_id == ACTION_UP else "down"
        answer_id = int(tap.text) if tap.text.isdigit() else 0
        stored = await self.records.record_feedback(
            answer_id, ctx.conversation_id, rating, ctx.user.platform_user_id
        )
        if not stored:
            log.info("support: feedback on unknown answer %r dropped", tap.text[:20])
            yield Message(text("desk_feedback_unknown", state.lang))
            return
        metrics.observe_help_feedback(rating)
        if rating == "up":
            yield Message(text("desk_thanks_up", state.lang))
        elif self.people:
            yield offer_person(state.lang)
        else:
            yield Message(text("desk_thanks_up", state.lang))

    async def _hand_off(self, ctx: TurnContext, state: FlowState) -> AsyncIterator[FlowEvent]:
        if not self.people:
            yield Message(text("desk_handoff_unavailable", state.lang))
            return
        last = await self.records.last_answer(ctx.conversation_id)
        question = last.question if last is not None else _last_question(ctx)
        yield Message(text("desk_handoff_requested", state.lang))
        yield Handoff(reason="asked", summary=question)


def _last_question(ctx: TurnContext) -> str:
    for item in reversed(ctx.history):
        if item.role == "user" and not item.text.isdigit():
            return item.text
    return ""
