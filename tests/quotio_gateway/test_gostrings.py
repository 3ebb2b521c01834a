"""Go's strings.TrimSpace / ToLower / EqualFold as quotio_gateway.gostrings gives them."""

from __future__ import annotations

from quotio_gateway.gostrings import go_canonical_header_key, go_equal_fold, go_lower, go_quote, go_trim


def test_go_trim_keeps_python_only_whitespace() -> None:
    assert go_trim("\u3000 a\t\n") == "a"
    assert go_trim("\x1ca\x1f") == "\x1ca\x1f"  # Go's unicode.IsSpace excludes these separators


def test_go_lower_is_simple_mapping() -> None:
    assert go_lower("\u0130ΑΣ") == "iασ"  # no two-code-point i, no final sigma
    assert go_lower("ABC") == "abc"


def test_go_equal_fold_uses_simple_folding() -> None:
    assert go_equal_fold("K", "\u212a")  # Kelvin sign folds to k
    assert go_equal_fold("s", "\u017f")  # long s folds to s
    assert not go_equal_fold("ss", "\u00df")  # ß is not ss under simple folding


def test_go_quote_escapes_as_strconv_quote() -> None:
    assert go_quote('hi"gh') == '"hi\\"gh"'
    assert go_quote("a\\b\n\t") == '"a\\\\b\\n\\t"'
    assert go_quote("\x01\x7f") == '"\\x01\\x7f"'
    assert go_quote("\u00a0\u00ad") == '"\\u00a0\\u00ad"'  # no-break space, soft hyphen: not IsPrint
    assert go_quote("\U000e0001") == '"\\U000e0001"'
    assert go_quote("é 高") == '"é 高"'
    assert go_quote("\ud800") == '"\ufffd"'


def test_go_canonical_header_key() -> None:
    assert go_canonical_header_key("x-goog-api-key") == "X-Goog-Api-Key"
    assert go_canonical_header_key("X-REQUEST-ID") == "X-Request-Id"
    assert go_canonical_header_key("www-authenticate") == "Www-Authenticate"
    assert go_canonical_header_key("x--y") == "X--Y"
    # A name with anything but token characters is left alone, as textproto leaves it.
    assert go_canonical_header_key("bad name") == "bad name"
    assert go_canonical_header_key("é-x") == "é-x"
