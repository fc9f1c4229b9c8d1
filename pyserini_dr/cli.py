"""What every command-line entry point shares: one-line errors and exit codes."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from .errors import InputError

EXIT_USAGE = 2


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Call ``main`` and turn the errors a user can cause into ``error: <one line>`` and exit code 2."""
    from ._pyserini import JavaUnavailable

    try:
        code = main(argv)
    except (InputError, JavaUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except FileNotFoundError as e:
        print(f"error: no such file: {e.filename or e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except OSError as e:  # a directory where a file goes, no permission, a full disk
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def options_from(namespace, options_class):
    """The ``options_class`` dataclass filled from parsed arguments of the same names (its fields are argparse's
    destinations)."""
    import dataclasses

    return options_class(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(options_class)
                            if hasattr(namespace, f.name)})


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage mistakes (an unknown flag, a missing one, a bad value) are one ``error:`` line and exit 2
    under ``run_main``, like every other mistake a user can make, instead of argparse's usage block."""

    def error(self, message):
        raise InputError(message)


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value
    parse.__name__ = f"count >= {minimum}"
    return parse


positive = _count(1)        # --hits, --batch-size, --threads, --max-length ...: 0 would mean nothing or no limit
non_negative = _count(0)    # --rrf-k, --shard-id, --tokenizer-processes ...


# Pyserini's flags (issue 19): a command accepts each flag of its Pyserini counterpart with Pyserini's meaning, or
# refuses it with one line naming it. `scripts/pyserini_flags.py` reads these actions to write
# docs/pyserini_flags.md.

class PyseriniRefused(argparse.Action):
    """A Pyserini flag the command does not support: ``error: <flag>: unsupported Pyserini flag (<reason>)``."""

    def __init__(self, option_strings, dest, reason: str = "", **kwargs):
        super().__init__(option_strings, dest, nargs="*", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.reason = reason

    def __call__(self, parser, namespace, values, option_string=None):
        raise InputError(f"{option_string}: unsupported Pyserini flag ({self.reason})")


class PyseriniOnly(argparse.Action):
    """A Pyserini flag accepted with the values we do as Pyserini does (its default, usually), refused with any
    other value; it sets nothing."""

    def __init__(self, option_strings, dest, allowed: tuple = (), reason: str = "", nargs=None, **kwargs):
        super().__init__(option_strings, dest, nargs=nargs, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.allowed, self.reason = tuple(allowed), reason

    def __call__(self, parser, namespace, values, option_string=None):
        given = " ".join(values) if isinstance(values, list) else values   # a list: its words, as one value
        if given not in self.allowed:
            raise InputError(f"{option_string}: unsupported Pyserini flag ({self.reason}; got {given!r})")


class PyseriniNoOp(argparse.Action):
    """A Pyserini flag accepted and ignored because it provably does not change the output (``note`` says why)."""

    def __init__(self, option_strings, dest, note: str = "", nargs=0, **kwargs):
        super().__init__(option_strings, dest, nargs=nargs, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.note = note

    def __call__(self, parser, namespace, values, option_string=None):
        pass


def pyserini_flags(parser: argparse.ArgumentParser, *, refused: dict[str, str] = (), only: dict = (),
                   no_op: dict = (), single_dash: bool = False) -> None:
    """Register Pyserini's flags that ``parser`` does not take as its own: ``refused`` {flag: reason}; ``only``
    {flag: (allowed values, reason[, nargs])}; ``no_op`` {flag: (nargs, note)}. A flag ``parser`` already has is skipped
    (the command's own flag wins). ``single_dash``: ``-flag`` too (Anserini's spelling, which Pyserini's
    ``index.lucene`` passes on as it is)."""
    def spellings(flag):
        return [flag, flag[1:]] if single_dash and flag.startswith("--") else [flag]

    have = set(parser._option_string_actions)
    for flag, reason in dict(refused).items():
        if flag not in have:
            parser.add_argument(*spellings(flag), action=PyseriniRefused, reason=reason)
    for flag, (allowed, reason, *nargs) in dict(only).items():
        if flag not in have:
            parser.add_argument(*spellings(flag), action=PyseriniOnly, allowed=allowed, reason=reason,
                                nargs=(nargs or [None])[0])
    for flag, (nargs, note) in dict(no_op).items():
        if flag not in have:
            parser.add_argument(*spellings(flag), action=PyseriniNoOp, nargs=nargs, note=note)
