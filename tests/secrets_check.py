"""What must never reach a student or a reader: the lines of solutions and hidden tests."""

from __future__ import annotations

import html
import json
import re

from grader import notebooks
from grader.course import SOLUTIONS_DIR, assignment_names

_REGIONS = (
    (notebooks.BEGIN_SOLUTION, notebooks.END_SOLUTION),
    (notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN),
)


def secret_lines(min_length: int = 35) -> set[str]:
    """Distinctive lines inside solution and hidden-test regions of every source notebook.

    Short or generic lines (``return out``) and imports could occur anywhere, so only other
    lines of at least ``min_length`` characters count, and lines that the notebook also shows to students
    (in its text or in code outside the regions) are public, not secret.
    """
    sources = [notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb") for name in assignment_names()]
    public = "\n".join(notebooks.strip_hidden_tests(notebooks.solution_stub(c.source))
                       for nb in sources for c in nb.cells)
    lines = set()
    for nb in sources:
        for cell in nb.cells:
            for begin, end in _REGIONS:
                pattern = re.escape(begin) + r"(.*?)" + re.escape(end)
                for region in re.findall(pattern, cell.source, flags=re.DOTALL):
                    for line in region.splitlines():
                        line = line.strip()
                        if (len(line) >= min_length and not line.startswith(("#", "import ", "from "))
                                and line not in public):
                            lines.add(line)
    return lines


def leaks(text: str, secrets: set[str]) -> list[str]:
    """The secret lines and markers found in ``text``.

    HTML entities are decoded first, and a notebook's JSON is read as the text of its cells and
    outputs: in raw JSON a public line ``f(x), "message"`` reads ``f(x), \\"message"`` and would
    look like a secret line that ends in a backslash.
    """
    text = _readable(html.unescape(text))
    found = [line for line in secrets if line in text]
    return found + notebooks.secret_markers_in(text)


def _readable(text: str) -> str:
    if not text.lstrip().startswith("{"):
        return text
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return text
    parts = []
    for cell in nb["cells"]:
        parts.append(_joined(cell.get("source", "")))
        for output in cell.get("outputs", []) or []:
            parts.append(_joined(output.get("text", "")))
            parts.extend(_joined(v) for v in (output.get("data") or {}).values())
            parts.extend(output.get("traceback", []) or [])
    return "\n".join(str(p) for p in parts)


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
