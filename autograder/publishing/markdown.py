"""Written answers and rubrics as HTML: Markdown through markdown-it, LaTeX through latex2mathml.

Student text is untrusted: raw HTML in it is shown as text (markdown-it's html option off),
links cannot run script, and a formula that does not parse is shown as its source. Math comes
out as MathML, which browsers render without scripts or fonts to fetch; latex2mathml copies
\text{...} into the MathML as it is, so its output is rebuilt from an allowlist of MathML
elements and attributes with every text and value escaped, before it reaches a page.
"""

from __future__ import annotations

import functools
import html
from html.parser import HTMLParser

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin


def _math(latex: str, options: dict) -> str:
    """dollarmath's renderer: `options["display_mode"]` is True for $$...$$."""
    try:
        mathml = convert(latex, display="block" if options.get("display_mode") else "inline")
    except Exception:  # latex2mathml raises many kinds; the source is still worth showing
        return f'<code class="math-source">{html.escape(latex)}</code>'
    return clean_mathml(mathml)


MATHML_ELEMENTS = frozenset(
    [
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msub",
        "msup",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mstyle",
        "merror",
        "mpadded",
        "mphantom",
        "mfenced",
        "menclose",
        "munder",
        "mover",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mlabeledtr",
        "mmultiscripts",
        "mprescripts",
        "none",
        "semantics",
        "annotation",
    ]
)
MATHML_ATTRIBUTES = frozenset(
    [
        "xmlns",
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "accent",
        "accentunder",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "frame",
        "linethickness",
        "width",
        "height",
        "depth",
        "scriptlevel",
        "displaystyle",
        "minsize",
        "maxsize",
        "movablelimits",
        "form",
        "notation",
        "open",
        "close",
        "separators",
        "largeop",
        "symmetric",
        "encoding",
    ]
)


class _MathML(HTMLParser):
    """Re-serializes MathML keeping only allowlisted elements and attributes, all escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MATHML_ELEMENTS:
            return
        kept = "".join(
            f' {name}="{html.escape(value or "", quote=True)}"'
            for name, value in attrs
            if name in MATHML_ATTRIBUTES and not (value or "").lower().startswith("javascript")
        )
        self.out.append(f"<{tag}{kept}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in MATHML_ELEMENTS and tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))


def clean_mathml(mathml: str) -> str:
    """MathML with nothing but allowlisted MathML in it: any other tag is dropped (its text
    kept, escaped), every attribute value and text escaped."""
    parser = _MathML()
    parser.feed(mathml)
    parser.close()
    parser.out += [f"</{tag}>" for tag in reversed(parser.open)]
    return "".join(parser.out)


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
