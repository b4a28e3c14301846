"""Writing a benchmark's section into docs/PERFORMANCE.md, replacing that section's previous figures."""
from __future__ import annotations

from pathlib import Path

HEADER = "# Performance\n\nFigures are measured, never asserted by tests.\n\n"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def write_section(path: Path, marker: str, section: str, until: str | None = None) -> None:
    """Replace the text from `marker` up to the next `until` heading (or the next '## ') with `section`."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if marker in text:
        start = text.index(marker)
        end = text.find(until or "\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")
