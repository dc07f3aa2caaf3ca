"""Prompt templates and role definitions: data files in `prompts/`, validated on load.

Every loaded file carries a version: the first 12 hex digits of the SHA-256 of its bytes,
stored with each evaluation and reply so an audit can tell which words produced them.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import PromptError

Lang = Literal["en", "zh"]
QuestionKind = Literal["technical", "behavioural", "situational"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class Anchors(Strict):
    """What a 1, a 3 and a 5 look like for one competency (behaviourally anchored)."""

    one: str = Field(alias="1", min_length=1)
    three: str = Field(alias="3", min_length=1)
    five: str = Field(alias="5", min_length=1)


class Competency(Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: Localized
    anchors: Anchors


class Question(Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    competency: str
    kind: QuestionKind
    text: Localized
    reference_points: list[str] = Field(min_length=1)  # hidden from the candidate


class Requirement(Strict):
    """A skill the role needs, judged against the résumé (never the interview answers)."""

    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    text: Localized
    # The question after whose answer the interviewer may ask about this requirement, with
    # a fixed template quoting the résumé's verified evidence for it (bot.interview.resume_probe).
    question: str | None = None


class Requirements(Strict):
    must_have: list[Requirement] = Field(default_factory=list)
    nice_to_have: list[Requirement] = Field(default_factory=list)

    def all(self) -> list[tuple[Requirement, bool]]:
        """Every requirement with whether it is a must-have, must-haves first."""
        return [(r, True) for r in self.must_have] + [(r, False) for r in self.nice_to_have]


class Role(Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: Localized
    summary: Localized
    competencies: list[Competency] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    follow_up_budget: int = Field(default=1, ge=0, le=3)
    time_budget_minutes: int | None = Field(default=None, gt=0)
    requirements: Requirements = Field(default_factory=Requirements)  # for résumé matching
    # At most this many résumé follow-ups per interview (each within its question's budget).
    resume_follow_ups: int = Field(default=1, ge=0, le=2)
    version: str = ""  # set by the loader from the file's hash

    @model_validator(mode="after")
    def _questions_name_competencies(self) -> Role:
        known = {c.id for c in self.competencies}
        for question in self.questions:
            if question.competency not in known:
                raise ValueError(
                    f"question {question.id!r} names unknown competency {question.competency!r}"
                )
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique")
        for requirement, _ in self.requirements.all():
            if requirement.question is not None and requirement.question not in ids:
                raise ValueError(
                    f"requirement {requirement.id!r} names unknown question "
                    f"{requirement.question!r}"
                )
        return self

    def competency(self, competency_id: str) -> Competency:
        return next(c for c in self.competencies if c.id == competency_id)


class SupportPrompt(Strict):
    system: str = Field(min_length=1)  # may use {company}
    greeting: Localized
    version: str = ""


class EvaluatorTasks(Strict):
    """The task line of each check and scoring call; `{question}` is the question's id."""

    check_reference_points: str = Field(min_length=1)
    check_star: str = Field(min_length=1)
    grader_check: str = Field(min_length=1)
    extraction: str = Field(min_length=1)
    location: str = Field(min_length=1)


class InterviewPrompt(Strict):
    interviewer_system: str = Field(min_length=1)
    acknowledge_instruction: Localized
    evaluator_system: str = Field(min_length=1)
    evaluator_tasks: EvaluatorTasks
    version: str = ""


ModelT = TypeVar("ModelT", bound=Strict)


def _version(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:12]


def _load(path: Path, model: type[ModelT]) -> ModelT:
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path}: cannot read YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate({**data, "version": _version(raw)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PromptError(f"{path}: {where}: {first['msg']}") from None


class PromptLibrary:
    """Everything under `prompts/`, loaded and validated once at start-up."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.support = _load(root / "support" / "support.yaml", SupportPrompt)
        self.interview = _load(root / "interview" / "interview.yaml", InterviewPrompt)
        self.roles: dict[str, Role] = {}
        for path in sorted((root / "roles").glob("*.yaml")):
            role = _load(path, Role)
            if role.id != path.stem:
                raise PromptError(f"{path}: id {role.id!r} must match the file name")
            self.roles[role.id] = role
        if not self.roles:
            raise PromptError(f"{root / 'roles'}: no role files")

    @cached_property
    def version(self) -> str:
        """One hash over every prompt file: changes when any of them does."""
        parts = [self.support.version, self.interview.version]
        parts += [f"{rid}:{role.version}" for rid, role in sorted(self.roles.items())]
        return _version("|".join(parts).encode())
