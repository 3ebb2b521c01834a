from quotio_gateway.envswitch import switch


def test_default_on_goes_off_only_for_an_off_word():
    for value, expected in (("", True), ("  ", True), ("on", True), ("maybe", True), ("OFF", False),
                            ("0", False), ("false", False), ("no", False)):
        assert switch("X", default=True, environ={"X": value}) is expected, value
    assert switch("X", default=True, environ={}) is True


def test_default_off_goes_on_only_for_an_on_word():
    for value, expected in (("", False), ("maybe", False), ("0", False), ("1", True), ("ON", True),
                            ("true", True), ("yes", True)):
        assert switch("X", default=False, environ={"X": value}) is expected, value
    assert switch("X", default=False, environ={}) is False
