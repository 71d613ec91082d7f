"""Text from the catalog, workloads and the user, made inert in the documents selfhost writes.

A catalog entry's name, source or notes, a workload's name, a provider: any of them may hold
``<script>``, ``[a](javascript:...)``, a backtick, a ``|`` or a line break, and none of them
may become markup, a link, a table column or a new line of a config file. Every document
writer passes such text through one of these functions, chosen by the context it lands in:

- `md_text`: Markdown prose (paragraphs, headings, list items); `md_cell`: a Markdown table
  cell; `md_code`: a Markdown code span. CommonMark (and GitHub's tables) render the result
  as exactly the original characters: backslash escapes for the ASCII punctuation that starts
  inline markup, character references for ``& < >`` (raw HTML and autolinks need ``<``).
- `one_line`: text inside a ``#`` comment (YAML, shell, nginx) or any other one-line slot: line
  breaks and other control characters (YAML also breaks lines at U+0085, U+2028, U+2029)
  become visible escapes, so the text cannot end the comment.

- `csv_text`: a CSV cell a spreadsheet opens: text that starts like a formula (``=``, ``+``,
  ``-``, ``@``, tab, CR) gets a leading ``'`` (OWASP's advice against CSV injection), so
  ``=HYPERLINK(...)`` in a provider name stays text; numbers are left as they are.

HTML documents use `html.escape` (the standard library's) on every text node.
"""

from __future__ import annotations

import re

# ASCII punctuation that opens or closes inline Markdown (emphasis, code, links, images,
# strikethrough, tables, headings' closing run) or escapes it. Escaped with a backslash,
# which CommonMark removes for any ASCII punctuation character.
_MD_INLINE = re.compile(r"([\\`*\[\]{}~|#!]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# (an underscore inside a word, as in model_prices, opens no emphasis and is left as it is)
# At the start of a line these open a block (heading, quote, list, thematic break, setext).
_MD_LINE_START = re.compile(r"^(\s*\d*)([-+=>.)])")
# Line breaks YAML (1.1), Python's str.splitlines and Markdown treat as such, and the other
# C0/C1 control characters (tab kept: it is harmless in one line).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_text(text: object) -> str:
    """``text`` as Markdown prose that renders as exactly its characters, on one line.

    Line breaks become spaces (in a Markdown paragraph a line break renders as a space anyway,
    and a new line could open a heading, a list or a code block); a leading ``-``, ``+``,
    ``=``, ``>`` or ``1.`` is escaped so that the text cannot open a block either.
    """
    escaped = md_cell(text).strip()
    start = _MD_LINE_START.match(escaped)
    if start and (start.group(2) in "-+=>" if not start.group(1) else start.group(2) in ".)"):
        escaped = start.group(1) + "\\" + escaped[start.end(1) :]
    return escaped


def md_cell(text: object) -> str:
    """``text`` as the content of a GitHub-flavoured Markdown table cell (inline only, ``|`` escaped)."""
    flat = " ".join(str(text).splitlines()) if _has_break(str(text)) else str(text)
    return _MD_INLINE.sub(r"\\\1", _entities(_CONTROL.sub(" ", flat)))


def md_code(text: object, *, in_table: bool = False) -> str:
    """``text`` as a Markdown code span: a backtick fence longer than any run inside it.

    GitHub's tables split cells at ``|`` even inside code spans; ``in_table`` escapes it
    (GFM removes that backslash before the span is read, so the span still shows ``|``).
    """
    body = " ".join(str(text).splitlines()) if _has_break(str(text)) else str(text)
    body = _CONTROL.sub(" ", body)
    if in_table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def md_fence(text: object, info: str = "") -> str:
    """``text`` as a fenced code block whose fence is longer than any backtick run inside it."""
    body = str(text)
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """``text`` as a spreadsheet shows it, never evaluated: a formula-like start gets a ``'``."""
    if text.startswith(_FORMULA_START):
        try:
            float(text)  # a number written as text ("-4.5") is no formula
        except ValueError:
            return "'" + text
    return text


def one_line(text: object) -> str:
    """``text`` with line breaks and control characters as visible escapes (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(_visible, str(text))


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    named = {"\n": "\\n", "\r": "\\r"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _has_break(text: str) -> bool:
    return len(text.splitlines()) > 1 or text.endswith(("\n", "\r"))
