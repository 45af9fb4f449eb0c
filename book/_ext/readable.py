"""What the book shows readers, made readable (a local Sphinx extension, see ``_config.yml``).

* Code shown from ``nn_reference/`` carries Sphinx roles in its docstrings
  (``:math:`\\sigma(x)```, ``:func:`relu```). Inside a code block they cannot render, so the
  book shows them as plain text: the role markup is dropped and the common TeX commands become
  the Unicode symbols they stand for (``σ(x)``, ``relu``). The files themselves keep the roles.
* A figure computed by a code cell gets its caption as the image's alt text (without it the
  HTML would use the image's file path as alt text).
* A script added twice to a page (the Jupyter Book build registers the inline scripts of
  sphinx-thebe and sphinx-togglebutton twice) is kept once: declaring ``const THEBE_JS_URL``
  twice is a JavaScript error on every page.
"""

from __future__ import annotations

import re

from docutils import nodes

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
    "phi": "φ", "varphi": "φ", "Phi": "Φ", "Omega": "Ω", "Sigma": "Σ", "Delta": "Δ",
    "partial": "∂", "nabla": "∇", "sum": "Σ", "prod": "∏", "infty": "∞", "cdot": "·",
    "times": "×", "odot": "⊙", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈",
    "sim": "~", "in": "∈", "leftarrow": "←", "rightarrow": "→", "to": "→", "top": "ᵀ",
    "dots": "…", "ldots": "…", "cdots": "⋯", "lVert": "‖", "rVert": "‖", "lfloor": "⌊",
    "rfloor": "⌋", "max": "max", "min": "min", "log": "log", "exp": "exp", "tanh": "tanh",
    "arg": "arg", "erf": "erf", "pm": "±", "neq": "≠", "ne": "≠",
}
SPACES = {",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": "  ", "qquad": "   "}
ESCAPED = {"_": "_", "{": "{", "}": "}", "%": "%", "\\": "\\"}
ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}
BLACKBOARD = {"R": "ℝ", "E": "𝔼", "N": "ℕ", "Z": "ℤ"}
ROLE = re.compile(r":(?:py:)?(math|func|class|mod|meth|attr|data|obj|ref|doc):`([^`]*)`")


def _group(tex: str, start: int) -> tuple[str, int]:
    """The argument of a command at ``tex[start:]``: a ``{...}`` group or one character."""
    while start < len(tex) and tex[start] == " ":
        start += 1
    if start >= len(tex):
        return "", start
    if tex[start] != "{":
        if tex[start] == "\\":
            match = re.match(r"\\[A-Za-z]+", tex[start:])
            if match:
                return match.group(0), start + match.end()
        return tex[start], start + 1
    depth = 0
    for end in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[end], 0)
        if depth == 0:
            return tex[start + 1:end], end + 1
    return tex[start + 1:], len(tex)


def tex_to_text(tex: str) -> str:
    """A TeX formula as plain Unicode text (good enough for the formulas of docstrings)."""
    tex = re.sub(r"\\\\(?=[A-Za-z,{}_%])", r"\\", tex)  # docstrings that are not raw strings
    out, i = [], 0
    while i < len(tex):
        char = tex[i]
        if char in "_^" and tex[i + 1:i + 2] == "{":
            arg, i = _group(tex, i + 1)
            arg = tex_to_text(arg)
            out.append(char + (arg if len(arg) == 1 else "{" + arg + "}"))
            continue
        if char == "^" and tex[i + 1:i + 5] == "\\top":
            out.append("ᵀ")
            i += 5
            continue
        if char in "{}":
            i += 1
            continue
        if char != "\\":
            out.append(char)
            i += 1
            continue
        match = re.match(r"\\([A-Za-z]+)", tex[i:])
        if not match:
            symbol = tex[i + 1:i + 2]
            out.append(SPACES.get(symbol, ESCAPED.get(symbol, symbol)))
            i += 2
            continue
        name, i = match.group(1), i + match.end()
        if name in {"frac", "tfrac", "dfrac"}:
            top, i = _group(tex, i)
            bottom, i = _group(tex, i)
            top, bottom = tex_to_text(top), tex_to_text(bottom)
            wrap = lambda s: s if re.fullmatch(r"[\w.√∂]+", s) else f"({s})"  # noqa: E731
            out.append(f"{wrap(top)}/{wrap(bottom)}")
        elif name == "sqrt":
            arg, i = _group(tex, i)
            arg = tex_to_text(arg)
            out.append(f"√{arg}" if re.fullmatch(r"\w|\d+(\.\d+)?|[A-Za-z]+", arg) else f"√({arg})")
        elif name in ACCENTS:
            arg, i = _group(tex, i)
            out.append(tex_to_text(arg) + ACCENTS[name])
        elif name == "mathbb":
            arg, i = _group(tex, i)
            out.append(BLACKBOARD.get(arg, arg))
        elif name in {"text", "mathrm", "operatorname", "mathcal", "texttt", "mathbf", "textrm",
                      "mathit", "boldsymbol"}:
            arg, i = _group(tex, i)
            out.append(tex_to_text(arg))
            if name == "operatorname":
                out.append(" " if re.match(r"[A-Za-z\\]", tex[i:i + 1]) else "")
        elif name in {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "textstyle",
                      "displaystyle"}:
            continue
        elif name in SPACES:
            out.append(SPACES[name])
        else:
            out.append(SYMBOLS.get(name, name))
            if out[-1].isalpha() and len(out[-1]) > 1 and re.match(r"[A-Za-z\\]", tex[i:i + 1]):
                out.append(" ")  # \log x, \sum\sum: keep the words apart
    return "".join(out)


def plain_roles(text: str) -> str:
    """Sphinx roles in code shown as plain text: math as Unicode, a reference as its name."""
    return ROLE.sub(lambda m: tex_to_text(m.group(2)) if m.group(1) == "math"
                    else m.group(2).lstrip("~!"), text)


def _readable(app, doctree, docname) -> None:
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        shown = plain_roles(text)
        if shown != text:
            block.children = []
            block += nodes.Text(shown)
            block.rawsource = shown
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        caption = " ".join(captions[0].astext().split())
        for image in figure.findall(nodes.image):
            if not image.get("alt"):
                image["alt"] = caption


def _scripts_once(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (str(getattr(script, "filename", script) or ""),  # None and "": a body only
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("doctree-resolved", _readable)
    app.connect("html-page-context", _scripts_once, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
