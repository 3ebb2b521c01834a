"""The real coding agents through the gateway in a two-turn tool loop, every upstream kind.

``test_agents_gateway.py`` proves one request per CLI and kind. An agent's real work is a loop:
the model calls a tool, the CLI runs it, and the next request carries the call and its result
back. Here the fake upstream answers the first request of a run with one streamed call of the
CLI's own file-reading tool (Claude Code ``Read``, Gemini CLI ``read_file``, Codex
``exec_command`` with ``cat``); the CLI reads ``secret.txt`` and sends the second request, which
the fake answers with text. So each case proves, cross-protocol included, that the gateway's
translated tool-call stream is one the CLI acts on, and that the second request reaches the
upstream with the call and its result paired the way that upstream's format pairs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.agents.conftest import (
    FAKE_PROTOCOL,
    KINDS,
    GatewayProcess,
    KindRun,
    ProxyProbe,
    ThreadedUpstream,
    require,
    run_every_kind,
)
from tests.agents.upstream import FakeUpstream, Recorded, _event, _sse, answer_text

SECRET = "the code is SECRET-42"
PROMPT = "Read the file secret.txt in the current directory and tell me what it says."
CLIS = ("claude", "codex", "gemini")
CALL_ID = "call_loop_0"


def _kind_of(path: str) -> str:
    if path.endswith("/messages"):
        return "claude"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/chat/completions"):
        return "openai"
    if ":streamGenerateContent" in path or ":generateContent" in path:
        return "gemini"
    return "other"


def _tool_names(protocol: str, body: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for tool in body.get("tools") or []:
        if protocol == "gemini":
            for declaration in tool.get("functionDeclarations", tool.get("function_declarations", [])) or []:
                names.add(declaration.get("name", ""))
        elif protocol == "openai":
            names.add((tool.get("function") or {}).get("name", ""))
        else:
            names.add(tool.get("name", ""))
    return names


def _has_tool_result(protocol: str, body: dict[str, Any]) -> bool:
    text = json.dumps(body)
    marker = {"claude": '"tool_result"', "responses": '"function_call_output"', "gemini": '"functionResponse"',
              "openai": '"role": "tool"'}[protocol]
    return marker in text


@dataclass
class ToolLoopUpstream(FakeUpstream):
    """The recording fake, except that a request with tools and no tool result gets a tool call."""

    # The working directory of the run on each protocol (each kind has its own protocol).
    cwd: dict[str, Path] = field(default_factory=dict)

    def _call(self, protocol: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        names = _tool_names(protocol, body)
        path = str(self.cwd[protocol] / "secret.txt")
        if "Read" in names:
            return "Read", {"file_path": path}
        if "read_file" in names:
            return "read_file", {"file_path": path}
        if "exec_command" in names:
            return "exec_command", {"cmd": "cat secret.txt"}
        return None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        protocol = _kind_of(request.path)
        raw = await request.read()  # aiohttp keeps the bytes: the parent reads them again
        body = json.loads(raw) if raw else {}
        call = None
        if request.method == "POST" and protocol in self.cwd and not _has_tool_result(protocol, body):
            call = self._call(protocol, body)
        if call is None:
            return await super()._dispatch(request)
        self.requests.append(Recorded(request.method, request.path, dict(request.query),
                                      {k.lower(): v for k, v in request.headers.items()}, body, protocol))
        return await _tool_call_stream(request, protocol, str(body.get("model", "")), *call)


async def _tool_call_stream(request: web.Request, protocol: str, model: str, name: str,
                            args: dict[str, Any]) -> web.StreamResponse:
    """One streamed call of ``name``, its arguments split over two deltas where the format streams them."""
    arguments = json.dumps(args)
    head, tail = arguments[:12], arguments[12:]
    if protocol == "claude":
        message = {"id": "msg_loop", "type": "message", "role": "assistant", "model": model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 11, "output_tokens": 1}}
        frames = [
            _event("message_start", {"type": "message_start", "message": message}),
            _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": CALL_ID, "name": name, "input": {}}}),
            *[_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "input_json_delta", "partial_json": piece}})
              for piece in (head, tail)],
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                                         "stop_sequence": None},
                                     "usage": {"output_tokens": 7}}),
            _event("message_stop", {"type": "message_stop"}),
        ]
        return await _sse(request, frames)
    if protocol == "responses":
        base = {"id": "resp_loop", "object": "response", "created_at": 1700000000, "model": model}
        item = {"id": "fc_loop", "type": "function_call", "status": "completed", "call_id": CALL_ID,
                "name": name, "arguments": arguments}
        usage = {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 18}
        events = [
            {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}},
            {"type": "response.output_item.added", "output_index": 0,
             "item": {**item, "status": "in_progress", "arguments": ""}},
            *[{"type": "response.function_call_arguments.delta", "item_id": "fc_loop", "output_index": 0,
               "delta": piece} for piece in (head, tail)],
            {"type": "response.function_call_arguments.done", "item_id": "fc_loop", "output_index": 0,
             "arguments": arguments},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": {**base, "status": "completed", "output": [item],
                                                        "usage": usage}},
        ]
        return await _sse(request, [_event(event["type"], {**event, "sequence_number": number})
                                    for number, event in enumerate(events, start=1)])
    if protocol == "openai":
        chunk = {"id": "chatcmpl-loop", "object": "chat.completion.chunk", "created": 1700000000, "model": model}

        def delta(value: dict[str, Any], finish: str | None = None) -> bytes:
            return _event(None, {**chunk, "choices": [{"index": 0, "delta": value, "finish_reason": finish}]})

        frames = [
            delta({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": CALL_ID, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            *[delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in (head, tail)],
            delta({}, "tool_calls"),
            _event(None, {**chunk, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7,
                                                            "total_tokens": 18}}),
            b"data: [DONE]\n\n",
        ]
        return await _sse(request, frames)
    # Gemini sends a call whole, in one chunk, with the finish and usage.
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}}]},
                              "finishReason": "STOP", "index": 0}],
              "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18},
              "modelVersion": model, "responseId": "gemini-loop"}
    return await _sse(request, [f"data: {json.dumps(answer)}\r\n\r\n".encode()])


class ToolLoopThreaded(ThreadedUpstream):
    def __init__(self) -> None:
        super().__init__()
        self.server: ToolLoopUpstream = ToolLoopUpstream()


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedUpstream]:
    """Overrides conftest's fake for this module, so the gateway fixture points at the tool-loop fake."""
    server = ToolLoopThreaded()
    server.start()
    yield server
    server.stop()


def _pairs(protocol: str, body: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(calls, results) of the second request, each as (id or name, text), in the upstream's own shape."""
    calls: list[tuple[str, str]] = []
    results: list[tuple[str, str]] = []
    if protocol == "claude":
        for message in body["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else []:
                if block.get("type") == "tool_use" and message["role"] == "assistant":
                    calls.append((block["id"], json.dumps(block["input"])))
                if block.get("type") == "tool_result" and message["role"] == "user":
                    results.append((block["tool_use_id"], json.dumps(block["content"])))
    elif protocol == "responses":
        for item in body["input"]:
            if item.get("type") == "function_call":
                calls.append((item["call_id"], item["arguments"]))
            if item.get("type") == "function_call_output":
                results.append((item["call_id"], json.dumps(item["output"])))
    elif protocol == "openai":
        for message in body["messages"]:
            for call in message.get("tool_calls") or []:
                calls.append((call["id"], call["function"]["arguments"]))
            if message["role"] == "tool":
                results.append((message["tool_call_id"], json.dumps(message["content"])))
    else:
        for turn in body["contents"]:
            for part in turn["parts"]:
                if "functionCall" in part and turn["role"] == "model":
                    calls.append((part["functionCall"]["name"], json.dumps(part["functionCall"].get("args"))))
                if "functionResponse" in part and turn["role"] != "model":
                    results.append((part["functionResponse"]["name"],
                                    json.dumps(part["functionResponse"].get("response"))))
    return calls, results


@dataclass
class LoopMatrix:
    gateway: GatewayProcess
    upstream: ToolLoopThreaded
    probe: ProxyProbe
    tmp: pytest.TempPathFactory
    done: dict[tuple[str, str], KindRun] = field(default_factory=dict)

    async def case(self, cli: str, kind: str) -> KindRun:
        agent = require(cli)
        if (cli, kind) not in self.done:
            workdirs = {each: self.tmp.mktemp(f"loop-{cli}-{each}") for each in KINDS}
            for each, workdir in workdirs.items():
                (workdir / "cwd").mkdir()
                (workdir / "cwd" / "secret.txt").write_text(SECRET + "\n")
                self.upstream.server.cwd[FAKE_PROTOCOL[each]] = workdir / "cwd"
            runs = await run_every_kind(agent, self.gateway, self.upstream, self.probe, prompt=PROMPT,
                                        workdirs=workdirs, time_limit=90)
            self.done.update({(cli, each): run for each, run in runs.items()})
        return self.done[(cli, kind)]


@pytest.fixture(scope="module")
def loop_matrix(gateway: GatewayProcess, upstream: ToolLoopThreaded, proxy_probe: ProxyProbe,
                tmp_path_factory: pytest.TempPathFactory) -> LoopMatrix:
    return LoopMatrix(gateway, upstream, proxy_probe, tmp_path_factory)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cli", CLIS)
async def test_tool_loop_through_gateway(cli: str, kind: str, loop_matrix: LoopMatrix) -> None:
    case = await loop_matrix.case(cli, kind)
    protocol = FAKE_PROTOCOL[kind]
    # The CLI ran the streamed call and printed the answer to the second request.
    assert case.result.exit_code == 0, case.context()
    assert case.result.stdout.strip().endswith(answer_text(protocol)), case.context()
    assert case.escaped == []
    assert [r.kind for r in case.requests] == [protocol, protocol], [(r.method, r.path) for r in case.requests]

    first, second = case.requests
    assert not _has_tool_result(protocol, first.body)
    calls, results = _pairs(protocol, second.body)
    # One call with the arguments the model gave, one result holding the file, paired by id
    # (Gemini pairs by name; the Claude → Gemini translator derives it from the Claude id).
    assert len(calls) == 1 and len(results) == 1, (calls, results)
    assert ("secret.txt" in calls[0][1]), calls
    assert "SECRET-42" in results[0][1], results
    if protocol != "gemini":
        assert calls[0][0] == results[0][0]
