"""Plain-text tables for the command-line tools (plan, status, summary): left-aligned, two spaces apart."""

from __future__ import annotations

from typing import Sequence


def format_table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """One line per row (the first row is the header), columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths))).rstrip() for row in rows]
