"""argparse value types for counts and numbers, checked when parsed: ``--hits 0`` or ``--b nan`` is one error line
before any work. Layer 0, so library modules that declare flags (the training recipes' options) use them too."""
from __future__ import annotations

import argparse
import math


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


def _real(minimum: float | None = None, maximum: float | None = None, *, above: float | None = None):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):  # nan compares false with everything: it would pass any later check
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be more than {above:g}, got {text}")
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"{minimum:g} or more"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


finite = _real()                    # --alpha, --weights: any number but nan and inf
non_negative_real = _real(0)        # --lr, --k1, --scale, --save-minutes ...
fraction = _real(0, 1)              # --b, --dev-fraction, --warmup-ratio
positive_real = _real(above=0)      # --temperature: a divisor
