"""The one YAML parser of savos: ``yaml.safe_load`` without aliases, and bounded in size and depth.

An alias (``*name``) repeats an anchored node (``&name``) without copying it, so a few hundred bytes of
nested aliases expand into billions of nodes (an "alias bomb"): loading, merging or printing the value
then runs for minutes at gigabytes. No savos file needs one (recipes share settings through ``base:``),
so the parser refuses every alias at once, before anything is built. Nesting deeper than ``MAX_DEPTH``
and texts longer than ``MAX_BYTES`` are refused the same way. Every refusal is a ``YamlRefused`` whose
message is a predicate ("is not valid YAML (...)", "uses the alias *a (line 3, column 5), ..."); the
callers (``savos.readers.read_yaml``, ``--set`` values) put the file or option in front.
"""

from __future__ import annotations

from typing import Any

import yaml

from savos.errors import SavosError

MAX_BYTES = 4 << 20  # a recipe, scene or generator config is a few kB
MAX_DEPTH = 64  # nesting of mappings and lists (the schemas nest 3 deep)


class YamlRefused(SavosError):
    """The text is not YAML savos reads: broken syntax, an alias, too deep or too long."""


def _line(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses aliases and deep nesting as it meets them."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlRefused(f"uses the alias *{event.anchor[:40]} ({_line(event.start_mark)}), and savos "
                              "reads no YAML anchors or aliases (&name, *name); write the values out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"nests deeper than {MAX_DEPTH} levels "
                                  f"({_line(self.peek_event().start_mark)})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str) -> Any:
    """The value of the YAML document ``text`` (None for an empty one); YamlRefused on broken syntax,
    an alias, nesting deeper than MAX_DEPTH or more than MAX_BYTES of text."""
    if len(text) > MAX_BYTES:
        raise YamlRefused(f"is {len(text):,} characters long, more than any savos YAML file "
                          f"({MAX_BYTES:,} at most)")
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as e:
        detail = " ".join(str(e).split())
        raise YamlRefused(f"is not valid YAML ({detail[:200]})") from None
    except ValueError as e:  # a value YAML parses but Python refuses (an int of more than 4300 digits)
        raise YamlRefused(f"holds a value savos cannot read ({str(e)[:120]})") from None
    finally:
        loader.dispose()
