"""The click group both command-line tools use: every error a user or the machine can cause prints one
line and exits non-zero; only bugs keep their traceback."""

from __future__ import annotations

import errno
import sys

import click

from savos.errors import SavosError

_OS_HINTS = {
    errno.ENOSPC: "the disk is full; free space and re-run the same command (it resumes)",
    errno.EDQUOT: "the disk quota is exhausted; free space and re-run the same command (it resumes)",
    errno.EFBIG: "the file is too large for this file system or limit",
    errno.EACCES: "permission denied; choose another output or fix the permissions",
    errno.EPERM: "operation not permitted; choose another output or fix the permissions",
    errno.EROFS: "the file system is read-only; choose another output",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a folder is in the way of a file",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter one",
}


def os_error_line(e: OSError) -> str:
    """``<path>: <what happened>`` for an OSError (disk full, permissions, ...)."""
    where = e.filename if e.filename is not None else "a file"
    if getattr(e, "filename2", None):
        where = f"{where} -> {e.filename2}"
    what = _OS_HINTS.get(e.errno or -1, e.strerror or str(e))
    return f"{where}: {what}"


class ErrorGroup(click.Group):
    """A click group that turns SavosError or a bad option value into ``error: <message>`` on stderr and
    exit code 2, an
    OSError (disk full, read-only folder, ...) into ``error: <path>: <what happened>`` and exit 2, memory
    exhaustion into one line and exit 2, and Ctrl-C into exit code 130; never a traceback. Anything else
    is a bug and keeps its traceback."""

    interrupted = "interrupted"

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SavosError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(getattr(e, "exit_code", 2))
        except click.ClickException as e:  # a bad option or argument of a command: one line, not usage
            where = e.ctx.command_path if getattr(e, "ctx", None) else ctx.command_path
            click.echo(f"error: {' '.join(e.format_message().split())} (see `{where} --help`)", err=True)
            sys.exit(e.exit_code)
        except OSError as e:
            click.echo(f"error: {os_error_line(e)}", err=True)
            sys.exit(2)
        except MemoryError:
            click.echo("error: out of memory; use smaller sizes (batch, patch, frames) or fewer workers",
                       err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo(self.interrupted, err=True)
            sys.exit(130)
