"""Fractional position keys: strings that sort bytewise, with a key between any two.

The base-62 algorithm of `fractional-indexing` (David Greenspan's, as in rocicorp's package):
a key is an integer part (its first character says its length: `a0`..`az`, `b00`..; `Z`..`A`
below zero) and a fraction that never ends in `0`. Appending at the end increments the integer
part, so keys stay short; inserting between two keys takes their midpoint digit by digit.

A key given out for a write carries two random digits (`between`), so that two writers who
computed the same gap still get distinct keys (the list lock serialises moves besides)."""

import secrets

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ZERO = DIGITS[0]
SMALLEST_INTEGER = "A" + ZERO * 26
# Keys longer than this are rebalanced for their sibling group (`spread`).
REBALANCE_LENGTH = 64
JITTER_DIGITS = 2


class InvalidKey(ValueError):
    pass


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions a and b (b None: 1)."""
    if b is not None and a >= b:
        raise InvalidKey(f"{a!r} >= {b!r}")
    if a.endswith(ZERO) or (b is not None and b.endswith(ZERO)):
        raise InvalidKey("trailing zero")
    if b is not None:
        n = 0
        while (a[n] if n < len(a) else ZERO) == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = DIGITS.index(a[0]) if a else 0
    digit_b = DIGITS.index(b[0]) if b is not None else len(DIGITS)
    if digit_b - digit_a > 1:
        return DIGITS[(digit_a + digit_b + 1) // 2]
    if b is not None and len(b) > 1:
        return b[:1]
    return DIGITS[digit_a] + _midpoint(a[1:], None)


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise InvalidKey(f"invalid head {head!r}")


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise InvalidKey(f"invalid key {key!r}")
    return key[:length]


def _validate(key: str) -> None:
    if not key or key == SMALLEST_INTEGER:
        raise InvalidKey(f"invalid key {key!r}")
    integer = _integer_part(key)
    if any(c not in DIGITS for c in key) or key[len(integer) :].endswith(ZERO):
        raise InvalidKey(f"invalid key {key!r}")


def _increment(x: str) -> str | None:
    head, digits = x[0], list(x[1:])
    for i in reversed(range(len(digits))):
        d = DIGITS.index(digits[i]) + 1
        if d < len(DIGITS):
            digits[i] = DIGITS[d]
            return head + "".join(digits)
        digits[i] = ZERO
    if head == "Z":
        return "a" + ZERO
    if head == "z":
        return None
    new_head = chr(ord(head) + 1)
    if new_head > "a":
        digits.append(ZERO)
    else:
        digits.pop()
    return new_head + "".join(digits)


def _decrement(x: str) -> str | None:
    head, digits = x[0], list(x[1:])
    for i in reversed(range(len(digits))):
        d = DIGITS.index(digits[i]) - 1
        if d >= 0:
            digits[i] = DIGITS[d]
            return head + "".join(digits)
        digits[i] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    new_head = chr(ord(head) - 1)
    if new_head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return new_head + "".join(digits)


def key_between(a: str | None, b: str | None) -> str:
    """The shortest-ish key strictly between a and b (None: open end). Deterministic."""
    if a is not None:
        _validate(a)
    if b is not None:
        _validate(b)
    if a is not None and b is not None and a >= b:
        raise InvalidKey(f"{a!r} >= {b!r}")
    if a is None:
        if b is None:
            return "a" + ZERO
        integer_b = _integer_part(b)
        fraction_b = b[len(integer_b) :]
        if integer_b == SMALLEST_INTEGER:
            return integer_b + _midpoint("", fraction_b)
        if integer_b < b:
            return integer_b
        lower = _decrement(integer_b)
        if lower is None:
            raise InvalidKey("cannot go below the smallest key")
        return lower
    integer_a = _integer_part(a)
    fraction_a = a[len(integer_a) :]
    if b is None:
        higher = _increment(integer_a)
        return integer_a + _midpoint(fraction_a, None) if higher is None else higher
    integer_b = _integer_part(b)
    if integer_a == integer_b:
        return integer_a + _midpoint(fraction_a, b[len(integer_b) :])
    higher = _increment(integer_a)
    if higher is None:
        raise InvalidKey("cannot go above the largest key")
    if higher < b:
        return higher
    return integer_a + _midpoint(fraction_a, None)


def _jitter() -> str:
    digits = [secrets.choice(DIGITS) for _ in range(JITTER_DIGITS - 1)]
    return "".join(digits) + secrets.choice(DIGITS[1:])  # a fraction never ends in 0


def between(a: str | None, b: str | None) -> str:
    """A key strictly between a and b with random trailing digits: two writers who pick the
    same gap at once get distinct keys (with 62**2 - 62 = 3,782 to one odds against a tie)."""
    if a is None and b is not None and _integer_part(b) not in (b, SMALLEST_INTEGER):
        # Before the first key: below its integer part, as short as appending at the end.
        b = _integer_part(b)
    key = key_between(a, b)
    # Any extension of `key` stays below b unless key is a prefix of b: narrow until it is not.
    while b is not None and b.startswith(key):
        key = key_between(key, b)
    return key + _jitter()


def spread(count: int) -> list[str]:
    """`count` short keys in increasing order: a sibling group's keys after a rebalance."""
    keys: list[str] = []
    previous: str | None = None
    for _ in range(count):
        previous = key_between(previous, None)
        keys.append(previous)
    return keys
