"""What every command-line entry point shares: one-line errors and exit codes."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from .arg_types import finite, fraction, non_negative, non_negative_real, positive, positive_real
from .errors import InputError

# the value types live in arg_types (layer 0, so library modules use them too); commands take them from here
__all__ = ["EXIT_USAGE", "run_main", "options_from", "ArgumentParser", "PyseriniRefused", "PyseriniOnly",
           "PyseriniNoOp", "pyserini_flags", "split_sections", "output_file", "device", "finite", "fraction", "non_negative",
           "non_negative_real", "positive", "positive_real"]

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

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        self._refuse_output_over_input(namespace)
        return namespace, extras

    def _refuse_output_over_input(self, namespace) -> None:
        """An output file (``type=output_file``) that is one of the command's own inputs, or another of its
        outputs, would replace it: refused before anything runs."""
        import os

        def name(action):
            return action.option_strings[0] if action.option_strings else action.dest

        outputs = [(a, getattr(namespace, a.dest, None)) for a in self._actions if a.type is output_file]
        outputs = [(a, v) for a, v in outputs if isinstance(v, str) and os.path.isfile(v)]
        for action in self._actions:
            values = getattr(namespace, action.dest, None)
            for value in values if isinstance(values, list) else [values]:
                if not isinstance(value, str) or not os.path.isfile(value):
                    continue
                for output, path in outputs:
                    if output is not action and os.path.samefile(value, path):
                        raise InputError(f"{name(output)} {path} is also {name(action)} {value}: it would be "
                                         "replaced; write to another file")


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


def split_sections(argv: list[str], sections: tuple[str, ...], required: tuple[str, ...],
                   usage: str) -> dict[str, list[str]]:
    """Pyserini's sectioned command lines (``search.hybrid``'s ``dense ... sparse ... fusion ... run ...``,
    ``encode``'s ``input ... output ... encoder ...``) -> {section: its arguments}, in any order, each once."""
    parts: dict[str, list[str]] = {}
    current = None
    for token in argv:
        if token in sections:
            if token in parts:
                raise InputError(f"section {token!r} given twice")
            current = parts.setdefault(token, [])
        elif current is None:
            raise InputError(f"expected a section ({', '.join(sections)}) before {token!r}")
        else:
            current.append(token)
    missing = [s for s in required if s not in parts]
    if missing:
        raise InputError(f"missing section(s): {', '.join(missing)} (usage: {usage})")
    return parts


def output_file(text: str) -> str:
    """A file to write: checked when parsed (not a directory, not under a file), so a search or an encoding is not
    run only to find at the end that its output cannot be written. The write itself stays atomic (files.py)."""
    import os

    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file to write")
    parent = os.path.dirname(os.path.abspath(text))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} is not a directory")
    return text


def device(text: str) -> str:
    """A torch device this machine has: ``cpu``, ``cuda``, ``cuda:N``, ``mps``; checked when parsed, so a missing
    GPU is one line before any model loads (torch asserts deep inside ``.to()`` otherwise)."""
    import torch

    try:
        parsed = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (cpu, cuda, cuda:N)") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise argparse.ArgumentTypeError(f"{text}: no GPU is visible to torch here (use cpu)")
        if parsed.index is not None and parsed.index >= count:
            raise argparse.ArgumentTypeError(f"{text}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: no Apple GPU is available here (use cpu)")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r} (cpu, cuda, cuda:N)")
    return text
