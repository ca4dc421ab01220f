"""Written answers and rubrics as HTML: Markdown through markdown-it, LaTeX through latex2mathml.

Student text is untrusted: raw HTML in it is shown as text (markdown-it's html option off),
links cannot run script, and a formula that does not parse is shown as its source. Math comes
out as MathML, which browsers render without scripts or fonts to fetch.
"""

from __future__ import annotations

import functools
import html

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin


def _math(latex: str, options: dict) -> str:
    """dollarmath's renderer: `options["display_mode"]` is True for $$...$$."""
    try:
        return convert(latex, display="block" if options.get("display_mode") else "inline")
    except Exception:  # latex2mathml raises many kinds; the source is still worth showing
        return f'<code class="math-source">{html.escape(latex)}</code>'


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.use(
        dollarmath_plugin,
        allow_labels=False,
        allow_space=True,
        allow_digits=True,
        double_inline=True,
        renderer=_math,
    )
    md.validateLink = lambda url: url.lower().startswith(("http://", "https://", "#"))
    return md


def to_html(text: str) -> Markup:
    """`text` (Markdown with $...$ and $$...$$ math) as safe HTML for a page."""
    return Markup(_parser().render(text or ""))
