"""The one exception type for errors a user can cause.

Library code raises ``SavosError`` (or a subclass) with a message that names the input and says what to
do; the CLI prints it as one line and exits non-zero. Anything else is a bug and keeps its traceback.
"""

import reprlib
import sys

# How messages quote a value read from a file or an option: at most BRIEF characters, and the work of
# quoting is bounded too (reprlib looks at a few items of each container, a few levels deep).
BRIEF = 60


class _Brief(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4 * self.maxlong:  # str() of a huge int is slow, and refused past 4300 digits
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_REPR = _Brief()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 3, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = BRIEF


class SavosError(Exception):
    """An error caused by the user's input (file, option, config, data)."""


def note(message: str) -> None:
    """Tell the user something that is not an error (``note: ...`` on stderr, one line)."""

    print(f"note: {message}", file=sys.stderr, flush=True)


def brief(value: object, limit: int = BRIEF) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (``...`` marks a cut), computed in bounded time
    whatever the size of the value: what a message quotes of a value the user gave."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
