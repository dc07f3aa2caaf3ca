"""Writes examples/handbook/lost-device.pdf: a one-page PDF made by hand, no library needed,
so the sample handbook has a PDF whose text pypdf must extract. Run it again after editing
LINES; the output is deterministic."""

from __future__ import annotations

from pathlib import Path

TITLE = "Lost or stolen device"
LINES = [
    "Lost or stolen device",
    "",
    "If a company laptop, phone or badge is lost or stolen, report it within 1 hour.",
    "Email security@lumora.example and call the Security on-call line +351 21 555 0199.",
    "",
    "What happens next",
    "The Security team wipes the device remotely and opens an incident with a code",
    "of the form SEC-YYYY-NNNN, for example SEC-2027-0042. Keep this code: the police",
    "report and the insurance claim need it.",
    "",
    "Replacement",
    "A replacement laptop is ready at the IT desk within 2 working days.",
    "The first loss is free; from the second loss within 24 months, the employee pays",
    "a contribution of EUR 150.",
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build() -> bytes:
    content_lines = ["BT", "/F1 12 Tf", "16 TL", "72 760 Td"]
    for line in LINES:
        content_lines.append(f"({_escape(line)}) Tj T*")
    content_lines.append("ET")
    stream = "\n".join(content_lines).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title ({_escape(TITLE)}) /Producer (make_handbook_pdf.py) >>".encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "handbook" / "lost-device.pdf"
    target.write_bytes(build())
    print(f"wrote {target}")
