"""The one jinja environment every HTML page is rendered with: autoescaping, strict names.

Anything a submission printed, returned or wrote is shown as text, never as markup.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render(template: str, **values: object) -> str:
    """templates/<template> rendered with `values`."""
    return environment().get_template(template).render(**values)
