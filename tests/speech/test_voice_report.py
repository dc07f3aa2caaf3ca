"""A voice answer is marked in the hiring report with the ASR model; a typed one is not."""

from __future__ import annotations

import json
from dataclasses import replace

from adapters.slack import report_blocks as rb
from tests.slack.test_hiring_blocks import report


def test_a_voice_answer_names_the_model_that_transcribed_it() -> None:
    base = report(competencies=1, questions_each=2)
    first, second = base.questions
    voiced = replace(base, questions=(replace(first, voice_model="whisper-base"), second))
    shown = json.dumps(rb.report_messages(voiced).report.blocks)
    assert shown.count("answered by voice, transcribed by whisper-base") == 1
    assert "answered by voice" not in json.dumps(rb.report_messages(base).report.blocks)
