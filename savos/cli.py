"""The ``savos`` command. Each command parses its options, loads the config and calls one library
function; user errors (SavosError) become one line on stderr and exit code 2."""

from __future__ import annotations

import sys

import click

from savos.errors import SavosError


class _Group(click.Group):
    def invoke(self, ctx):  # one line, non-zero exit, never a traceback for a user error
        try:
            return super().invoke(ctx)
        except SavosError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="savos")
def main() -> None:
    """SaVos: self-supervised amodal video object segmentation.

    Typical use: `savos-gen chewing-gum` to make data, `savos train RECIPE.yaml`, `savos predict`,
    `savos eval`.
    """


# Commands are added below, one function each.
