"""The one exception type for errors a user can cause.

Library code raises ``SavosError`` (or a subclass) with a message that names the input and says what to
do; the CLI prints it as one line and exits non-zero. Anything else is a bug and keeps its traceback.
"""

import sys


class SavosError(Exception):
    """An error caused by the user's input (file, option, config, data)."""


def note(message: str) -> None:
    """Tell the user something that is not an error (``note: ...`` on stderr, one line)."""

    print(f"note: {message}", file=sys.stderr, flush=True)
