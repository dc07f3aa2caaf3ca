"""Splitting, Markdown -> HTML, and callback data: pure functions."""

from __future__ import annotations

import pytest

from adapters.telegram.callbacks import MAX_CALLBACK_BYTES, CallbackCodec
from adapters.telegram.formatting import markdown_to_html, split_text, utf16_len
from tests.fakes.telegram.markup import parse_html


def test_short_text_is_one_part() -> None:
    assert split_text("  hello  ") == ["hello"]
    assert split_text("") == []


def test_split_prefers_paragraphs() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_split_falls_back_to_sentences_then_words_then_a_hard_cut() -> None:
    sentences = "This is a sentence. " * 300
    parts = split_text(sentences)
    assert len(parts) == 2 and parts[0].endswith("sentence.")
    words = "word " * 1000
    assert all(part.endswith("word") for part in split_text(words))
    assert [len(part) for part in split_text("x" * 5000)] == [4096, 904]


def test_split_counts_utf16_units_and_loses_nothing() -> None:
    text = ("😀 emoji count twice. " * 400).strip()
    parts = split_text(text, limit=4096)
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert " ".join(parts) == text


def test_chinese_text_splits_at_full_stops() -> None:
    text = "这是一个句子。" * 1000
    parts = split_text(text)
    assert all(part.endswith("。") and len(part) <= 4096 for part in parts)
    assert "".join(parts) == text


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("**bold** text", "<b>bold</b> text"),
        ("use `x<y` here", "use <code>x&lt;y</code> here"),
        ("```python\nprint('<hi>')\n```", "<pre>print('&lt;hi&gt;')</pre>"),
        ("**not closed and `lone", "**not closed and `lone"),
        ("`**not bold**`", "<code>**not bold**</code>"),
        ("<b>raw tags</b>", "&lt;b&gt;raw tags&lt;/b&gt;"),
    ],
)
def test_markdown_subset_to_html(markdown: str, expected: str) -> None:
    html = markdown_to_html(markdown)
    assert html == expected
    parse_html(html)  # Telegram's parser (as the fake implements it) accepts it


def test_callback_data_round_trips_within_64_bytes() -> None:
    codec = CallbackCodec()
    short = codec.encode("role", "backend")
    assert short == "role|backend" and codec.decode(short) == ("role", "backend")
    long_value = "職位" * 40
    token = codec.encode("role", long_value)
    assert len(token.encode()) <= MAX_CALLBACK_BYTES
    assert codec.decode(token) == ("role", long_value)
    assert CallbackCodec().decode(token) is None  # another process (after a restart)
    assert codec.decode("garbage") is None
