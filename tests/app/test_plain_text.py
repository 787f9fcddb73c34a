"""ui.plain_text (issue 13, item 9): data and paths as Markdown that shows them character for character,
with no link, image or code span made from them."""

from __future__ import annotations

import pytest

from ui.plain_text import code, literal


@pytest.mark.parametrize(("text", "shown"), [
    ("http://203.0.113.9/page", "`http://203.0.113.9/page`"),
    ("see www.example.org.", "see `www.example.org.`"),
    ("(WWW.example.org)", "`(WWW.example.org)`"),
    ("mail bob@example.org now", "mail `bob@example.org` now"),
    ("![i](https://203.0.113.9/i.png)", "`![i](https://203.0.113.9/i.png)`"),
    ("<https://203.0.113.9/a>", "`<https://203.0.113.9/a>`"),
    ("a`b://c", "``a`b://c``"),
])
def test_words_github_would_link_are_code_spans(text, shown):
    """GitHub's autolinks read the text after backslash escapes, so escaping alone leaves them links."""
    assert literal(text) == shown


def test_other_words_keep_every_punctuation_character_escaped():
    assert literal("**Alien** [x](javascript:alert(1)) $x$") == (
        "\\*\\*Alien\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\) \\$x\\$")
    assert literal("a  b\tc") == "a  b\tc"  # the spacing is kept


@pytest.mark.parametrize("name", ["hostile `x` ![i](https:203.0.113.9) [site](https:203.0.113.9) ``", "`", "a``b`"])
def test_a_path_with_backticks_is_one_code_span(name):
    """CommonMark: a code span ends at the first backtick run as long as its opening one, and one space
    is stripped from each end when the text starts or ends with a backtick."""
    import re

    shown = code(name)
    fence = re.match("`+", shown).group()
    assert shown.endswith(fence) and fence not in re.findall("`+", name)
    inner = shown[len(fence):-len(fence)]
    assert inner in (name, f" {name} ")
