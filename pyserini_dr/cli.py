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
