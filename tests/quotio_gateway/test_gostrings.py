"""Go's strings.TrimSpace / ToLower / EqualFold as quotio_gateway.gostrings gives them."""

from __future__ import annotations

from quotio_gateway.gostrings import go_equal_fold, go_lower, go_trim


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
