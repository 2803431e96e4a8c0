"""mkdocs hook: show Sphinx-style roles of the docstrings (``:class:`~gstreamer.Reader```)
as plain code (``Reader``) on the API pages."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):<code>~?([\w.]+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    def short(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"<code>{name.rsplit('.', 1)[-1] if match.group(0).count('~') else name}</code>"

    return _ROLE.sub(short, html)
