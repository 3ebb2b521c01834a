"""Frames between the gateway and the shadow worker: round trips, partial reads, corruption."""

from __future__ import annotations

import struct

import pytest

from quotio_gateway.shadow.types import Captured, Comparison, Outcome
from quotio_gateway.shadow.wire import (
    MAX_FRAME,
    FrameError,
    FrameReader,
    Job,
    Result,
    decode_job,
    decode_results,
    encode,
    encode_job,
    encode_results,
)


def job(body: bytes = b'{"q": 1}') -> Job:
    legacy = Captured(status=200, headers=[("Content-Type", "application/json")], body=b'{"a": [1, 2]}',
                      truncated=True, error=None, elapsed=0.25)
    return Job(7, "GET /v1/models", "rid", "GET", "/v1/models?x=1", [("Host", "h"), ("X-Empty", "")], "10.0.0.1",
               "models", body, legacy)


def test_job_round_trip_keeps_bodies_out_of_json():
    frame = encode_job(job())
    assert b'{"q": 1}{"a": [1, 2]}' in frame  # raw bytes after the meta, not escaped into it
    (meta, payload), = list(FrameReader().feed(frame))
    assert decode_job(meta, payload) == job()


def test_job_with_binary_and_empty_bodies():
    for body in (b"", bytes(range(256))):
        (meta, payload), = list(FrameReader().feed(encode_job(job(body))))
        assert decode_job(meta, payload) == job(body)


def test_results_travel_as_one_frame_with_detail_only_for_samples():
    native = Captured(status=500, headers=[("A", "b")], body=b"\x00\xff", truncated=False, error="RuntimeError",
                      elapsed=0.5)
    sampled = Result(3, Comparison(Outcome.MISMATCH, "@ $.x\n- 1\n+ 2", reason=None), 0.5, native)
    plain = Result(4, Comparison(Outcome.SKIPPED, "legacy leg failed", reason="legacy_failed"), None, None)
    other = Result(5, Comparison(Outcome.MATCH), 0.25, Captured(status=200, headers=[], body=b"ok"))
    frames = FrameReader().feed(encode_results([sampled, plain, other]))
    assert len(frames) == 1
    rows, samples = decode_results(*frames[0])
    assert rows == [(3, Outcome.MISMATCH, None, 0.5), (4, Outcome.SKIPPED, "legacy_failed", None),
                    (5, Outcome.MATCH, None, 0.25)]
    assert samples == {3: ("@ $.x\n- 1\n+ 2", native),
                       5: ("", Captured(status=200, headers=[], body=b"ok", elapsed=0.25))}


def test_frames_split_at_every_byte_come_out_whole():
    stream = encode_job(job()) + encode({"ready": True}) + encode_job(job(b"second"))
    reader = FrameReader()
    got = []
    for i in range(len(stream)):
        got.extend(reader.feed(stream[i:i + 1]))
    assert [m.get("ready", False) for m, _ in got] == [False, True, False]
    assert decode_job(*got[2]).body == b"second"


def test_oversized_frame_is_refused():
    with pytest.raises(FrameError, match="frame of"):
        list(FrameReader().feed(struct.pack(">II", MAX_FRAME, 1)))


def test_meta_that_is_not_json_is_refused():
    with pytest.raises(FrameError, match="not JSON"):
        list(FrameReader().feed(struct.pack(">II", 3, 0) + b"{x]"))
