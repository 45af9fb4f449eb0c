"""What the book shows readers, made readable (a local Sphinx extension, see ``_config.yml``).

* Code shown from ``nn_reference/`` carries Sphinx roles in its docstrings
  (``:math:`\\sigma(x)```, ``:func:`relu```). Inside a code block they cannot render, so the
  book shows them as plain text: the role markup is dropped and the common TeX commands become
  the Unicode symbols they stand for (``σ(x)``, ``relu``). The files themselves keep the roles.
* A figure computed by a code cell gets its caption as the image's alt text (without it the
  HTML would use the image's file path as alt text).
* The page's downloadable notebook (``_sources/<page>_chapter.ipynb``, the theme's ".ipynb"
  button; never the name of the chapter's assignment, ``<chapter>.ipynb``) is the executed
  notebook: its outputs come from the execution cache, the code that
  ``{literalinclude}`` shows is written into the Markdown, ``{numref}``, ``{doc}``, ``{ref}``,
  ``{cite}`` and ``{download}`` become their text, and each figure's caption follows its cell.
* The offline MathJax copy (sphinx-mathjax-offline ships the whole distribution, 24 MB) is
  trimmed to what the pages load: the ``tex-chtml.js`` component, its web fonts, the TeX
  extensions it may autoload, and the accessibility and menu modules.
* A script added twice to a page (the Jupyter Book build registers the inline scripts of
  sphinx-thebe and sphinx-togglebutton twice) is kept once: declaring ``const THEBE_JS_URL``
  twice is a JavaScript error on every page.
"""

from __future__ import annotations

import pathlib
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


INCLUDE = re.compile(r"```\{literalinclude\}\s*(?P<path>\S+)\s*\n(?P<options>(?::[\w-]+:.*\n)*)```")
ROLE_REF = re.compile(r"\{(?P<role>numref|doc|ref|download|eq|cite(?::\w+)?)\}`(?P<body>[^`]*)`")


def _citations(app) -> dict[str, tuple[str, str]]:
    """``key -> (authors as cited, year)`` for every entry of the book's .bib files."""
    from pybtex.database import parse_file

    cited = {}
    for name in getattr(app.config, "bibtex_bibfiles", []) or []:
        for key, entry in parse_file(str(pathlib.Path(app.srcdir) / name)).entries.items():
            people = entry.persons.get("author", [])
            names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
            if not names:
                authors = entry.fields.get("title", key).split(" (")[0]
            elif len(names) == 1:
                authors = names[0]
            elif len(names) == 2:
                authors = f"{names[0]} and {names[1]}"
            else:
                authors = f"{names[0]} et al."
            cited[key] = (authors, entry.fields.get("year", "n.d."))
    return cited


def _cite(app, role: str, keys: str) -> str:
    if not hasattr(app, "_readable_citations"):
        app._readable_citations = _citations(app)
    entries = [app._readable_citations.get(k.strip(), (k.strip(), "")) for k in keys.split(",")]
    if role == "cite:t":
        return "; ".join(f"{a} ({y})" for a, y in entries)
    text = "; ".join(f"{a}, {y}" for a, y in entries)
    return text if role == "cite:alp" else f"({text})"


def _included_code(page_dir: pathlib.Path, path: str, options: str) -> str:
    from sphinx.pycode import ModuleAnalyzer

    source = (page_dir / path).resolve()
    lines = source.read_text().splitlines()
    wanted = dict(re.findall(r":([\w-]+):\s*(.*)", options))
    if "pyobject" in wanted:
        _, start, end = ModuleAnalyzer.for_file(str(source), "").find_tags()[wanted["pyobject"]]
        lines = lines[start - 1:end - 1]
        while lines and not lines[-1].strip():
            lines.pop()
    language = wanted.get("language", "python")
    return f"```{language}\n" + "\n".join(lines) + "\n```"


def _figure_number(env, label: str) -> str | None:
    docname, labelid = env.domaindata["std"]["anonlabels"].get(label, (None, None))
    if docname is None:
        return None
    for kind in ("figure", "table", "code-block"):
        number = env.toc_fignumbers.get(docname, {}).get(kind, {}).get(labelid)
        if number:
            return ".".join(map(str, number))
    return None


def _resolve_role(app, docname: str, role: str, body: str) -> str:
    env = app.env
    if role.startswith("cite"):
        return _cite(app, role if role != "cite" else "cite:p", body)
    match = re.fullmatch(r"(?P<text>.*?)\s*<(?P<target>[^>]+)>", body, flags=re.S)
    text, target = (match["text"], match["target"]) if match else (None, body)
    if role == "numref":
        number = _figure_number(env, target)
        if text:
            return text.replace("{number}", number or "").replace("%s", number or "")
        return f"Fig. {number}" if number else "the figure"
    if role == "doc":
        if text:
            return text
        name = str(pathlib.PurePosixPath(docname).parent / target) if not target.startswith("/") \
            else target.lstrip("/")
        title = env.titles.get(name)
        return f"*{title.astext()}*" if title is not None else target
    if role == "eq":
        return f"({target})"
    return text or target


def readers_notebook(app, docname: str):
    """The page ``docname`` as an executed notebook with its includes and references resolved."""
    import jupytext
    import nbformat

    source = pathlib.Path(app.srcdir) / f"{docname}.md"
    notebook = jupytext.read(source)
    cache_path = getattr(app.config, "nb_execution_cache_path", "") or str(
        pathlib.Path(app.outdir).parent / ".jupyter_cache")
    try:
        from jupyter_cache import get_cache

        _, notebook = get_cache(cache_path).merge_match_into_notebook(notebook)
    except Exception:  # noqa: BLE001 - not executed (yet): the notebook without outputs
        pass
    env = app.env
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            text = INCLUDE.sub(lambda m: _included_code(source.parent, m["path"], m["options"]),
                               cell.source)
            cell.source = ROLE_REF.sub(
                lambda m: _resolve_role(app, docname, m["role"], m["body"]), text)
        cells.append(cell)
        figure = cell.metadata.get("mystnb", {}).get("figure") if cell.cell_type == "code" else None
        if figure and figure.get("caption"):
            number = _figure_number(env, figure.get("name", "")) if figure.get("name") else None
            label = f"Fig. {number}." if number else "Figure."
            cells.append(nbformat.v4.new_markdown_cell(f"**{label}** {' '.join(figure['caption'].split())}"))
    notebook.cells = cells
    notebook.metadata.pop("jupytext", None)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    nbformat.validate(notebook)
    return notebook


def _page_notebook(app, pagename, templatename, context, doctree) -> None:
    """Write the page's notebook as ``<page>_chapter.ipynb`` and point the download button at it.

    The chapter's assignment downloads as ``<chapter>.ipynb`` (the name nbgrader collects), so
    the page's own notebook gets another name: a student cannot submit one for the other.
    """
    if not context.get("ipynb_source"):
        return
    import nbformat

    sources = pathlib.Path(app.outdir) / "_sources"
    theirs = context["ipynb_source"]
    ours = theirs.removesuffix(".ipynb") + "_chapter.ipynb"
    nbformat.write(readers_notebook(app, pagename), sources / ours)
    (sources / theirs).unlink(missing_ok=True)
    context["ipynb_source"] = ours

    def rename(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "url" and isinstance(value, str) and value.endswith("/" + theirs):
                    item[key] = value.removesuffix(theirs) + ours
                else:
                    rename(value)
        elif isinstance(item, list):
            for value in item:
                rename(value)

    rename(context.get("header_buttons", []))


def _repository_substitutions(app, config) -> None:
    """``{{ repository_url }}`` and ``{{ repository_branch }}`` in the pages: the values of
    ``repository:`` in ``_config.yml`` (their one place), as Jupyter Book hands them on."""
    options = config.html_theme_options or {}
    substitutions = dict(getattr(config, "myst_substitutions", {}) or {})
    substitutions.setdefault("repository_url", options.get("repository_url", ""))
    substitutions.setdefault("repository_branch", options.get("repository_branch", "main"))
    config.myst_substitutions = substitutions


MATHJAX_KEPT = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y",
                "ui", "adaptors")


def _trim_mathjax(app, exception) -> None:
    import shutil

    mathjax = pathlib.Path(app.outdir) / "_static" / "mathjax"
    if exception is not None or not (mathjax / "tex-chtml.js").exists():
        return
    kept = [mathjax / path for path in MATHJAX_KEPT]
    for path in sorted(mathjax.rglob("*"), reverse=True):
        inside = any(path == k or k in path.parents for k in kept)
        above = any(path in k.parents for k in kept)
        if inside or above:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def setup(app):
    app.connect("build-finished", _trim_mathjax)
    app.connect("config-inited", _repository_substitutions)
    app.connect("html-page-context", _page_notebook, priority=950)
    app.connect("doctree-resolved", _readable)
    app.connect("html-page-context", _scripts_once, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
