"""Indexing is incremental by content hash, on SQLite and PostgreSQL: unchanged files are
skipped, changed ones re-chunked, removed ones dropped; chunks keep where they came from."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bot.knowledge.indexer import index_paths
from bot.knowledge.retrieval import HybridRetriever
from tests.knowledge.fake_embeddings import FakeEmbeddingsServer, fake_vector

HANDBOOK = Path(__file__).resolve().parents[2] / "examples" / "handbook"

LISBON = """# Annual leave: Lisbon

## Entitlement

Lisbon employees have 25 working days of paid annual leave.

## Carry-over

Up to 5 days may be carried over until 31 March.
"""
SHENZHEN = "# 深圳年假\n\n## 天数\n\n深圳员工每年有 15 天年假，最多 20 天。\n"
VPN = """<html><head><title>VPN</title></head><body><nav>menu</nav>
<h1>VPN setup</h1><h2>Errors</h2><p>Error NG-417: renew the device certificate.</p>
</body></html>"""


def write_handbook(folder: Path) -> Path:
    folder.mkdir()
    (folder / "leave-lisbon.md").write_text(LISBON)
    (folder / "leave-shenzhen.md").write_text(SHENZHEN)
    (folder / "vpn.html").write_text(VPN)
    shutil.copy(HANDBOOK / "lost-device.pdf", folder / "lost-device.pdf")
    (folder / "notes.bin").write_bytes(b"\x00\x01 not a document format")
    (folder / ".hidden.md").write_text("# Hidden\n\nnever indexed")
    return folder


async def test_reindexing_skips_unchanged_rechunks_changed_and_drops_removed(
    kb: HybridRetriever, tmp_path: Path, embeddings: FakeEmbeddingsServer
) -> None:
    folder = write_handbook(tmp_path / "handbook")

    first = await index_paths(kb.store, kb.embedder, [folder])
    assert (first.added, first.changed, first.unchanged, first.removed) == (4, 0, 0, 0)
    assert first.chunks >= 5 and not first.failed
    embedded = len(embeddings.requests)

    again = await index_paths(kb.store, kb.embedder, [folder])
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 4, 0)
    assert again.chunks == 0 and len(embeddings.requests) == embedded  # nothing re-embedded

    (folder / "leave-lisbon.md").write_text(LISBON.replace("25 working days", "26 working days"))
    (folder / "vpn.html").unlink()
    changed = await index_paths(kb.store, kb.embedder, [folder])
    assert (changed.added, changed.changed, changed.unchanged, changed.removed) == (0, 1, 2, 1)

    documents = await kb.store.documents()
    assert sorted(Path(source).name for source in documents) == [
        "leave-lisbon.md",
        "leave-shenzhen.md",
        "lost-device.pdf",
    ]
    hits = await kb.search("How many days of annual leave in Lisbon?", 5)
    texts = " ".join(hit.text for hit in hits)
    assert "26 working days" in texts and "25 working days" not in texts
    assert not any("NG-417" in hit.text for hit in hits)


async def test_chunks_keep_title_heading_source_and_language(
    kb: HybridRetriever, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "handbook")
    await index_paths(kb.store, kb.embedder, [folder])

    hits = await kb.search("VPN error NG-417", 3)
    assert hits[0].title == "VPN setup" and hits[0].heading == "Errors"
    assert hits[0].source == (folder / "vpn.html").resolve().as_posix()
    assert "menu" not in hits[0].text  # navigation is not content

    carry = next(h for h in await kb.search("carried over until 31 March", 5) if h.heading)
    assert (carry.title, carry.heading, carry.lang) == ("Annual leave: Lisbon", "Carry-over", "en")

    zh = next(h for h in await kb.search("深圳员工每年有多少天年假 15", 5) if h.lang == "zh")
    assert (zh.title, zh.heading) == ("深圳年假", "天数")

    pdf = next(
        h for h in await kb.search("SEC-2027-0042 incident code", 5) if h.source.endswith(".pdf")
    )
    assert pdf.title == "Lost or stolen device" and "SEC-2027-0042" in pdf.text


async def test_an_unreadable_file_is_reported_and_keeps_its_previous_version(
    kb: HybridRetriever, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "handbook")
    await index_paths(kb.store, kb.embedder, [folder])
    (folder / "lost-device.pdf").write_bytes(b"%PDF-1.4 truncated garbage")

    report = await index_paths(kb.store, kb.embedder, [folder])

    assert [Path(source).name for source in report.failed] == ["lost-device.pdf"]
    hits = await kb.search("SEC-2027-0042", 5)
    assert any("SEC-2027-0042" in hit.text for hit in hits)  # the old version still answers


async def test_indexing_one_folder_does_not_drop_another(
    kb: HybridRetriever, tmp_path: Path
) -> None:
    first = write_handbook(tmp_path / "first")
    second = tmp_path / "second"
    second.mkdir()
    (second / "printing.md").write_text("# Printing\n\nColour printing needs item PR-02.\n")
    await index_paths(kb.store, kb.embedder, [first])

    report = await index_paths(kb.store, kb.embedder, [second])

    assert (report.added, report.removed) == (1, 0)
    assert len(await kb.store.documents()) == 5


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Parental leave", level=1)
    document.add_heading("Lisbon", level=2)
    document.add_paragraph("Parents in Lisbon get 20 weeks of paid leave, code PL-2027-LX.")
    document.add_heading("Shenzhen", level=2)
    document.add_paragraph("Parents in Shenzhen get 158 days of maternity leave.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Request form", "HR-PL-9"
    document.save(str(path))


async def test_a_word_document_keeps_its_title_headings_and_tables(
    kb: HybridRetriever, tmp_path: Path
) -> None:
    folder = tmp_path / "handbook"
    folder.mkdir()
    write_docx(folder / "parental-leave.docx")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")

    report = await index_paths(kb.store, kb.embedder, [folder])
    assert report.added == 1 and [Path(s).name for s in report.failed] == ["broken.docx"]
    lisbon = next(h for h in await kb.search("PL-2027-LX weeks Lisbon", 5) if "PL-2027" in h.text)
    assert (lisbon.title, lisbon.heading) == ("Parental leave", "Lisbon")
    assert lisbon.source.endswith("parental-leave.docx")
    form = " ".join(h.text for h in await kb.search("request form HR-PL-9", 5))
    assert "HR-PL-9" in form


async def test_passages_of_many_documents_share_an_embedding_call_and_keep_their_vectors(
    kb: HybridRetriever, tmp_path: Path, embeddings: FakeEmbeddingsServer
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(30):
        (folder / f"policy-{n:02d}.md").write_text(
            f"# Policy {n}\n\n## Scope\n\nRule {n} covers office {n}.\n\n"
            f"## Contact\n\nWrite to desk-{n}@example.com.\n"
        )
    (folder / "empty.md").write_text("")

    report = await index_paths(kb.store, kb.embedder, [folder])

    assert report.added == 31 and report.chunks == 60 and not report.failed
    # 60 passages from 30 documents: one request of 64 at most, not one per document
    assert len(embeddings.requests) == 1
    stored = await kb.store.chunks([cid for cid, _, _ in await kb.store.vectors()])
    vectors = {cid: blob for cid, blob, _ in await kb.store.vectors()}
    assert len(stored) == 60
    for cid, chunk in stored.items():
        expected = np.asarray(fake_vector(f"{chunk.title} > {chunk.heading}\n{chunk.text}"))
        expected /= np.linalg.norm(expected)
        got = np.frombuffer(vectors[cid], dtype=np.float32)
        assert np.allclose(got, expected, atol=1e-6), (chunk.source, chunk.heading)


class FailingEmbedder:
    """Answers its first `good` calls, then fails; counts the calls still running."""

    name = "failing"

    def __init__(self, good: int) -> None:
        self.good, self.calls, self.running = good, 0, 0

    async def passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        call = self.calls
        self.running += 1
        try:
            await asyncio.sleep(0.01)
            if call > self.good:
                raise RuntimeError("embeddings server down")
            return np.ones((len(texts), 4), dtype=np.float32) / 2
        finally:
            self.running -= 1

    async def query(self, text: str) -> npt.NDArray[np.float32]:
        return np.ones(4, dtype=np.float32) / 2

    async def close(self) -> None:
        return None


async def test_an_embedding_failure_stops_indexing_with_the_groups_before_it_stored(
    kb: HybridRetriever, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(100):  # two passages each: 64 a group, so four groups
        (folder / f"p-{n:03d}.md").write_text(
            f"# P {n}\n\n## A\n\nRule {n}.\n\n## B\n\nDesk {n}.\n"
        )
    embedder = FailingEmbedder(good=1)

    with pytest.raises(RuntimeError, match="down"):
        await index_paths(kb.store, embedder, [folder])

    assert embedder.running == 0  # nothing left embedding behind the failure
    stored = await kb.store.documents()
    assert len(stored) == 32  # the first group's documents, each whole
    assert sorted(Path(s).name for s in stored)[-1] == "p-031.md"
    again = await index_paths(kb.store, FailingEmbedder(good=99), [folder])
    assert (again.added, again.unchanged) == (68, 32)
