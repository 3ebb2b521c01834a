"""Differences the native side makes on purpose (docs/compatibility.md), so shadow counts them as
``ignored`` with the rule's name instead of ``mismatch``.

Each rule looks at the two structural LLM signatures (``comparators.llm_signature``) and, when the
documented deviation is present, hands back both signatures with exactly that piece of the
difference taken out; it returns ``None`` when its deviation is not there. Rules are applied one
after the other, so one answer may show two documented deviations at once (a Claude-backed
Responses stream differs both in item framing and in usage keys). The difference is expected only
when nothing is left once the applicable rules have run; anything a rule does not explain still
mismatches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Signature = dict[str, Any]
Explained = tuple[Signature, Signature] | None

# Responses stream events that close an item or a part; the legacy translators place these
# differently per pair (rows 22 and 28 of docs/compatibility.md).
_CLOSE_EVENTS = frozenset({
    "response.output_item.done", "response.content_part.done", "response.output_text.done",
})
# The usage object of a Responses answer as the native side always writes it.
_RESPONSES_USAGE_KEYS = (
    "input_tokens", "input_tokens_details", "input_tokens_details.cached_tokens", "output_tokens",
    "output_tokens_details", "output_tokens_details.reasoning_tokens", "total_tokens",
)
_REASONING_USAGE_KEYS = frozenset({"output_tokens_details", "output_tokens_details.reasoning_tokens"})
# Request fields a Responses object repeats (handlers/translation/openai_responses.ECHO_FIELDS);
# kept here as data so the shadow package does not import the translators.
_RESPONSES_ECHO_FIELDS = frozenset({
    "instructions", "max_output_tokens", "max_tool_calls", "model", "parallel_tool_calls",
    "previous_response_id", "prompt_cache_key", "reasoning", "safety_identifier", "service_tier",
    "store", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation",
    "user", "metadata",
})


# The error type of the gateway's own 500 in each client protocol (OpenAI and Responses, Claude,
# Gemini).
_SERVER_ERROR_TYPES = frozenset({"server_error", "api_error", "INTERNAL"})


@dataclass(frozen=True, slots=True)
class ExpectedDifference:
    name: str  # the rule name quoted in docs/compatibility.md
    explain: Callable[[Signature, Signature], Explained]


def _with(sig: Signature, **changes: Any) -> Signature:
    return {**sig, **changes}


def _whole(legacy: Signature, native: Signature) -> Explained:
    """The rule accounts for the entire answer (a status the other side never gives)."""
    return legacy, legacy


def _gemini_unknown_method(legacy: Signature, native: Signature) -> Explained:
    """Legacy answers ``/v1beta/models/m:unknownMethod`` with an empty 200; native with a 404."""
    if (legacy.get("status") == 200 and legacy.get("body") == "empty"
            and native.get("status") == 404 and native.get("error_type") == "invalid_request_error"):
        return _whole(legacy, native)
    return None


def _codex_tool_calls_finish(legacy: Signature, native: Signature) -> Explained:
    """A non-stream chat answer from Codex with tool calls: legacy says ``stop``, native
    ``tool_calls``. The calls themselves are left for the comparison."""
    if (native.get("tool_calls") and "events" not in native
            and legacy.get("finish_reasons") == ["stop"] and native.get("finish_reasons") == ["tool_calls"]):
        return legacy, _with(native, finish_reasons=["stop"])
    return None


def _truncated_stream_flagged(legacy: Signature, native: Signature) -> Explained:
    """Legacy ends a stream cut short by the upstream without a word (an OpenAI chat or
    completions client still gets its ``[DONE]``: the handler writes one when the channel closes,
    openai_handlers.go:668-670); native sends the protocol's error frame instead. Everything before
    must agree, the legacy must report no error, and a ``[DONE]`` only counts after an answer that
    never finished (no finish reason), so an error in place of a finished answer still mismatches."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list) or legacy.get("error_type") is not None:
        return None
    if events_n == [*events_l, "error"]:
        return legacy, _with(native, events=events_l, error_type=None)
    if (events_l[-1:] == ["[DONE]"] and events_n == [*events_l[:-1], "error"]
            and legacy.get("finish_reasons") == [] and native.get("finish_reasons") == []):
        return legacy, _with(native, events=events_l, error_type=None)
    return None


def _without_close_events(events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for label in events:
        if label in _CLOSE_EVENTS:
            continue
        if not out or out[-1] != label:
            out.append(label)
    return out


def _responses_item_framing(legacy: Signature, native: Signature) -> Explained:
    """Responses streams: the legacy closes items at other moments than native (no
    ``output_item.done`` for a Claude reasoning item, the message closed at the first tool call
    on OpenAI-compatible upstreams). The items opened, and the order they open in, must agree."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list) or events_l == events_n:
        return None
    if not any(isinstance(label, str) and label.startswith("response.") for label in events_l):
        return None
    if _without_close_events(events_l) != _without_close_events(events_n):
        return None
    return legacy, _with(native, events=events_l)


_CALL_ADDED = "response.output_item.added:function_call"
_CALL_DELTA = "response.function_call_arguments.delta"


def _one_call_item(events: list[Any]) -> list[Any]:
    """Close events dropped and back-to-back function-call items (added, argument deltas) folded
    into one, which is how the legacy frames parallel calls of one choice."""
    out: list[Any] = []
    for label in _without_close_events(events):
        if label == _CALL_ADDED and (out[-1:] == [_CALL_ADDED] or out[-2:] == [_CALL_ADDED, _CALL_DELTA]):
            continue
        if not out or out[-1] != label:
            out.append(label)
    return out


def _parallel_calls_split(legacy: Signature, native: Signature) -> Explained:
    """Responses client, OpenAI-compatible upstream: the legacy merges every tool call of a choice
    into one ``function_call`` item (the last name, the arguments run together); native gives each
    call its own item. The items around the calls must agree."""
    calls_l, calls_n = legacy.get("tool_calls"), native.get("tool_calls")
    events_l, events_n = legacy.get("events"), native.get("events")
    if not (isinstance(calls_l, list) and isinstance(calls_n, list) and len(calls_l) == 1 and len(calls_n) >= 2
            and isinstance(events_l, list) and isinstance(events_n, list)):
        return None
    merged = calls_l[0]
    if not isinstance(merged, dict) or merged.get("name") not in (calls_n[0].get("name"), calls_n[-1].get("name")):
        return None
    shapes = [call.get("arguments") for call in calls_n]
    if merged.get("arguments") != "invalid-json" and merged.get("arguments") not in shapes:
        return None
    blocks_n = native.get("content_blocks") or []
    first_call = blocks_n.index("function_call") if "function_call" in blocks_n else len(blocks_n)
    folded = blocks_n[:first_call + 1] + [b for b in blocks_n[first_call + 1:] if b != "function_call"]
    if legacy.get("content_blocks") != folded or _one_call_item(events_l) != _one_call_item(events_n):
        return None
    return _with(legacy, tool_calls=calls_n, content_blocks=blocks_n, events=events_n), native


_REASONING_ADDED = "response.output_item.added:reasoning"
_REASONING_LAST = "response.reasoning_summary_part.done"
# The order in which the legacy lists items in ``response.completed.output``.
_LEGACY_OUTPUT_RANK = {"reasoning": 0, "message": 1, "function_call": 2}
# The legacy's Gemini non-stream Responses answer adds calls as it meets them, then the reasoning
# item, then the message (gemini_openai-responses_response.go).
_LEGACY_GEMINI_OUTPUT_RANK = {"function_call": 0, "reasoning": 1, "message": 2}


def _collapse(events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for label in events:
        if not out or out[-1] != label:
            out.append(label)
    return out


def _without_late_reasoning(events: list[Any]) -> list[Any]:
    """Events with every reasoning item that opens after a message or call item taken out (from
    its ``added`` to its ``reasoning_summary_part.done`` and the ``output_item.done`` after it)."""
    out: list[Any] = []
    other_item_seen = False
    index = 0
    while index < len(events):
        label = events[index]
        if label == _REASONING_ADDED and other_item_seen:
            index += 1
            while index < len(events) and events[index] != _REASONING_LAST:
                index += 1
            index += 1
            if index < len(events) and events[index] == "response.output_item.done":
                index += 1
            continue
        if isinstance(label, str) and label.startswith("response.output_item.added:"):
            other_item_seen = other_item_seen or label != _REASONING_ADDED
        out.append(label)
        index += 1
    return _collapse(out)


def _gemini_late_thoughts(legacy: Signature, native: Signature) -> Explained:
    """Gemini upstream, Responses client: thoughts that arrive after the answer started open a new
    reasoning item natively; the legacy drops them. Only such reasoning items may differ."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list) or len(events_n) <= len(events_l):
        return None
    if _without_late_reasoning(events_n) != events_l or _without_late_reasoning(events_l) != events_l:
        return None
    blocks_n = native.get("content_blocks") or []
    first_other = next((i for i, block in enumerate(blocks_n) if block != "reasoning"), len(blocks_n))
    kept = blocks_n[:first_other] + [b for b in blocks_n[first_other:] if b != "reasoning"]
    if kept == blocks_n or kept != legacy.get("content_blocks"):
        return None
    return legacy, _with(native, events=events_l, content_blocks=kept)


def _responses_output_order(legacy: Signature, native: Signature) -> Explained:
    """``response.completed.output``: the legacy lists reasoning, then the message, then calls
    (a Gemini upstream's non-stream answer: calls, reasoning, message); native lists items in
    ``output_index`` order. The same items must be there."""
    blocks_l, blocks_n = legacy.get("content_blocks"), native.get("content_blocks")
    if not isinstance(blocks_l, list) or not isinstance(blocks_n, list) or blocks_l == blocks_n:
        return None
    if not set(blocks_n) <= _LEGACY_OUTPUT_RANK.keys():
        return None
    for rank in (_LEGACY_OUTPUT_RANK, _LEGACY_GEMINI_OUTPUT_RANK):
        if sorted(blocks_n, key=lambda block: rank[block]) == blocks_l:
            return legacy, _with(native, content_blocks=blocks_l)
    return None


_CLAUDE_CLOSING = ("content_block_stop", "message_delta", "message_stop")


def _claude_stream_closed_without_done(legacy: Signature, native: Signature) -> Explained:
    """OpenAI-compatible upstream, Claude client: a stream that finished (``finish_reason``) but
    never sent ``[DONE]``. The legacy writes nothing more; native closes the open blocks and sends
    ``message_delta`` and ``message_stop``. The legacy's frames must be the start of native's."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list) or "message_stop" in events_l:
        return None
    if legacy.get("error_type") is not None or events_n[:len(events_l)] != events_l:
        return None
    tail = events_n[len(events_l):]
    if not tail or tail[-1] != "message_stop" or any(label not in _CLAUDE_CLOSING for label in tail):
        return None
    if [label for label in _CLAUDE_CLOSING if label in tail] != tail:
        return None
    finish_l, usage_l = legacy.get("finish_reasons"), legacy.get("usage_keys") or []
    if finish_l not in ([], native.get("finish_reasons")) or not set(usage_l) <= set(native.get("usage_keys") or []):
        return None
    return _with(legacy, events=events_n, finish_reasons=native.get("finish_reasons"),
                 usage_keys=native.get("usage_keys")), native


def _stream_tool_use_stop(legacy: Signature, native: Signature) -> Explained:
    """Claude client, Gemini-family upstream, stream: the call came in an earlier chunk than the
    finish. The legacy's stop reason looks only at the finishing chunk (``end_turn``); native's at
    the whole answer (``tool_use``). The calls themselves are left for the comparison."""
    if ("events" in native and native.get("tool_calls")
            and legacy.get("finish_reasons") == ["end_turn"] and native.get("finish_reasons") == ["tool_use"]):
        return legacy, _with(native, finish_reasons=["end_turn"])
    return None


def _stream_closed_without_output_count(legacy: Signature, native: Signature) -> Explained:
    """Claude client, Gemini-family upstream, stream: the finishing chunk's usage has no
    ``candidatesTokenCount`` (thinking used the whole budget). The legacy then sends neither
    ``content_block_stop`` nor ``message_delta``, so its answer has no stop reason; native closes
    the answer before ``message_stop`` (row 43). Everything before the close is compared."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list):
        return None
    if legacy.get("finish_reasons") != [] or len(native.get("finish_reasons") or []) != 1:
        return None
    if events_n[-3:] != ["content_block_stop", "message_delta", "message_stop"] or events_l[-1:] != ["message_stop"]:
        return None
    return legacy, _with(native, events=[*events_n[:-3], "message_stop"], finish_reasons=[])


def _null_tool_continuation(legacy: Signature, native: Signature) -> Explained:
    """Claude client, OpenAI-compatible upstream, stream: later chunks of a call repeat
    ``"name": null``. The legacy reopens the call's block with the name "" each time, so the block
    the signature keeps is nameless; native keeps the call's name. Same calls, same arguments."""
    calls_l, calls_n = legacy.get("tool_calls"), native.get("tool_calls")
    if "events" not in native or not isinstance(calls_l, list) or not isinstance(calls_n, list):
        return None
    if len(calls_l) != len(calls_n) or not any(c.get("name") == "" for c in calls_l):
        return None
    renamed = []
    for call_l, call_n in zip(calls_l, calls_n, strict=True):
        if call_l.get("name") == "" and call_n.get("name") and call_l.get("arguments") == call_n.get("arguments"):
            call_l = call_n
        renamed.append(call_l)
    return _with(legacy, tool_calls=renamed), native


def _nameless_server_tool_call(legacy: Signature, native: Signature) -> Explained:
    """Gemini client, Claude upstream: a server tool block (``server_tool_use``: Anthropic's own
    web search). The legacy turns its input into a ``functionCall`` without a name; native leaves
    the block out, as it does every block that is not the client's tool."""
    calls_l, calls_n = legacy.get("tool_calls"), native.get("tool_calls")
    if not isinstance(calls_l, list) or not isinstance(calls_n, list):
        return None
    named = [call for call in calls_l if call.get("name")]
    if len(named) == len(calls_l) or named != calls_n:
        return None
    return _with(legacy, tool_calls=named), native


def _claude_max_tokens_for_gemini(legacy: Signature, native: Signature) -> Explained:
    """Gemini client, Claude upstream, an answer cut by ``max_tokens``: the legacy says ``STOP``
    (it sets ``MAX_TOKENS`` and overwrites it), native ``MAX_TOKENS``. Only those candidates'
    reasons may differ."""
    reasons_l, reasons_n = legacy.get("finish_reasons"), native.get("finish_reasons")
    if not isinstance(reasons_l, list) or not isinstance(reasons_n, list) or len(reasons_l) != len(reasons_n):
        return None
    if "MAX_TOKENS" not in reasons_n:
        return None
    if any(new != old and (new, old) != ("MAX_TOKENS", "STOP") for old, new in zip(reasons_l, reasons_n, strict=True)):
        return None
    return legacy, _with(native, finish_reasons=reasons_l)


def _finish_with_last_delta(legacy: Signature, native: Signature) -> Explained:
    """Gemini client, OpenAI-compatible upstream, a stream whose finish reason comes in the chunk
    that also carries text or tool-call deltas: the legacy never reads that reason, so its
    candidate never ends and the calls it held are never sent; native ends the candidate there,
    with the calls. The legacy side must have no finish at all and no call native lacks."""
    if "events" not in native or legacy.get("finish_reasons") != [] or not native.get("finish_reasons"):
        return None
    calls_l, calls_n = legacy.get("tool_calls"), native.get("tool_calls")
    if not isinstance(calls_l, list) or not isinstance(calls_n, list) or calls_n[: len(calls_l)] != calls_l:
        return None
    return legacy, _with(native, finish_reasons=[], tool_calls=calls_l)


def _reasoning_usage_keys(legacy: Signature, native: Signature) -> Explained:
    """Responses usage: the legacy writes the reasoning count only when it has one (Claude
    upstream: an estimate above 0; Gemini non-stream: ``thoughtsTokenCount`` present), with its
    ``output_tokens_details`` object then, except a Claude non-stream answer, whose template
    always has that object, empty without thinking (claude_openai-responses_response.go:458);
    native always writes both. Every other usage key must agree."""
    keys_l, keys_n = legacy.get("usage_keys"), native.get("usage_keys")
    if not isinstance(keys_l, list) or not isinstance(keys_n, list) or "input_tokens" not in keys_l:
        return None
    if "output_tokens_details.reasoning_tokens" in keys_l or set(keys_n) != set(keys_l) | _REASONING_USAGE_KEYS:
        return None
    return legacy, _with(native, usage_keys=keys_l)


def _responses_usage_when_missing(legacy: Signature, native: Signature) -> Explained:
    """Responses answers where the legacy has no usage at all (a Gemini answer without
    ``usageMetadata``, an OpenAI usage chunk after the finish) while native writes the usage
    object. The native object must be exactly the Responses usage shape."""
    if legacy.get("usage_keys") != [] or native.get("usage_keys") != list(_RESPONSES_USAGE_KEYS):
        return None
    explained = _with(native, usage_keys=[])
    keys_l, keys_n = legacy.get("keys"), native.get("keys")
    if isinstance(keys_l, list) and isinstance(keys_n, list) and "usage" in keys_n and "usage" not in keys_l:
        explained["keys"] = [key for key in keys_n if key != "usage"]
    return legacy, explained


def _responses_request_echo(legacy: Signature, native: Signature) -> Explained:
    """Non-stream Responses objects from Gemini CLI / Antigravity (and OpenAI-compatible)
    upstreams: native repeats the client's request fields where the legacy has none or others."""
    keys_l, keys_n = legacy.get("keys"), native.get("keys")
    if not isinstance(keys_l, list) or not isinstance(keys_n, list) or "output" not in keys_n:
        return None
    extra_n, extra_l = set(keys_n) - set(keys_l), set(keys_l) - set(keys_n)
    if not (extra_n or extra_l) or not (extra_n | extra_l) <= _RESPONSES_ECHO_FIELDS:
        return None
    return legacy, _with(native, keys=keys_l)


def _held_codex_call_once(legacy: Signature, native: Signature) -> Explained:
    """Codex upstream, Gemini client: the legacy repeats the held function-call chunk before
    every later chunk; native sends it once. Every extra legacy call must repeat one sent
    earlier, and the native calls must be the legacy ones in order."""
    calls_l, calls_n = legacy.get("tool_calls"), native.get("tool_calls")
    if not isinstance(calls_l, list) or not isinstance(calls_n, list) or len(calls_l) <= len(calls_n):
        return None
    position = 0
    for index, call in enumerate(calls_l):
        if position < len(calls_n) and call == calls_n[position]:
            position += 1
        elif call not in calls_l[:index]:
            return None
    if position != len(calls_n):
        return None
    return _with(legacy, tool_calls=calls_n), native


def _gemini_alt_json_body(legacy: Signature, native: Signature) -> Explained:
    """Gemini ``alt=json`` streams through Gemini CLI / Antigravity, or from a Gemini CLI client:
    the legacy answers 200 with nothing usable (empty, ``[][]``, ``[]``); native writes the
    chunks. Native must be a 200 JSON document without an error."""
    if legacy.get("status") != 200 or native.get("status") != 200 or native.get("error_type") is not None:
        return None
    if "body" in native or "events" in native:
        return None
    nothing = (legacy.get("body") in ("empty", "non-json")
               or ("body" not in legacy and "keys" not in legacy and "events" not in legacy
                   and legacy.get("error_type") is None
                   and not any(legacy.get(key) for key in
                               ("finish_reasons", "tool_calls", "usage_keys", "content_blocks"))))
    if not nothing:
        return None
    return _whole(legacy, native)


def _truncated_answer_refused(legacy: Signature, native: Signature) -> Explained:
    """A non-stream answer folded from an upstream stream that stopped before its terminal event,
    or a stream request whose upstream sent no event at all: the legacy answers 200 with what it
    got (a partial answer, or an empty SSE body); native answers 500 before any byte. The legacy
    side must show no finish and no error, native the protocol's 500 error and nothing else."""
    if legacy.get("status") != 200 or legacy.get("error_type") is not None:
        return None
    # A JSON answer (partial) or an SSE body (empty); an empty body of no known kind is not this.
    if "keys" not in legacy and legacy.get("content_type") != "text/event-stream":
        return None
    if any(legacy.get("finish_reasons") or []) or any(legacy.get("events") or []):
        return None
    if native.get("status") != 500 or "events" in native or native.get("error_type") not in _SERVER_ERROR_TYPES:
        return None
    return _whole(legacy, native)


# What the legacy's non-stream Claude translators build from a body with no ``data:`` line: the
# template with nothing written into it, told apart from a real answer by its usage keys. Per
# finish reason: the template's usage keys, and the key a folded ``message_delta`` always adds
# (chat: ``prompt_tokens_details.cached_tokens``; Gemini: the token counts beside ``trafficType``).
# Responses: ``completed`` with no output item at all.
_EMPTY_FOLDS = {
    "stop": (["completion_tokens", "prompt_tokens", "total_tokens"], "prompt_tokens_details.cached_tokens"),
    "STOP": (["trafficType"], "promptTokenCount"),
}


def _whole_json_answer_read(legacy: Signature, native: Signature) -> Explained:
    """A Claude or Codex upstream asked to stream that answered with its whole answer object as
    JSON (row 4b): the legacy reads only ``data:`` lines, so its client gets no answer (an empty
    stream, at most the chat ``[DONE]``; the empty non-stream template; a Codex fold's 408);
    native reads the object as its stream and answers in full. Native must be a 200 with a
    finished answer and no error, of the same kind as the legacy's (stream or JSON document).

    A Gemini client's stream is left out: an empty legacy body against native ``data:`` chunks is
    also row 33a, which no rule explains."""
    if native.get("status") != 200 or native.get("error_type") is not None:
        return None
    if not any(native.get("finish_reasons") or []):
        return None
    if legacy.get("status") == 408 and legacy.get("error_type") is not None and "keys" in native:
        return _whole(legacy, native)  # the Codex fold's "stream closed before response.completed"
    if (legacy.get("status") != 200 or legacy.get("error_type") is not None
            or legacy.get("tool_calls") or legacy.get("content_blocks")):
        return None
    events_l, events_n = legacy.get("events"), native.get("events")
    if isinstance(events_l, list):
        if (events_l not in ([], ["[DONE]"]) or legacy.get("finish_reasons") or legacy.get("usage_keys")
                or not isinstance(events_n, list) or events_n == ["data"]):
            return None
        return _whole(legacy, native)
    if "keys" not in legacy or legacy.get("keys") != native.get("keys"):
        return None
    finish = legacy.get("finish_reasons")
    if finish == ["completed"]:
        return _whole(legacy, native)
    template = _EMPTY_FOLDS.get(finish[0]) if isinstance(finish, list) and len(finish) == 1 else None
    if template is not None and legacy.get("usage_keys") == template[0] \
            and template[1] in (native.get("usage_keys") or []):
        return _whole(legacy, native)
    return None


def _first_event_error_as_json(legacy: Signature, native: Signature) -> Explained:
    """A same-protocol stream whose upstream's first event is an error: the legacy relays it under
    a 200 (then ``[DONE]`` on OpenAI chat); native keeps it its own, retries or rotates, and
    answers the last one as JSON with the error type's status. Nothing but that error on the
    legacy side, and the same error type on both."""
    if legacy.get("status") != 200 or legacy.get("events") not in (["error"], ["error", "[DONE]"]):
        return None
    status = native.get("status")
    if not isinstance(status, int) or status < 400 or "events" in native:
        return None
    if legacy.get("error_type") is None or native.get("error_type") != legacy.get("error_type"):
        return None
    return _whole(legacy, native)


def _envelope_without_contents(legacy: Signature, native: Signature) -> Explained:
    """A Gemini body without ``contents`` for Gemini CLI / Antigravity: the legacy sends an empty
    envelope and passes Google's 400 ``INVALID_ARGUMENT`` on; native refuses it itself with 400
    ``invalid_request_error``."""
    if (legacy.get("status") == 400 and native.get("status") == 400
            and legacy.get("error_type") == "INVALID_ARGUMENT"
            and native.get("error_type") == "invalid_request_error"):
        return legacy, _with(native, error_type="INVALID_ARGUMENT")
    return None


RULES: tuple[ExpectedDifference, ...] = (
    ExpectedDifference("gemini-unknown-method-404", _gemini_unknown_method),
    ExpectedDifference("gemini-alt-json-body", _gemini_alt_json_body),
    ExpectedDifference("envelope-without-contents-400", _envelope_without_contents),
    # Before the rules that take out a piece: it accounts for the whole answer.
    ExpectedDifference("whole-json-answer-read", _whole_json_answer_read),
    ExpectedDifference("codex-tool-calls-finish-reason", _codex_tool_calls_finish),
    ExpectedDifference("truncated-stream-error-frame", _truncated_stream_flagged),
    ExpectedDifference("first-event-error-json", _first_event_error_as_json),
    ExpectedDifference("truncated-answer-500", _truncated_answer_refused),
    ExpectedDifference("claude-stream-closed-without-done", _claude_stream_closed_without_done),
    ExpectedDifference("gemini-responses-late-thoughts", _gemini_late_thoughts),
    ExpectedDifference("responses-parallel-calls-split", _parallel_calls_split),
    ExpectedDifference("responses-item-framing", _responses_item_framing),
    ExpectedDifference("responses-reasoning-usage-keys", _reasoning_usage_keys),
    ExpectedDifference("responses-usage-when-missing", _responses_usage_when_missing),
    ExpectedDifference("responses-request-echo", _responses_request_echo),
    ExpectedDifference("responses-output-order", _responses_output_order),
    ExpectedDifference("codex-gemini-held-call-once", _held_codex_call_once),
    ExpectedDifference("claude-stream-tool-use-stop", _stream_tool_use_stop),
    ExpectedDifference("claude-stream-unreported-output", _stream_closed_without_output_count),
    ExpectedDifference("openai-null-tool-continuation", _null_tool_continuation),
    ExpectedDifference("nameless-server-tool-call", _nameless_server_tool_call),
    ExpectedDifference("claude-gemini-max-tokens", _claude_max_tokens_for_gemini),
    ExpectedDifference("gemini-finish-with-last-delta", _finish_with_last_delta),
)


def expected_difference(legacy: Signature, native: Signature) -> str | None:
    """The documented deviation(s) that explain the whole difference (names joined with ``+``),
    or ``None`` when something is left that no rule explains."""
    names: list[str] = []
    for rule in RULES:
        if legacy == native:
            break
        explained = rule.explain(legacy, native)
        if explained is None or explained == (legacy, native):
            continue
        legacy, native = explained
        names.append(rule.name)
    if legacy != native or not names:
        return None
    return "+".join(names)
