"""The click group both command-line tools use: user errors (SavosError) print one line and exit 2."""

from __future__ import annotations

import sys

import click

from savos.errors import SavosError


class ErrorGroup(click.Group):
    """A click group that turns SavosError into ``error: <message>`` on stderr and exit code 2, and
    Ctrl-C into exit code 130, never a traceback. Anything else is a bug and keeps its traceback."""

    interrupted = "interrupted"

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SavosError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo(self.interrupted, err=True)
            sys.exit(130)
