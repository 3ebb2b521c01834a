"""Frames between the gateway and its shadow worker process (sans-io).

A frame is ``>II`` (meta length, payload length), the meta as JSON, then the payload: the raw
bodies the meta describes, back to back, so bodies never pass through JSON. A job carries the
client's request and the legacy answer; a result carries the comparison and, when the worker
thinks a sample is due, the native answer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

from .types import Captured, Comparison, Outcome

_HEADER = struct.Struct(">II")
# A frame bigger than this is a bug or a corrupted stream, never a real job (bodies are capped).
MAX_FRAME = 64 * 1024 * 1024


class FrameError(Exception):
    """The byte stream between gateway and worker is not made of frames any more."""


def encode(meta: dict[str, Any], *bodies: bytes) -> bytes:
    raw = orjson.dumps(meta)
    payload = b"".join(bodies)
    return _HEADER.pack(len(raw), len(payload)) + raw + payload


class FrameReader:
    """Feed bytes as they arrive; iterate complete frames as (meta, payload)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        self._buffer += data
        buffer = self._buffer
        frames: list[tuple[dict[str, Any], bytes]] = []
        offset = 0
        size = _HEADER.size
        while len(buffer) - offset >= size:
            meta_len, payload_len = _HEADER.unpack_from(buffer, offset)
            if meta_len + payload_len > MAX_FRAME:
                raise FrameError(f"frame of {meta_len + payload_len} bytes")
            end = offset + size + meta_len + payload_len
            if len(buffer) < end:
                break
            try:
                meta = orjson.loads(bytes(buffer[offset + size:offset + size + meta_len]))
            except orjson.JSONDecodeError as exc:
                raise FrameError("frame meta is not JSON") from exc
            frames.append((meta, bytes(buffer[offset + size + meta_len:end])))
            offset = end
        del buffer[:offset]
        return frames


@dataclass(slots=True)
class Job:
    id: int
    route: str
    request_id: str
    method: str
    target: str
    headers: list[tuple[str, str]]
    peer: str
    comparator: str
    body: bytes
    legacy: Captured


def encode_job(job: Job) -> bytes:
    return encode_job_parts(job.id, job.route, job.request_id, job.method, job.target, job.headers, job.peer,
                            job.comparator, job.body, job.legacy)


def encode_job_parts(job_id: int, route: str, request_id: str, method: str, target: str,
                     headers: list[tuple[str, str]], peer: str, comparator: str, body: bytes,
                     legacy: Captured) -> bytes:
    """``encode_job`` without building a Job first (the gateway sends one per shadowed request)."""
    meta = {"id": job_id, "route": route, "rid": request_id, "method": method, "target": target,
            "headers": headers, "peer": peer, "kind": comparator, "qlen": len(body),
            "status": legacy.status, "lheaders": legacy.headers, "trunc": legacy.truncated, "error": legacy.error,
            "elapsed": legacy.elapsed}
    return encode(meta, body, legacy.body)


def decode_job(meta: dict[str, Any], payload: bytes) -> Job:
    qlen = meta["qlen"]
    legacy = Captured(status=meta["status"], headers=[(k, v) for k, v in meta["lheaders"]], body=payload[qlen:],
                      truncated=meta["trunc"], error=meta["error"], elapsed=meta["elapsed"])
    return Job(meta["id"], meta["route"], meta["rid"], meta["method"], meta["target"],
               [(k, v) for k, v in meta["headers"]], meta["peer"], meta["kind"], payload[:qlen], legacy)


@dataclass(slots=True)
class Result:
    id: int
    comparison: Comparison
    native_elapsed: float | None  # None when the native leg produced no answer in time
    native: Captured | None  # only sent along when a sample is due


def encode_results(results: list[Result]) -> bytes:
    """Many results in one frame: a compact row per job, full detail only for sampled ones."""
    rows = []
    samples = []
    bodies = []
    for result in results:
        comparison = result.comparison
        rows.append([result.id, comparison.outcome.value, comparison.reason, result.native_elapsed])
        native = result.native
        if native is not None:
            samples.append({"id": result.id, "diff": comparison.diff, "nstatus": native.status,
                            "nheaders": native.headers, "ntrunc": native.truncated, "nerror": native.error,
                            "nlen": len(native.body)})
            bodies.append(native.body)
    meta: dict[str, Any] = {"b": rows}
    if samples:
        meta["s"] = samples
    return encode(meta, *bodies)


Row = tuple[int, Outcome, "str | None", "float | None"]


def decode_results(meta: dict[str, Any], payload: bytes) -> tuple[list[Row], dict[int, tuple[str, Captured]]]:
    """(rows of id, outcome, reason, native seconds) and, per sampled id, (diff, native answer)."""
    rows: list[Row] = [(row[0], Outcome(row[1]), row[2], row[3]) for row in meta["b"]]
    sampled: dict[int, tuple[str, Captured]] = {}
    offset = 0
    elapsed = {row[0]: row[3] for row in rows}
    for sample in meta.get("s", ()):
        end = offset + sample["nlen"]
        sampled[sample["id"]] = (sample["diff"], Captured(
            status=sample["nstatus"], headers=[(k, v) for k, v in sample["nheaders"]], body=payload[offset:end],
            truncated=sample["ntrunc"], error=sample["nerror"], elapsed=elapsed.get(sample["id"]) or 0.0))
        offset = end
    return rows, sampled
