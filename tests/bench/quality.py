"""Interview quality: simulated strong, weak and manipulative candidates through the real flow.

For each role x language x answer set x run, one whole interview goes through the real
engine, store and LLM client against any OpenAI-compatible server. The figures say whether
the scores can be trusted on that server: does the strong candidate outscore the weak one,
is manipulation flagged without gaining anything, and how stable are repeated runs. Against
the tiny CPU model only the mechanics mean anything; point BOT_LLM_BASE_URL at the model
you will use in production before trusting its scores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from bot.app import build_llm
from bot.config import Settings
from bot.domain import InputKind, Platform, UserRef
from bot.engine import EngineOptions
from bot.interview.report import EvaluationReport
from bot.prompts import PromptLibrary
from tests.bench.quality_report import SETS, Interview, format_group, summarise
from tests.harness import PROMPTS, Harness, harness

ANSWERS = Path(__file__).with_name("quality_answers.yaml")


class LLMServerUnreachable(RuntimeError):
    """The OpenAI-compatible server did not answer /v1/models."""


# -- answer sets --------------------------------------------------------------------------


# YAML folds a long answer's lines with spaces; Chinese is written without them.
_FOLDED_CJK = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef])")


def load_answers(path: Path = ANSWERS) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    for questions in data["roles"].values():
        for by_lang in questions.values():
            zh = by_lang.get("zh", {})
            for name, text in zh.items():
                zh[name] = _FOLDED_CJK.sub("", text)
    return data


def candidate(
    answers: dict[str, Any], role: str, question_ids: Sequence[str], lang: str, answer_set: str
) -> list[tuple[str, str]]:
    """(answer, follow-up reply) per question, in the role's order."""
    base = "strong" if answer_set == "strong" else "weak"
    turns = []
    injections = answers["injections"][lang]
    for position, question_id in enumerate(question_ids):
        entry = answers["roles"][role][question_id][lang]
        text = entry[base]
        if answer_set == "manipulative" and position in answers["inject_into"]:
            nth = answers["inject_into"].index(position)
            text = f"{text} {injections[nth % len(injections)]}"
        turns.append((text, entry[f"{base}_more"]))
    return turns


# -- running interviews -------------------------------------------------------------------


@asynccontextmanager
async def quality_bot(settings: Settings, samples: int) -> AsyncIterator[Harness]:
    """The test harness's engine, but with the LLM client built from Settings, so that the
    model name, API key and timeouts of a company's own server apply."""
    llm = build_llm(settings)
    try:
        client_log = logging.getLogger("bot.llm.client")
        level = client_log.level
        client_log.setLevel(logging.ERROR)  # the one-line message below says it all
        try:
            reachable = await llm.ping()
        finally:
            client_log.setLevel(level)
        if not reachable:
            raise LLMServerUnreachable(
                f"no OpenAI-compatible server answers at {settings.llm_base_url} "
                "(set BOT_LLM_BASE_URL to a running vLLM or other server)"
            )
        with tempfile.TemporaryDirectory(prefix="bot-quality-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'quality.db'}"
            options = EngineOptions(evaluation_samples=samples, retry_interval_s=3600)
            async with harness(settings.llm_base_url, url, options=options, llm=llm) as bot:
                yield bot
    finally:
        await llm.close()


async def run_interview(
    base: Harness, result: Interview, turns: Sequence[tuple[str, str]]
) -> Interview:
    started = time.perf_counter()
    user_id = f"{result.role}-{result.lang}-{result.answer_set}-{result.run}"
    bot = replace(base, user=UserRef(Platform.CONSOLE, user_id, "Candidate"))
    params = {"role": result.role, "lang": result.lang}
    receipt = await bot.send(kind=InputKind.START, flow="interview", params=params)
    await bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    conversation_id = receipt.conversation_id
    assert conversation_id is not None

    async def answer(text: str) -> dict[str, Any]:
        await bot.send(text, flow="interview")
        state: dict[str, Any] = (await bot.store.get_conversation(conversation_id)).state
        return state

    for index, (text, more) in enumerate(turns):
        state = await answer(text)
        if state.get("awaiting_follow_up"):
            result.follow_ups += 1
            state = await answer(more)
        if state.get("stage") == "asking" and state.get("question_index") != index + 1:
            break  # the turn did not go through (the server failed): nothing more to learn
    evaluations = await bot.store.evaluations_for(conversation_id)
    if evaluations:
        last = evaluations[-1]
        result.status = "ok" if last.status == "ok" else "failed"
        if last.status == "ok":
            report = EvaluationReport.from_stored(last.data)
            result.average = report.average_score
            result.competencies = {c.id: c.score or 0.0 for c in report.competencies}
            result.recommendation = report.recommendation
            result.flags = list(report.flags)
            result.manipulation_flagged = report.possible_manipulation
    result.seconds = round(time.perf_counter() - started, 2)
    return result


async def run_quality(
    base_url: str,
    model: str | None,
    runs: int,
    roles: Sequence[str],
    langs: Sequence[str],
    samples: int,
    *,
    concurrency: int = 4,
    answers_path: Path = ANSWERS,
) -> dict[str, Any]:
    """Run every simulated interview, print one table per role and language, return the
    figures (and every interview) as a dict."""
    settings = Settings(llm_base_url=base_url, llm_model=model)
    answers = load_answers(answers_path)
    prompts = PromptLibrary(PROMPTS)
    limit = asyncio.Semaphore(max(1, concurrency))
    started = time.perf_counter()
    async with quality_bot(settings, samples) as bot:
        served = await bot.llm.model_name()

        async def one(role: str, lang: str, answer_set: str, run: int) -> Interview:
            ids = [q.id for q in prompts.roles[role].questions]
            turns = candidate(answers, role, ids, lang, answer_set)
            async with limit:
                return await run_interview(bot, Interview(role, lang, answer_set, run), turns)

        jobs = [
            one(role, lang, answer_set, run)
            for role in roles
            for lang in langs
            for run in range(runs)
            for answer_set in SETS
        ]
        interviews = await asyncio.gather(*jobs)
    groups: dict[str, Any] = {}
    for role in roles:
        for lang in langs:
            group = [i for i in interviews if i.role == role and i.lang == lang]
            groups[f"{role}/{lang}"] = summarise(group, runs)
            title = (
                f"quality: {role} / {lang}, model {served} at {base_url}, "
                f"{runs} runs, {samples} sample(s)"
            )
            print(format_group(title, groups[f"{role}/{lang}"]))
    elapsed = time.perf_counter() - started
    print(f"{len(interviews)} interviews in {elapsed:.0f} s")
    return {
        "base_url": base_url,
        "model": served,
        "runs": runs,
        "samples": samples,
        "seconds": round(elapsed, 1),
        "groups": groups,
        "interviews": [asdict(i) for i in interviews],
    }


# -- command line (python -m tests.bench quality) -----------------------------------------


def add_quality_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "quality", "mode quality: simulated candidates against BOT_LLM_BASE_URL / BOT_LLM_MODEL"
    )
    group.add_argument("--runs", type=int, default=3, help="repeats of every interview")
    group.add_argument("--roles", nargs="+", default=None, help="role ids (default: all)")
    group.add_argument("--langs", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    group.add_argument("--samples", type=int, default=1, help="evaluation samples (median)")
    group.add_argument("--concurrency", type=int, default=4, help="interviews at once")
    group.add_argument("--json", type=Path, default=None, help="also write the figures here")


def quality_mode(args: argparse.Namespace) -> None:
    """Run the quality mode from parsed arguments; exits 2 when the server is unreachable."""
    settings = Settings()  # BOT_LLM_BASE_URL, BOT_LLM_MODEL (and .env) or their defaults
    roles = args.roles or list(PromptLibrary(PROMPTS).roles)
    try:
        figures = asyncio.run(
            run_quality(
                settings.llm_base_url,
                settings.llm_model,
                args.runs,
                roles,
                args.langs,
                args.samples,
                concurrency=args.concurrency,
            )
        )
    except LLMServerUnreachable as exc:
        print(f"quality: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
