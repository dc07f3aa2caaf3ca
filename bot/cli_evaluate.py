"""`chatbot evaluate`: score one candidate's answers without a chat, or re-score a stored
interview after a model or rubric change (a new evaluation beside the old, audited).

FILE is YAML or JSON mapping a question id of the role to the answer text, or to
`{answer, follow_ups: [...]}` (the answers to its follow-up questions). The scoring is the
interview's own (bot.interview.scoring), so what this prints is what the bot would store.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from bot.config import Settings, load_settings
from bot.domain import Platform, UserRef
from bot.errors import BotError, LLMError
from bot.flows.base import TurnContext
from bot.interview.report import EvaluationReport
from bot.interview.scoring import Scored, evaluate
from bot.interview.state import Answer, InterviewState
from bot.llm.types import LLM
from bot.prompts import PromptLibrary, Role
from bot.store.api import NewEvaluation
from bot.store.sql import SqlStore
from bot.texts import text

evaluate_app = typer.Typer(no_args_is_help=True)


class AnswerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1)
    follow_ups: list[str] = Field(default_factory=list)


class AnswersFile(RootModel[dict[str, AnswerEntry | str]]):
    def answers(self, role: Role) -> list[Answer]:
        known = {q.id for q in role.questions}
        unknown = sorted(set(self.root) - known)
        if unknown:
            raise BotError(f"not questions of role {role.id}: {', '.join(unknown)}")
        result: list[Answer] = []
        for question in role.questions:  # in the role's order, whatever the file's
            entry = self.root.get(question.id)
            if entry is None:
                continue
            entry = entry if isinstance(entry, AnswerEntry) else AnswerEntry(answer=entry)
            result.append(Answer(question_id=question.id, text=entry.answer))
            result += [
                Answer(question_id=question.id, text=more, follow_up=True)
                for more in entry.follow_ups
            ]
        return result


def load_answers_file(path: Path) -> AnswersFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
        return AnswersFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise BotError(f"{path}: cannot read it ({type(exc).__name__})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BotError(f"{path}: {where}: {first['msg']}") from None


def render(report: EvaluationReport, lang: str = "en") -> str:
    """The report for a person reading a terminal."""
    lines: list[str] = []
    for question in report.questions:
        score = "-" if question.score is None else f"{question.score:g}"
        lines.append(text("evaluate_question", lang, id=question.id, score=score))
        lines += [
            text("evaluate_covered", lang, point=c.point, quote=c.quote) for c in question.covered
        ]
        lines += [text("evaluate_missed", lang, point=point) for point in question.missed]
        lines += [
            text("evaluate_flag", lang, source=f.source, excerpt=f.excerpt) for f in question.flags
        ]
    scores = ", ".join(f"{c.id} {c.score:g}" for c in report.competencies if c.score is not None)
    lines.append(text("evaluate_competencies", lang, scores=scores or "-"))
    lines.append(
        text(
            "evaluate_recommendation",
            lang,
            recommendation=report.recommendation or "-",
            reason=report.recommendation_reason,
        )
    )
    return "\n".join(lines)


def _context(
    settings: Settings, prompts: PromptLibrary, llm: LLM, conversation_id: int
) -> TurnContext:
    return TurnContext(
        conversation_id=conversation_id,
        llm=llm,
        prompts=prompts,
        history=(),
        user=UserRef(Platform.CONSOLE, "evaluate"),
        evaluation_samples=settings.evaluation_samples,
    )


def _actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


async def score_answers(settings: Settings, role_id: str, path: Path) -> EvaluationReport:
    from bot.app import build_llm

    prompts = PromptLibrary(settings.prompts_dir)
    role = prompts.roles.get(role_id)
    if role is None:
        raise BotError(f"unknown role {role_id!r} ({', '.join(prompts.roles)})")
    answers = load_answers_file(path).answers(role)
    llm = build_llm(settings)
    try:
        scored = await evaluate(
            _context(settings, prompts, llm, 0), role, answers, samples=settings.evaluation_samples
        )
    finally:
        await llm.close()
    return scored.report


async def rescore_conversation(settings: Settings, conversation_id: int) -> EvaluationReport:
    """Score a stored interview again; stored as a new evaluation, the old ones kept."""
    from bot.app import build_llm

    prompts = PromptLibrary(settings.prompts_dir)
    store = SqlStore(settings.database_url)
    llm = build_llm(settings)
    try:
        await store.upgrade()
        conversation = await store.get_conversation(conversation_id)
        if conversation.flow != "interview":
            raise BotError(f"conversation {conversation_id} is not an interview")
        state = InterviewState.from_stored(conversation.state)
        role = prompts.roles.get(state.role_id or "")
        if role is None or not state.answers:
            raise BotError(f"conversation {conversation_id} has no answers of a known role")
        ctx = _context(settings, prompts, llm, conversation_id)
        scored: Scored = await evaluate(
            ctx,
            role,
            state.answers,
            samples=settings.evaluation_samples,
            follow_ups=state.follow_up_texts,
        )
        report = scored.report.model_copy(update=state.report_facts())
        before = [e.id for e in await store.evaluations_for(conversation_id)]
        await store.record_rescoring(
            conversation_id,
            NewEvaluation(
                "ok",
                report.to_data(),
                scored.raw,
                scored.model,
                prompts.interview.version,
                role.version,
            ),
            actor=_actor(),
            details={"previous_evaluations": before, "prompt_version": prompts.interview.version},
        )
        return report
    finally:
        await llm.close()
        await store.close()


@evaluate_app.command("evaluate")
def evaluate_command(
    role: Annotated[str | None, typer.Option(help="the role the answers are for")] = None,
    answers: Annotated[
        Path | None, typer.Option(help="YAML or JSON: question id -> answer", exists=True)
    ] = None,
    conversation: Annotated[
        int | None, typer.Option(help="re-score this stored interview (a new evaluation)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the EvaluationReport")] = False,
    lang: Annotated[str, typer.Option(help="language of the printed report: en or zh")] = "en",
) -> None:
    """Score answers without a chat (--role and --answers), or re-score --conversation ID."""
    settings = load_settings()
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    if conversation is not None and (role or answers):
        raise typer.BadParameter("--conversation goes without --role and --answers")
    if conversation is None and (role is None or answers is None):
        raise typer.BadParameter("give --role and --answers, or --conversation")
    try:
        if conversation is not None:
            report = asyncio.run(rescore_conversation(settings, conversation))
        else:
            assert role is not None and answers is not None
            report = asyncio.run(score_answers(settings, role, answers))
    except LLMError as exc:  # before BotError: it is one
        # The detail is in the log; the person gets the kind of failure, never a secret.
        logging.getLogger(__name__).warning("evaluation failed: %s", exc)
        typer.echo(text("evaluate_failed", lang, kind=type(exc).__name__), err=True)
        raise typer.Exit(1) from None
    except BotError as exc:  # a bad file, role or conversation: one line, no traceback
        typer.echo(f"chatbot evaluate: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_data(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render(report, lang))
