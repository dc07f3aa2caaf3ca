"""The model's narrow jobs, each one structured call at temperature 0:
- `check`: which parts an answer leaves out (decides a follow-up during the interview);
- `classify`: does the text address the grader, with the verbatim excerpt;
- `extract`: for each item of a question, the verbatim quote that covers it, or none;
- `locate`: for items claimed with words that are not the candidate's (a small model
  copies the reference point itself), the number of the answer's sentence that states
  each, or none.

Every call starts with the same role-level prefix (`role_prefix`: the evaluator's system
text, the rubric with its anchors, every question with its reference points), identical
byte for byte across questions, candidates and kinds of call, so that vLLM's prefix cache
serves it; the task and the candidate's text come last. The tasks' texts are
`evaluator_tasks` in prompts/interview/interview.yaml, so that the version stored with an
evaluation names them too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

from bot.flows.base import TurnContext
from bot.interview.kinds import Item, kind_of
from bot.lang import CJK
from bot.llm.types import ChatMessage, Structured
from bot.prompts import PromptLibrary, Question, Role

StarPart = Literal["situation", "task", "action", "result"]
QUOTE_CHARS = 160
EXCERPT_CHARS = 240
# Tokens a copied Chinese character may take (a Latin one takes at most one): up to three
# where the tokenizer knows few Chinese words and falls back to UTF-8 bytes (SmolLM2 cut a
# 183-character Chinese excerpt at 280 tokens, and the unfinished JSON failed validation).
CJK_TOKENS_PER_CHAR = 3


def _cut_to(limit: int) -> Callable[[object], object]:
    return lambda value: value[:limit] if isinstance(value, str) else value


# Strings the schema asks to keep short (maxLength, which guided decoding may or may not
# enforce) and that are cut to it when longer instead of failing validation: SmolLM2 failed
# 2 of 12 evaluations on over-long Chinese quotes. A cut quote is a prefix of what the model
# copied, so it is verified against the answer like any other.
Quote = Annotated[
    str,
    BeforeValidator(_cut_to(QUOTE_CHARS)),
    WithJsonSchema({"type": "string", "maxLength": QUOTE_CHARS}),
]
Excerpt = Annotated[
    str,
    BeforeValidator(_cut_to(EXCERPT_CHARS)),
    WithJsonSchema({"type": "string", "maxLength": EXCERPT_CHARS}),
]


class Completeness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    missing_star_parts: list[StarPart] = Field(default_factory=list, max_length=4)
    missing_reference_points: list[int] = Field(default_factory=list, max_length=20)


class GraderCheck(BaseModel):
    """Whether the text addresses the grader; the excerpt is required to make it stand."""

    model_config = ConfigDict(extra="forbid")

    excerpt: Excerpt  # first: the words, then the verdict
    addresses_grader: bool


class ItemCoverage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote: Quote  # evidence first, then the verdict
    covered: bool


class Extraction(BaseModel):
    """One `ItemCoverage` per item of the question, as required properties (built by
    `extraction_schema`), so the server's guided decoding makes the model answer each."""

    model_config = ConfigDict(extra="forbid")

    def coverage(self) -> dict[str, ItemCoverage]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class Location(BaseModel):
    """One sentence number per item (built by `location_schema`), 0 for none."""

    model_config = ConfigDict(extra="forbid")

    def located(self, sentences: int) -> dict[str, int]:
        """item key -> sentence number (1-based), for the numbers that name a sentence."""
        found = {name: getattr(self, name) for name in type(self).model_fields}
        return {key: n for key, n in found.items() if 1 <= n <= sentences}


@lru_cache(maxsize=256)
def location_schema(keys: tuple[str, ...], sentences: int) -> type[Location]:
    # The server's guided decoding can only write a number of a sentence there is.
    number = Annotated[int, WithJsonSchema({"type": "integer", "enum": list(range(sentences + 1))})]
    fields: dict[str, Any] = {key: (number, ...) for key in keys}
    model: type[Location] = create_model("Location", __base__=Location, __config__=None, **fields)
    return model


@lru_cache(maxsize=256)
def extraction_schema(keys: tuple[str, ...]) -> type[Extraction]:
    fields: dict[str, Any] = {key: (ItemCoverage, ...) for key in keys}
    model: type[Extraction] = create_model(
        "Extraction", __base__=Extraction, __config__=None, **fields
    )
    return model


def copy_tokens(chars: int, text: str) -> int:
    """The tokens `chars` characters copied from `text` may take: max_tokens for a call
    that copies them must hold that much, or the JSON is cut before it closes."""
    return chars * CJK_TOKENS_PER_CHAR if CJK.search(text) else chars


def role_prefix(prompts: PromptLibrary, role: Role) -> str:
    """The system text of every check and scoring call for `role`: no candidate, question
    or call-specific text in it, so it is the same for all of them."""
    lines = [prompts.interview.evaluator_system.rstrip(), "", f"Role: {role.title.en}"]
    for competency in role.competencies:
        anchors = competency.anchors
        lines += [
            f"Competency {competency.id}: {competency.name.en}",
            f"  anchor 1: {anchors.one}",
            f"  anchor 3: {anchors.three}",
            f"  anchor 5: {anchors.five}",
        ]
    for question in role.questions:
        lines.append(
            f"Question {question.id} ({question.kind}, competency {question.competency}): "
            f"{question.text.en}"
        )
        lines += [f"  p{n}. {point}" for n, point in enumerate(question.reference_points, 1)]
    return "\n".join(lines)


def _messages(ctx: TurnContext, role: Role, task: str, answer: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": role_prefix(ctx.prompts, role)},
        {
            "role": "user",
            "content": f"{task}\n<candidate_answer>\n{answer}\n</candidate_answer>",
        },
    ]


def check_messages(
    ctx: TurnContext, role: Role, question: Question, answer: str
) -> list[ChatMessage]:
    task = kind_of(question).check_task(ctx.prompts.interview.evaluator_tasks, question)
    return _messages(ctx, role, task, answer)


def classify_messages(
    ctx: TurnContext, role: Role, question: Question, answer: str
) -> list[ChatMessage]:
    task = ctx.prompts.interview.evaluator_tasks.grader_check.format(question=question.id)
    return _messages(ctx, role, task, answer)


def _listed(items: Sequence[Item]) -> str:
    return "\n".join(f"{item.key}: {item.label}" for item in items)


def extraction_messages(
    ctx: TurnContext, role: Role, question: Question, items: Sequence[Item], answer: str
) -> list[ChatMessage]:
    task = ctx.prompts.interview.evaluator_tasks.extraction.format(question=question.id)
    return _messages(ctx, role, f"{task}\n{_listed(items)}", answer)


def location_messages(
    ctx: TurnContext,
    role: Role,
    question: Question,
    items: Sequence[Item],
    sentences: Sequence[str],
) -> list[ChatMessage]:
    task = ctx.prompts.interview.evaluator_tasks.location.format(question=question.id)
    numbered = "\n".join(f"[{n}] {sentence}" for n, sentence in enumerate(sentences, 1))
    return _messages(ctx, role, f"{task}\n{_listed(items)}", numbered)


async def check(
    ctx: TurnContext, role: Role, question: Question, answer: str
) -> Structured[Completeness]:
    return await ctx.llm.structured(
        check_messages(ctx, role, question, answer),
        Completeness,
        temperature=0.0,
        max_tokens=200,
        session_id=ctx.session_id,
    )


async def classify(
    ctx: TurnContext, role: Role, question: Question, answer: str
) -> Structured[GraderCheck]:
    return await ctx.llm.structured(
        classify_messages(ctx, role, question, answer),
        GraderCheck,
        temperature=0.0,
        # Room for the excerpt at its longest, however the answer's script tokenizes.
        max_tokens=copy_tokens(EXCERPT_CHARS, answer) + 40,
        session_id=ctx.session_id,
    )


async def extract(
    ctx: TurnContext,
    role: Role,
    question: Question,
    items: Sequence[Item],
    answer: str,
    *,
    temperature: float,
) -> Structured[Extraction]:
    schema = extraction_schema(tuple(item.key for item in items))
    return await ctx.llm.structured(
        extraction_messages(ctx, role, question, items, answer),
        schema,
        temperature=temperature,
        max_tokens=40 + len(items) * (copy_tokens(QUOTE_CHARS, answer) + 30),
        session_id=ctx.session_id,
    )


async def locate(
    ctx: TurnContext,
    role: Role,
    question: Question,
    items: Sequence[Item],
    sentences: Sequence[str],
) -> Structured[Location]:
    """For items whose quote was not the candidate's words: which sentence states each. The
    model only names a number; the credited quote is that sentence, verbatim by
    construction, so copying a reference point's wording earns nothing."""
    schema = location_schema(tuple(item.key for item in items), len(sentences))
    return await ctx.llm.structured(
        location_messages(ctx, role, question, items, sentences),
        schema,
        temperature=0.0,
        max_tokens=20 + len(items) * 12,
        session_id=ctx.session_id,
    )
