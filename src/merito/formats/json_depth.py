"""How deeply JSON text nests, measured without recursion before a recursive parser reads it.

Why: ``json.loads`` recurses in C once per nesting level and stops only at the interpreter's
recursion limit. Libraries raise that limit process-wide (py_ecc, imported with web3 by the
Ethereum anchor, sets 100,000), and then a 10,000-deep document overflows a thread's C stack
and kills the process with a segmentation fault instead of raising RecursionError. Every
parser of untrusted JSON checks the depth with :func:`too_deep` first.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PARSE_DEPTH_LIMIT", "too_deep"]

#: Far below where a recursive parser endangers any thread's stack, far above real documents.
PARSE_DEPTH_LIMIT: Final = 512

# A string (skipped whole, escapes included) or one bracket: a C-speed scan of the structure.
_STRUCTURE: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_STRUCTURE_BYTES: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def too_deep(text: str | bytes, limit: int = PARSE_DEPTH_LIMIT) -> bool:
    """True when arrays and objects in ``text`` nest more than ``limit`` levels.

    Brackets inside strings do not count. For text that is not valid JSON the answer is an
    upper bound, which is all a guard in front of a parser needs.
    """
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= limit:  # cannot nest deeper than it opens
            return False
        matches = _STRUCTURE.finditer(text)
        openers: tuple[str | bytes, ...] = ("[", "{")
        closers: tuple[str | bytes, ...] = ("]", "}")
    else:
        if text.count(b"[") + text.count(b"{") <= limit:
            return False
        matches = _STRUCTURE_BYTES.finditer(text)  # type: ignore[assignment]
        openers, closers = (b"[", b"{"), (b"]", b"}")
    depth = 0
    for match in matches:
        token = match.group()
        if token in openers:
            depth += 1
            if depth > limit:
                return True
        elif token in closers:
            depth -= 1
    return False
