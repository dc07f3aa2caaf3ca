"""The structured screening interview: fixed questions from a role file, one at a time,
then an evaluation for a person to decide on.

Stages: choose_role -> consent -> asking -> done | evaluation_failed, or human_requested
when the candidate asks for a person instead. Questions come from the role file word for
word; follow-ups come from fixed templates chosen by a structured completeness check, at
most the role's budget per question (enforced here, not by the model). Nothing the
candidate sees is built from a reference point: they stay with the evaluator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

from bot.domain import Button, Buttons, DocumentRef, FlowStart, Handoff, Message, UserRef
from bot.errors import LLMBadOutput, UserFacingError
from bot.flows.base import (
    Evaluated,
    Finished,
    FlowEvent,
    FlowState,
    TurnContext,
    UserInput,
    chat_history,
)
from bot.flows.reply import stream_reply
from bot.interview.followup import follow_up_for
from bot.interview.language import follow_language
from bot.interview.resume import attach_invited, keep_resume, resume_follow_up, with_role_match
from bot.interview.resume_probe import mask_probes
from bot.interview.scoring import evaluate
from bot.interview.state import Answer, InterviewState, VoiceFacts
from bot.prompts import PromptLibrary, Role
from bot.resume.types import CleanResume, InvitedResume
from bot.speech.transcriber import Transcript
from bot.texts import text

log = logging.getLogger(__name__)

ACTION_ROLE = "role"
ACTION_CONSENT = "consent"
ACTION_VOICE = "voice"  # value: use | again | type
_FIRST_SENTENCE = re.compile(r"^[^\n.!?。！？]*[.!?。！？]?")
_LOOKS_LIKE_A_QUESTION = re.compile(r"[?？]|question|问题|第\s*\d+\s*题", re.IGNORECASE)


def vet_acknowledgement(said: str, lang: str) -> str:
    """The model's acknowledgement, cut to its first sentence; a fixed one instead when it
    asks something, announces a question, or judges at length (small models do)."""
    match = _FIRST_SENTENCE.match(said.strip())
    sentence = match.group(0).strip() if match else ""
    if len(sentence) < 2 or len(sentence) > 160 or _LOOKS_LIKE_A_QUESTION.search(sentence):
        return text("interview_ack", lang)
    return sentence


def render_answer(answer: str) -> str:
    """Candidate text goes to the model as delimited data, never as instructions."""
    return f"<candidate_answer>\n{answer}\n</candidate_answer>"


class InterviewFlow:
    name: ClassVar[str] = "interview"
    state_type: ClassVar[type[FlowState]] = InterviewState

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> InterviewState:
        lang = start.params.get("lang") or ("zh" if (user.locale or "").startswith("zh") else "en")
        role_id = start.params.get("role")
        if role_id is not None and role_id not in prompts.roles:
            raise UserFacingError("interview_unknown_role", f"unknown role {role_id!r}")
        return InterviewState(
            lang="zh" if lang == "zh" else "en",
            stage="consent" if role_id else "choose_role",
            role_id=role_id,
        )

    async def on_start(self, ctx: TurnContext, state: InterviewState) -> AsyncIterator[FlowEvent]:
        if state.role_id is None:
            yield self._role_picker(ctx, state)
        else:
            yield self._consent(ctx, state)

    async def on_input(
        self, ctx: TurnContext, state: InterviewState, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        action = user_input.action_id if user_input.kind == "action" else ""
        if state.stage == "choose_role":
            if action == ACTION_ROLE:
                if user_input.text not in ctx.prompts.roles:
                    raise UserFacingError("interview_unknown_role", user_input.text)
                if ctx.role_allowed is not None and not await ctx.role_allowed(user_input.text):
                    raise UserFacingError("interview_retake_refused", user_input.text)
                state.role_id, state.stage = user_input.text, "consent"
                yield self._consent(ctx, state)
            else:
                yield self._role_picker(ctx, state)
        elif state.stage == "consent":
            if action == ACTION_CONSENT and user_input.text == "accept":
                state.stage, state.consented_at = "asking", datetime.now(UTC)
                state.started_at = state.consented_at
                yield Message(self._question(self._role(ctx, state), state))
            elif action == ACTION_CONSENT and user_input.text == "human":
                state.stage = "human_requested"
                yield Message(text("interview_human_requested", state.lang))
                yield Handoff("human_alternative", f"role {state.role_id}")
                yield Finished("finished")
            else:
                yield self._consent(ctx, state)
        elif state.stage != "asking":
            yield Message(text("interview_already_done", state.lang))
        elif action == ACTION_VOICE:
            async for event in self._confirm_voice(ctx, state, user_input.text):
                yield event
        elif user_input.kind != "text":
            yield Message(text("interview_answer_in_text", state.lang))
        else:
            state.pending_voice = None  # typed instead of confirming: the text is the answer
            async for event in self._take_answer(ctx, state, user_input.text):
                yield event

    async def on_voice(
        self, ctx: TurnContext, state: FlowState, transcript: Transcript
    ) -> AsyncIterator[FlowEvent]:
        """A transcribed voice answer is shown back; it counts only once confirmed."""
        assert isinstance(state, InterviewState)
        if state.stage != "asking":
            yield Message(text("interview_already_done", state.lang))
            return
        state.pending_voice = VoiceFacts(
            text=transcript.text,
            duration_s=transcript.duration_s,
            audio_sha256=transcript.audio_sha256,
            asr_model=transcript.model,
        )
        lang = state.lang
        yield Buttons(
            text("voice_heard", lang, transcript=transcript.text),
            (
                Button(text("voice_use", lang), ACTION_VOICE, "use", style="primary"),
                Button(text("voice_record_again", lang), ACTION_VOICE, "again"),
                Button(text("voice_type_instead", lang), ACTION_VOICE, "type"),
            ),
        )

    async def on_resume(
        self, ctx: TurnContext, state: FlowState, resume: CleanResume, document: DocumentRef
    ) -> AsyncIterator[FlowEvent]:
        """A résumé is kept for the role match; the interview goes on where it was."""
        assert isinstance(state, InterviewState)
        yield keep_resume(ctx, state, resume, document)

    def attach_invited_resume(self, state: FlowState, resume: InvitedResume) -> None:
        """The hiring manager's résumé from the invitation the conversation starts with."""
        assert isinstance(state, InterviewState)
        attach_invited(state, resume)

    async def _confirm_voice(
        self, ctx: TurnContext, state: InterviewState, choice: str
    ) -> AsyncIterator[FlowEvent]:
        pending, state.pending_voice = state.pending_voice, None
        if pending is None:  # a stale button (already used, or the answer was typed)
            yield Message(self._question(self._role(ctx, state), state))
        elif choice == "use":
            async for event in self._take_answer(ctx, state, pending.text, voice=pending):
                yield event
        elif choice == "again":
            yield Message(text("voice_record_prompt", state.lang))
        else:
            yield Message(text("voice_type_prompt", state.lang))

    async def _take_answer(
        self,
        ctx: TurnContext,
        state: InterviewState,
        answer: str,
        voice: VoiceFacts | None = None,
    ) -> AsyncIterator[FlowEvent]:
        role = self._role(ctx, state)
        follow_language(state, answer)
        question = role.questions[state.question_index]
        state.answers.append(
            Answer(
                question_id=question.id,
                text=answer,
                follow_up=state.awaiting_follow_up,
                answered_by="voice" if voice else "text",
                voice=voice,
                prompted_with=state.awaiting_resume_snippet,
            )
        )
        state.awaiting_resume_snippet = None
        asked = state.follow_ups.get(question.id, 0)
        if asked < role.follow_up_budget:
            probe = await follow_up_for(ctx, role, question, state.texts_of(question.id))
            said = (
                probe.text(state.lang)
                if probe is not None
                else await resume_follow_up(ctx, role, question, state)
            )
            if said is not None:
                state.follow_ups[question.id] = asked + 1
                state.follow_up_texts[question.id] = [
                    *state.follow_up_texts.get(question.id, []),
                    said,
                ]
                state.awaiting_follow_up = True
                yield Message(said)
                return
        state.awaiting_follow_up = False
        state.question_index += 1
        last = state.question_index >= len(role.questions)
        suffix = text("interview_last_answer", state.lang) if last else self._question(role, state)
        messages = chat_history(self._system(ctx, role, state), ctx.history, render_answer)
        for message in messages[1:]:
            if message["role"] == "assistant" and state.resume_probes:
                message["content"] = mask_probes(str(message["content"]), state)
        messages.append({"role": "user", "content": render_answer(answer)})
        async for event in stream_reply(
            ctx,
            messages,
            prompt_version=ctx.prompts.interview.version,
            suffix=suffix,
            max_tokens=60,
            vet=lambda said: vet_acknowledgement(said, state.lang),
        ):
            yield event
        if last:
            async for event in self.evaluate(ctx, state):
                yield event
            # Said whatever the evaluation's fate: it is the hiring team's business, and a
            # retry later (from the hiring channel) tells the candidate nothing new.
            yield Message(text("interview_complete", state.lang))

    async def evaluate(self, ctx: TurnContext, state: InterviewState) -> AsyncIterator[FlowEvent]:
        """Score the answers; run again by a retry after a failure (silently: nothing is
        shown to the candidate)."""
        role = self._role(ctx, state)
        state.finished_at = state.finished_at or datetime.now(UTC)
        version = ctx.prompts.interview.version
        try:
            scored = await evaluate(
                ctx,
                role,
                state.answers,
                samples=ctx.evaluation_samples,
                follow_ups=state.follow_up_texts,
            )
        except LLMBadOutput as exc:
            log.error("evaluation of conversation %s failed: %s", ctx.conversation_id, exc)
            state.stage = "evaluation_failed"
            model = await ctx.llm.model_name()
            # The conversation stays open so that the evaluation can be retried.
            yield Evaluated("failed", {}, exc.raw_output, model, version, role.version, str(exc))
            return
        state.stage = "done"
        report = scored.report.model_copy(update=state.report_facts())
        report = await with_role_match(ctx, role, state, report)  # its own section
        yield Evaluated("ok", report.to_data(), scored.raw, scored.model, version, role.version)
        yield Finished("finished")

    def help_text(self, ctx: TurnContext, state: InterviewState) -> str:
        help_text = text("interview_help", state.lang)
        if state.stage == "asking" and state.role_id is not None:
            return f"{help_text}\n\n{self._question(self._role(ctx, state), state)}"
        return help_text

    @staticmethod
    def _role(ctx: TurnContext, state: InterviewState) -> Role:
        return ctx.prompts.roles[state.role_id or ""]

    def _system(self, ctx: TurnContext, role: Role, state: InterviewState) -> str:
        prompt = ctx.prompts.interview
        return (
            f"{prompt.interviewer_system}\nRole: {role.title.en}. {role.summary.en}\n"
            f"{prompt.acknowledge_instruction.get(state.lang)}"
        )

    def _question(self, role: Role, state: InterviewState) -> str:
        question = role.questions[state.question_index]
        progress = text(
            "interview_progress", state.lang, n=state.question_index + 1, total=len(role.questions)
        )
        return f"{progress}\n{question.text.get(state.lang)}"

    def _consent(self, ctx: TurnContext, state: InterviewState) -> Buttons:
        role = self._role(ctx, state)
        competencies = ", ".join(c.name.get(state.lang) for c in role.competencies)
        notice = text(
            "interview_intro",
            state.lang,
            role=role.title.get(state.lang),
            count=len(role.questions),
            minutes=role.time_budget_minutes or 30,
            competencies=competencies,
            days=ctx.retention_days,
        )
        if state.consent_shown:
            notice = text("interview_consent_needed", state.lang)
        elif state.resume is not None and state.resume.source == "invitation":
            notice += "\n\n" + text("interview_resume_attached", state.lang)
        state.consent_shown = True
        return Buttons(
            notice,
            (
                Button(
                    text("interview_consent_accept", state.lang),
                    ACTION_CONSENT,
                    "accept",
                    style="primary",
                ),
                Button(text("interview_consent_human", state.lang), ACTION_CONSENT, "human"),
            ),
        )

    def _role_picker(self, ctx: TurnContext, state: InterviewState) -> Buttons:
        buttons = tuple(
            Button(role.title.get(state.lang), ACTION_ROLE, role_id)
            for role_id, role in ctx.prompts.roles.items()
        )
        return Buttons(text("interview_choose_role", state.lang), buttons)
