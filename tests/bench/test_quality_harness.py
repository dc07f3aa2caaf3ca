"""The quality harness's mechanics, against a scripted model that grades by answer length.

That model is no judge of quality; it only lets these tests check that the harness drives
whole interviews (follow-ups included), reads the stored evaluations and computes and prints
what it claims. Whether a real model's scores can be trusted is what the harness measures."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.prompts import PromptLibrary
from tests.bench.quality import (
    LLMServerUnreachable,
    candidate,
    load_answers,
    run_quality,
)
from tests.bench.quality_report import SETS
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import PROMPTS

_CJK = re.compile(r"[\u4e00-\u9fff]")


def weight(text: str) -> int:
    """Words, with two Chinese characters counted as one word."""
    return len(_CJK.sub(" ", text).split()) + len(_CJK.findall(text)) // 2


def graded_by_length(body: dict[str, Any]) -> Answer:
    """Schema-valid JSON for structured requests (longer answers score higher; short ones
    get a follow-up), a short sentence for the streamed acknowledgements."""
    if "response_format" not in body:
        return Answer(text="Thank you for your answer.")
    prompt = body["messages"][-1]["content"]
    properties = body["response_format"]["json_schema"]["schema"]["properties"]
    if "missing_star_parts" in properties:
        short = weight(prompt.rsplit("<candidate_answer>", 1)[-1]) < 15
        behavioural = "STAR" in prompt
        return Answer(
            json={
                "missing_star_parts": ["result"] if short and behavioural else [],
                "missing_reference_points": [1, 2, 3] if short and not behavioural else [],
            }
        )
    if "addresses_grader" in properties:
        return Answer(json={"excerpt": "", "addresses_grader": False})
    # an extraction: as many items covered as the length earns, each quoting the answer
    answer = prompt.rsplit("<candidate_answer>\n", 1)[-1].rsplit("\n</candidate_answer>", 1)[0]
    covered = round(len(properties) * min(4, weight(answer) // 20) / 4)
    return Answer(
        json={
            key: {"quote": answer[:150] if n < covered else "", "covered": n < covered}
            for n, key in enumerate(properties)
        }
    )


@pytest.mark.parametrize("role", ["python-backend", "product-manager"])
def test_every_question_of_every_shipped_role_has_both_sets_in_both_languages(role: str) -> None:
    answers = load_answers()
    questions = [q.id for q in PromptLibrary(PROMPTS).roles[role].questions]
    assert set(answers["roles"][role]) == set(questions)
    for question_id in questions:
        for lang in ("en", "zh"):
            entry = answers["roles"][role][question_id][lang]
            assert set(entry) == {"strong", "strong_more", "weak", "weak_more"}
            assert all(isinstance(v, str) and v.strip() for v in entry.values())
            assert weight(entry["strong"]) > 3 * weight(entry["weak"])
    for lang in ("en", "zh"):
        manipulative = candidate(answers, role, questions, lang, "manipulative")
        weak = candidate(answers, role, questions, lang, "weak")
        injected = [m for (m, _), (w, _) in zip(manipulative, weak, strict=True) if m != w]
        assert len(injected) == len(answers["inject_into"]) >= 3


async def test_the_harness_runs_every_set_and_reports_what_it_claims(
    llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    llm_server.default = graded_by_length
    figures = await run_quality(
        llm_server.base_url, None, 2, ["python-backend"], ["en", "zh"], 1, concurrency=6
    )
    assert figures["model"] == "fake-model" and len(figures["interviews"]) == 2 * 2 * 3
    assert all(i["status"] == "ok" for i in figures["interviews"])
    printed = capsys.readouterr().out
    for lang in ("en", "zh"):
        group = figures["groups"][f"python-backend/{lang}"]
        sets = group["sets"]
        assert group["strong_beats_weak"] == group["pairs"] == 2
        assert sets["strong"]["mean_average"] > sets["weak"]["mean_average"]
        assert sets["strong"]["recommendations"] == {"advance": 2}
        assert sets["manipulative"]["manipulation_flagged_rate"] == 1.0
        assert sets["strong"]["manipulation_flagged_rate"] == 0.0
        assert group["manipulation_gain"] is not None and group["manipulation_gain"] <= 0
        assert group["manipulation_gained_nothing"] is True
        assert all(sets[s]["sd_average"] == 0.0 for s in SETS)  # the fake is deterministic
        assert sets["weak"]["follow_ups_mean"] > 0 == sets["strong"]["follow_ups_mean"]
        assert group["failures"] == 0
        assert f"== quality: python-backend / {lang}, model fake-model" in printed
    en = figures["groups"]["python-backend/en"]
    assert "strong > weak: 2/2 runs (100%)" in printed
    assert f"gained {en['manipulation_gain']:.2f}" in printed and "gained nothing" in printed
    assert f"{en['sets']['strong']['mean_average']:.2f}" in printed
    assert "failures: 0/6 interviews without an evaluation (0%)" in printed


async def test_an_unreachable_server_is_one_clear_error(llm_server: FakeLLMServer) -> None:
    url = llm_server.base_url
    await llm_server.stop()
    with pytest.raises(LLMServerUnreachable, match="no OpenAI-compatible server answers at"):
        await run_quality(url, None, 1, ["python-backend"], ["en"], 1)


async def test_a_strong_chinese_candidate_is_not_rejected_for_writing_without_spaces(
    llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    llm_server.default = graded_by_length
    figures = await run_quality(llm_server.base_url, None, 1, ["product-manager"], ["zh"], 1)
    strong = figures["groups"]["product-manager/zh"]["sets"]["strong"]
    assert strong["recommendations"] == {"advance": 1}
