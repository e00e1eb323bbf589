"""Small pieces shared by the command-line entry points."""
from __future__ import annotations

import argparse


def int_at_least(minimum: int, flag: str = "integer"):
    """An argparse ``type`` accepting integers >= ``minimum``; its message names the problem."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n
    parse.__name__ = flag  # argparse names the type in its message
    return parse
