"""`make quality`: known strong, weak and manipulative answers through the scoring API.

For each role x language x answer set x run, one evaluation of that candidate's answers by
`bot.interview.scoring.evaluate` (what `chatbot evaluate` runs), read back as the stored
EvaluationReport, against the OpenAI-compatible server at BOT_LLM_BASE_URL. The figures (tests/bench/quality_evidence_figures)
say whether the scores can be trusted on that server; vLLM's own /metrics counters give the
prefix-cache hit ratio over the whole run.

    python -m tests.bench.quality_evidence [--runs 3] [--roles R ...] [--langs en zh]
        [--questions ID ...] [--concurrency 2] [--json FILE]
        [--local-model smollm2|qwen2.5-coder-1.5b]   # serve it here for the run, then stop it
        [--budget-minutes M]   # report what finished by then
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.app import build_llm
from bot.config import Settings
from bot.domain import Platform, UserRef
from bot.errors import LLMError
from bot.flows.base import TurnContext
from bot.interview import scoring
from bot.interview.report import EvaluationReport
from bot.interview.state import Answer
from bot.llm.client import OpenAICompatibleLLM
from bot.localmodel.catalog import MODELS, find_model
from bot.prompts import PromptLibrary
from tests.bench.quality_evidence_figures import SETS, Evaluated, figures, format_figures

ANSWERS = Path(__file__).with_name("quality_evidence_answers.yaml")
REPO_ROOT = Path(__file__).resolve().parents[2]
# YAML folds a long answer's lines with spaces; Chinese is written without them.
_FOLDED_CJK = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef])")


def load_answers(path: Path = ANSWERS) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """role -> question id -> language -> answer set -> text."""
    with path.open(encoding="utf-8") as handle:
        roles: dict[str, Any] = yaml.safe_load(handle)["roles"]
    for questions in roles.values():
        for by_lang in questions.values():
            for name, text in by_lang.get("zh", {}).items():
                by_lang["zh"][name] = _FOLDED_CJK.sub("", text)
    return roles


def prefix_cache_counters(root_url: str) -> tuple[float, float] | None:
    """(hits, queries) summed over vLLM's prefix-cache counters; None without them."""
    try:
        with urllib.request.urlopen(f"{root_url}/metrics", timeout=5) as response:
            body = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    totals = {"hits": 0.0, "queries": 0.0}
    found = False
    for line in body.splitlines():
        for name in totals:
            if line.startswith(f"vllm:prefix_cache_{name}_total"):
                totals[name] += float(line.rsplit(" ", 1)[1])
                found = True
    return (totals["hits"], totals["queries"]) if found else None


async def evaluate(
    scorer: Scorer, role: str, answers: dict[str, str]
) -> tuple[EvaluationReport | None, str]:
    """One candidate's answers through the scoring API (what `chatbot evaluate` runs);
    (report, error): a failed evaluation is a result to count, not a crash."""
    ctx = TurnContext(
        conversation_id=0,
        llm=scorer.llm,
        prompts=scorer.prompts,
        history=(),
        user=UserRef(Platform.CONSOLE, "quality", "Candidate"),
        max_tokens=scorer.settings.llm_max_tokens,
        evaluation_samples=scorer.settings.evaluation_samples,
    )
    given = [Answer(question_id=qid, text=text) for qid, text in answers.items()]
    try:
        scored = await scoring.evaluate(
            ctx,
            scorer.prompts.roles[role],
            given,
            samples=scorer.settings.evaluation_samples,
        )
    except LLMError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    # the stored form, read back as every consumer reads it
    return EvaluationReport.from_stored(scored.report.to_data()), ""


@dataclass
class Scorer:
    settings: Settings
    llm: OpenAICompatibleLLM
    prompts: PromptLibrary


async def run_quality(
    settings: Settings,
    roles: Sequence[str],
    langs: Sequence[str],
    runs: int,
    *,
    questions: Sequence[str] = (),
    concurrency: int = 2,
    answers_path: Path = ANSWERS,
    budget_s: float | None = None,
) -> tuple[list[Evaluated], float | None]:
    """Every evaluation, and the prefix-cache hit ratio over them (None off vLLM)."""
    answers = load_answers(answers_path)
    limit = asyncio.Semaphore(max(1, concurrency))
    root = settings.llm_base_url.rstrip("/").removesuffix("/v1")
    before = prefix_cache_counters(root)
    scorer = Scorer(settings, build_llm(settings), PromptLibrary(settings.prompts_dir))
    try:

        async def one(role: str, lang: str, answer_set: str, run: int) -> Evaluated:
            texts = {
                qid: by_lang[lang][answer_set]
                for qid, by_lang in answers[role].items()
                if not questions or qid in questions
            }
            async with limit:
                started = time.perf_counter()
                report, error = await evaluate(scorer, role, texts)
                seconds = time.perf_counter() - started
            status = "ok" if report is not None else "FAILED"
            print(
                f"  {role}/{lang}/{answer_set}#{run}: {status} in {seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            return Evaluated(role, lang, answer_set, run, texts, report, seconds, error)

        # run by run, so that a budget cut leaves whole runs rather than scattered pieces
        tasks = [
            asyncio.create_task(one(role, lang, answer_set, run))
            for run in range(runs)
            for role in roles
            for lang in langs
            for answer_set in SETS
        ]
        done, pending = await asyncio.wait(tasks, timeout=budget_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            print(
                f"quality: budget of {budget_s or 0:.0f} s spent: {len(done)} of {len(tasks)} "
                "evaluations finished; the figures cover those only",
                file=sys.stderr,
            )
        results = [task.result() for task in tasks if task in done]
    finally:
        await scorer.llm.close()
    after = prefix_cache_counters(root)
    ratio = None
    if before is not None and after is not None and after[1] > before[1]:
        ratio = (after[0] - before[0]) / (after[1] - before[1])
    return list(results), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.quality_evidence")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--roles", nargs="+", default=None, help="default: every role")
    parser.add_argument("--langs", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--questions", nargs="+", default=[], help="a subset of question ids")
    parser.add_argument("--concurrency", type=int, default=2, help="evaluations at once")
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="stop after this long and report the evaluations finished by then",
    )
    parser.add_argument(
        "--local-model",
        choices=sorted(MODELS),
        default=None,
        help="serve this local model with vLLM for the run (else BOT_LLM_BASE_URL)",
    )
    args = parser.parse_args(argv)
    # `timeout` and CI stop with SIGTERM: unwind like Ctrl-C, so a local vLLM is stopped too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with ExitStack() as stack:
        settings = Settings()
        if args.local_model is not None:
            from bot.localmodel.launch import local_server
            from tests.vllm_server import free_port

            port = free_port()
            log = Path(tempfile.gettempdir()) / f"quality-vllm-{args.local_model}-{port}.log"
            url = stack.enter_context(
                # a busy machine can take many minutes to start vLLM
                local_server(
                    "127.0.0.1", port, log_path=log, model=args.local_model, start_timeout_s=1200
                )
            )
            settings = settings.model_copy(
                update={"llm_base_url": url, "llm_model": find_model(args.local_model).dir_name}
            )
        return report_quality(settings, args)


def report_quality(settings: Settings, args: argparse.Namespace) -> int:
    roles = args.roles or sorted(load_answers())
    started = time.perf_counter()
    results, ratio = asyncio.run(
        run_quality(
            settings,
            roles,
            args.langs,
            args.runs,
            questions=args.questions,
            concurrency=args.concurrency,
            budget_s=args.budget_minutes * 60 if args.budget_minutes else None,
        )
    )
    elapsed = time.perf_counter() - started
    for result in results:
        if result.error:
            print(
                f"failed: {result.role}/{result.lang}/{result.answer_set}#{result.run}: "
                f"{result.error}",
                file=sys.stderr,
            )
    overall = figures(results)
    title = (
        f"quality at {settings.llm_base_url} ({settings.llm_model or 'first served model'}): "
        f"{', '.join(roles)} x {'/'.join(args.langs)} x {args.runs} run(s)"
        + (f", questions {' '.join(args.questions)}" if args.questions else "")
    )
    print(format_figures(title, overall, ratio))
    for role in roles:
        for lang in args.langs:
            part = [r for r in results if r.role == role and r.lang == lang]
            print(format_figures(f"{role} / {lang}", figures(part), None))
    print(f"{len(results)} evaluations in {elapsed / 60:.1f} min")
    if args.json is not None:
        dump = {
            "figures": overall,
            "prefix_cache_hit_ratio": ratio,
            "results": [
                {
                    "role": r.role,
                    "lang": r.lang,
                    "answer_set": r.answer_set,
                    "run": r.run,
                    "seconds": round(r.seconds, 2),
                    "error": r.error,
                    "report": r.report.to_data() if r.report is not None else None,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(dump, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if overall["valid_evaluations"] else 1


if __name__ == "__main__":
    sys.exit(main())
