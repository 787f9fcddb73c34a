"""Untrusted text (entity names and ids, attribute values, analyst names) shown as itself in the app.

Streamlit renders most strings as Markdown: headings, captions, toasts, alerts, widget labels
and ``st.table`` cells. It already shows HTML tags as text, so a name such as
``<img src=x onerror=alert(1)>`` runs nothing, but Markdown still applies: a film called
``**Alien**`` would show as bold "Alien", ``[x](javascript:...)`` as a link, ``$x$`` as maths,
so the analyst would not see what the data says. :func:`literal` backslash-escapes every ASCII
punctuation character, which CommonMark allows for exactly this: an escaped character is shown
as itself. One Markdown rule reads the text after the escapes: GitHub's autolinks, which make a
link of any ``http://...``, ``www....`` or ``name@host.org`` in the text; :func:`literal` shows
such words as code spans, which no link crosses, so a URL in the data reads as text and leads
nowhere. ``st.dataframe``, ``st.text`` and widget *options* show plain text and need nothing.

A 10,000-character name would push the buttons off the screen, so headings and table cells show
a :func:`shorten`-ed text and the page offers the full one next to it (``st.text``).
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_WORDS = re.compile(r"(\s+)")
#: What GitHub's autolink extension may turn into a link: ``scheme://``, ``www.``, ``name@host``.
_LINK_LIKE = re.compile(r"://|@|www\.", re.IGNORECASE)


def literal(text: object) -> str:
    r"""``text`` as Markdown that Streamlit shows character for character.

    Examples
    --------
    >>> literal("**Alien** <b>")
    '\\*\\*Alien\\*\\* \\<b\\>'
    >>> literal("see www.x.org or a@x.org")
    'see `www.x.org` or `a@x.org`'
    """
    return "".join(code(word) if _LINK_LIKE.search(word) else _PUNCTUATION.sub(r"\\\1", word)
                   for word in _WORDS.split(str(text)))


def code(text: object) -> str:
    """``text`` as a Markdown code span (shown verbatim, in a fixed-width font), backticks and all.

    The fence is one backtick longer than the longest run inside, as CommonMark requires.

    Examples
    --------
    >>> code("f1"), code("a`b")
    ('`f1`', '``a`b``')
    """
    text = str(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def shorten(text: object, limit: int) -> str:
    """The first ``limit`` characters of ``text``, and its full length where it was cut.

    Examples
    --------
    >>> shorten("x" * 10_000, 10)
    'xxxxxxxxxx… (10,000 characters)'
    >>> shorten("Alien", 10)
    'Alien'
    """
    text = str(text)
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"
