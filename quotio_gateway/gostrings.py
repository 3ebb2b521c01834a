"""Go's ``strings.TrimSpace`` and ``strings.ToLower``, which Python's ``str.strip``/``str.lower``
only approximate: ``strip`` also removes U+001C..U+001F, and ``lower`` applies full case mapping
(U+0130 becomes two code points) and the Greek final-sigma rule, neither of which Go does. Also
``strconv.Quote`` (``%q``), for messages the legacy builds with it, and the header-name spelling
Go's ``http.Header`` keeps (``textproto.CanonicalMIMEHeaderKey``)."""

from __future__ import annotations

# Go's unicode.IsSpace set, which strings.TrimSpace strips.
GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
            "\u2028\u2029\u202f\u205f\u3000")


def go_trim(text: str) -> str:
    """``strings.TrimSpace``."""
    return text.strip(GO_SPACE)


def go_decimal(text: str) -> int | None:
    """The value ``strconv.Atoi``/``ParseInt(text, 10, …)`` reads from a spelling they accept (an
    optional sign, then ASCII digits only), else None; the bit-size range is left to the caller."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return int(text) if digits.isascii() and digits.isdigit() else None


def go_lower(text: str) -> str:
    """``strings.ToLower``: each code point through ``unicode.ToLower`` (simple mapping)."""
    if text.isascii():
        return text.lower()
    # Lowering one code point at a time keeps final sigma out; U+0130 is the only code point
    # whose Python lowercase is longer than one (Go maps it to a plain "i").
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def _same_fold(a: str, b: str) -> bool:
    if a == b:
        return True
    # Two code points share a Unicode simple-folding orbit when one case mapping of each meets
    # (s/S/U+017F meet in "S", k/K/U+212A in "k"); multi-character mappings never count.
    lower_a, lower_b, upper_a, upper_b = a.lower(), b.lower(), a.upper(), b.upper()
    return (len(lower_a) == 1 and lower_a == lower_b) or (len(upper_a) == 1 and upper_a == upper_b)


def go_equal_fold(a: str, b: str) -> bool:
    """``strings.EqualFold``: equal under simple case folding, code point by code point."""
    if a.isascii() and b.isascii():
        return a.lower() == b.lower()
    return len(a) == len(b) and all(_same_fold(x, y) for x, y in zip(a, b, strict=True))


_QUOTE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """``strconv.Quote``: double-quoted, printable characters as they are, others escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            # A lone surrogate cannot be in a Go string: gjson decodes its escape to U+FFFD.
            ch, code = "\ufffd", 0xFFFD
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable():
            # Python's printable set is Go's unicode.IsPrint: letters, marks, numbers,
            # punctuation, symbols and the ASCII space.
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


# RFC 7230 token characters: the only bytes Go rewrites a header name over.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def go_canonical_header_key(name: str) -> str:
    """``textproto.CanonicalMIMEHeaderKey``: a capital at the start and after each ``-``, the rest
    lower case; a name holding anything but token characters stays as it is."""
    if not all(ch in _TOKEN_CHARS for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
