import pytest

from quotio_gateway.flags.loader import FlagsError, load_flags_file, packaged_flags_path, parse_flags_yaml


def test_packaged_table_is_valid_and_all_legacy():
    table = load_flags_file(packaged_flags_path())
    assert table.default.value == "legacy"
    assert table.routes and all(r.mode.value == "legacy" for r in table.routes)


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("routes: [", "", "line"),
    ("- just\n- a list\n", "", "the document must be a mapping"),
    ("default: sideways\n", "default", "Input should be 'legacy', 'shadow', 'canary' or 'native'"),
    ("routes:\n  - {match: 'GET /x', mode: turbo}\n", "routes.0.mode", "Input should be"),
    ("routes:\n  - {match: 'GET /x', mode: canary, percent: 101}\n", "routes.0.percent",
     "less than or equal to 100"),
    ("routes:\n  - {match: 'GET /x', mode: canary, percent: -1}\n", "routes.0.percent",
     "greater than or equal to 0"),
    ("routes:\n  - {match: 'GET /x', mode: canary}\n", "routes.0", "canary routes need a percent"),
    ("routes:\n  - {match: 'FETCH /x', mode: native}\n", "routes.0.match", "unknown HTTP method"),
    ("routes:\n  - {match: '/x', mode: native}\n", "routes.0.match", 'match must look like "METHOD /path"'),
    ("routes:\n  - {match: 'GET x', mode: native}\n", "routes.0.match", "path must start with /"),
    ("routes:\n  - {match: 'GET /x', mode: native, shadow: 1}\n", "routes.0.shadow", "Extra inputs"),
    ("legacy: {url: 'ftp://x'}\n", "legacy", "legacy.url must start with http"),
    ("legacy: {url: 'http://a', binary: /bin/x}\n", "legacy", "not both"),
    ("routes:\n  - {match: 'GET /x', mode: native}\n  - {match: 'get /x', mode: legacy}\n", "",
     "duplicate route"),
])
def test_invalid_tables_name_the_key_and_reason(text, key, reason):
    with pytest.raises(FlagsError) as info:
        parse_flags_yaml(text, "flags.yaml")
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(info.value).startswith("invalid flags flags.yaml:")


def test_missing_file_is_a_flags_error(tmp_path):
    with pytest.raises(FlagsError) as info:
        load_flags_file(tmp_path / "nope.yaml")
    assert "No such file" in info.value.reason


def test_front_door_and_shadow_worker_switches():
    table = load_flags_file(packaged_flags_path())
    assert table.server.front_door is True and table.shadow.worker is True
    table = parse_flags_yaml("server: {front_door: false}\nshadow: {worker: false}\n", "flags.yaml")
    assert table.server.front_door is False and table.shadow.worker is False
    with pytest.raises(FlagsError) as info:
        parse_flags_yaml("server: {front_door: sometimes}\n", "flags.yaml")
    assert info.value.key == "server.front_door"
