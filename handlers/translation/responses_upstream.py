"""Requests of OpenAI Responses clients, rendered for Claude and Gemini upstreams.

These pairs (``claude/openai/responses``, ``gemini/openai/responses`` at 9b72ea9ef) follow their
own rules rather than the chat-completions ones, so they do not go through
``claude_request.render_request`` / ``gemini_request.render_request``:

* Claude: ``instructions`` (or, without it, the first system item's text) becomes a leading USER
  message; every input item is its own message (no merging of neighbours); a message whose only
  content is one text part is sent with string content; ``function_call`` -> an assistant
  ``tool_use`` message, ``function_call_output`` -> a user ``tool_result`` message; reasoning items
  are dropped; ``reasoning.effort`` goes through the level->budget table (A2.9).
* Gemini: ``instructions`` -> ``system_instruction``, and every system or developer item adds
  its text there as one more part (see ``render_gemini_request`` for why this differs from the
  legacy);
  function calls carry their ``call_id`` as ``functionCall.id`` plus the skip-signature sentinel;
  each call is followed by its output (``role: "function"``); tool schemas get upper-case
  property types and ``type: "OBJECT"``; ``reasoning.effort`` -> ``thinkingConfig``; default
  ``safetySettings``.

The reference summarises these translators only lightly (caveats), so each rule was read from the
Go files; the deliberate differences are listed in README.md.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation.claude_request import DEFAULT_MAX_TOKENS, fake_user_id, new_tool_use_id
from handlers.translation.gemini_request import SKIP_SIGNATURE, json_value, safety_settings
from handlers.translation.gjson_values import text_of
from handlers.translation.model import (
    ImagePart,
    Message,
    Part,
    Request,
    Role,
    TextPart,
    ThinkingMode,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from handlers.translation.sse import json_text
from handlers.translation.thinking import level_to_budget


def instructions_of(req: Request) -> str | None:
    value = req.extra.get("instructions")
    return value if isinstance(value, str) else None


def _system_text(message: Message) -> str:
    # Texts joined with a newline, empty texts skipped (both translators build it this way).
    texts = [p.text for p in message.parts if isinstance(p, TextPart)]
    if message.system_texts is not None:
        texts = message.system_texts
    elif message.plain:
        return texts[0] if texts else ""
    out = ""
    for text in texts:
        if out and text:
            out += "\n"
        out += text
    return out


def _output_text(content: Any) -> str:
    """``function_call_output.output`` as the legacy reads it: strings as is, anything else as JSON."""
    if content is None:
        return ""
    return content if isinstance(content, str) else json_text(content)


# --- Responses client -> Claude upstream -----------------------------------------------------


def _claude_image(part: ImagePart) -> dict[str, Any] | None:
    if not part.url:
        return None
    if part.url.startswith("data:"):
        media, sep, data = part.url[len("data:") :].partition(";base64,")
        if not sep or not data:
            return None
        source = {"type": "base64", "media_type": media or "application/octet-stream", "data": data}
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _claude_message(message: Message) -> dict[str, Any] | None:
    # The legacy takes the role from the content part types (input_text -> user, output_text ->
    # assistant, an image -> user) and only falls back to the item role (developer -> user).
    role = {Role.ASSISTANT: "assistant", Role.SYSTEM: "system"}.get(message.role, "user")
    if not message.plain and any(isinstance(p, TextPart) for p in message.parts):
        role = "assistant" if message.role is Role.ASSISTANT else "user"
    elif not message.plain and any(isinstance(p, ImagePart) and _claude_image(p) for p in message.parts):
        role = "user"
    if message.plain:
        text = _system_text(message)
        return {"role": role, "content": text} if text or role == "system" else None
    blocks: list[dict[str, Any]] = []
    has_image = False
    for part in message.parts:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            block = _claude_image(part)
            if block is not None:
                blocks.append(block)
                has_image = True
    if not blocks:
        return {"role": role, "content": ""} if role == "system" else None
    if len(blocks) == 1 and not has_image:
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def _tool_use_input(arguments: str | None) -> dict[str, Any]:
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _claude_thinking(req: Request) -> dict[str, Any] | None:
    if req.thinking is None or req.thinking.mode is not ThinkingMode.LEVEL:
        return None
    effort = req.thinking.level.strip().lower()
    budget = level_to_budget(effort) if effort else None
    if budget is None:
        return None
    if budget == 0:
        return {"type": "disabled"}
    if budget == -1:
        return {"type": "enabled"}
    return {"type": "enabled", "budget_tokens": budget}


def render_claude_request(req: Request, model: str, *, stream: bool, user_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "max_tokens": req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS,
        "messages": [],
        "metadata": {"user_id": user_id or fake_user_id()},
    }
    thinking = _claude_thinking(req)
    if thinking is not None:
        out["thinking"] = thinking
    out["stream"] = stream
    messages: list[dict[str, Any]] = out["messages"]
    instructions = instructions_of(req) or ""
    skip_system = False
    if instructions:
        messages.append({"role": "user", "content": instructions})
    else:
        for message in req.messages:
            if message.role is Role.SYSTEM and (text := _system_text(message)):
                messages.append({"role": "user", "content": text})
                skip_system = True
                break
    for message in req.messages:
        if message.role is Role.SYSTEM and skip_system:
            continue
        call = message.parts[0] if len(message.parts) == 1 else None
        if isinstance(call, ToolCallPart):
            block = {
                "type": "tool_use",
                "id": call.id or new_tool_use_id(),
                "name": call.name,
                "input": _tool_use_input(call.arguments),
            }
            messages.append({"role": "assistant", "content": [block]})
        elif isinstance(call, ToolResultPart):
            result = {"type": "tool_result", "tool_use_id": call.tool_call_id, "content": _output_text(call.content)}
            messages.append({"role": "user", "content": [result]})
        elif message.role is not Role.TOOL and not any(isinstance(p, ThinkingPart) for p in message.parts):
            rendered = _claude_message(message)
            if rendered is not None:
                messages.append(rendered)
    # Built-in (non-function) tools have no Claude equivalent here and are left out; a tool
    # without a type is declared as the legacy declares every tool (claude_openai-responses_request.go:290-313).
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters if t.parameters is not None else {}}
        for t in req.tools
        if t.kind in ("function", "")
    ]
    if tools:
        out["tools"] = tools
    choice = req.tool_choice
    # With every declared tool left out, Anthropic would refuse any choice (it needs tools).
    if choice is not None and (tools or not req.tools):
        if choice.mode == "auto":
            out["tool_choice"] = {"type": "auto"}
        elif choice.mode == "required":
            out["tool_choice"] = {"type": "any"}
        elif choice.mode == "tool":
            out["tool_choice"] = {"name": choice.name, "type": "tool"}
    return out


# --- Responses client -> Gemini upstream -----------------------------------------------------


def _gemini_image(part: ImagePart) -> dict[str, Any] | None:
    if not part.url.startswith("data:"):
        return None
    rest = part.url[len("data:") :]
    media, sep, data = rest.partition(";base64,")
    if not sep:
        media, sep, data = rest.partition(",")
    if not sep or not data:
        return None
    return {"inline_data": {"mime_type": media or "application/octet-stream", "data": data}}


def _gemini_schema(parameters: Any) -> Any:
    if not isinstance(parameters, dict):
        return parameters
    schema = dict(parameters)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema["properties"] = {
            # strings.ToUpper(type.String()): an array type goes as its upper-cased JSON text
            # (gemini_openai-responses_request.go:329-335).
            key: {**value, "type": text_of(value["type"]).upper()} if isinstance(value, dict) and "type" in value
            else value
            for key, value in properties.items()
        }
    schema["type"] = "OBJECT"
    return schema


def _function_output(content: Any) -> Any:
    """The ``response.result`` value: JSON objects/arrays inlined, any other text kept as a string."""
    if not isinstance(content, str) or content in ("", "null"):
        return None
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content
    return value if isinstance(value, dict | list) else content


def _only(message: Message) -> Part | None:
    return message.parts[0] if len(message.parts) == 1 else None


def _pair_calls(messages: list[Message]) -> list[Message]:
    """Each run of function calls followed by a run of outputs becomes call, output, call, output;
    outputs without a matching call keep their place after the run."""
    out: list[Message] = []
    i = 0
    while i < len(messages):
        if not isinstance(_only(messages[i]), ToolCallPart):
            out.append(messages[i])
            i += 1
            continue
        calls: list[tuple[str, Message]] = []
        while i < len(messages) and isinstance(call := _only(messages[i]), ToolCallPart):
            calls.append((call.id, messages[i]))
            i += 1
        outputs: list[tuple[str, Message]] = []
        while i < len(messages) and isinstance(result := _only(messages[i]), ToolResultPart):
            outputs.append((result.tool_call_id, messages[i]))
            i += 1
        pending = dict(outputs)
        for call_id, call_message in calls:
            out.append(call_message)
            if call_id in pending:
                out.append(pending.pop(call_id))
        out.extend(message for call_id, message in outputs if call_id in pending)
    return out


def _add_system_part(out: dict[str, Any], message: Message) -> None:
    # An item without text adds nothing: Gemini refuses empty text parts.
    text = _system_text(message)
    if not text:
        return
    system = out.get("system_instruction")
    if system is None:
        out["system_instruction"] = {"parts": [{"text": text}]}
    else:
        system["parts"].append({"text": text})


def render_gemini_request(req: Request, model: str) -> dict[str, Any]:
    """``model`` is unused, as in the legacy: the Gemini executor puts it in the URL.

    System and developer items go into ``system_instruction``, one part each after the
    ``instructions`` text. Gemini takes only ``user`` and ``model`` turns in ``contents``, and a
    developer message is an instruction from the application, which is what a system
    instruction is; sending it as a user turn would put the developer's words in the user's
    mouth. The legacy chat->Gemini pair already folds system and developer messages into one
    instruction the same way. Deviation: the legacy Responses pair keeps developer items as
    ``role: "developer"`` turns (a real Gemini upstream answers 400) and keeps only the first
    of instructions/system items, silently dropping the others (and sends a text-less system
    item as an empty part). Their position in the conversation is not kept: a system
    instruction has none.
    """
    del model
    out: dict[str, Any] = {"contents": []}
    instructions = instructions_of(req)
    if "instructions" in req.extra:
        raw = req.extra["instructions"]
        text = instructions if instructions is not None else "" if raw is None else json_text(raw)
        out["system_instruction"] = {"parts": [{"text": text}]}
    names = {part.id: part.name for m in req.messages for part in m.parts if isinstance(part, ToolCallPart) and part.id}
    for message in _pair_calls(req.messages):
        first = message.parts[0] if message.parts else None
        if isinstance(first, ToolCallPart):
            call = {"name": first.name, "args": json_value(first.arguments), "id": first.id}
            out["contents"].append(
                {"role": "model", "parts": [{"functionCall": call, "thoughtSignature": SKIP_SIGNATURE}]}
            )
        elif isinstance(first, ToolResultPart):
            result = _function_output(first.content)
            response = {"name": names.get(first.tool_call_id, "unknown"), "response": {}, "id": first.tool_call_id}
            if result is not None:
                response["response"] = {"result": result}
            out["contents"].append({"role": "function", "parts": [{"functionResponse": response}]})
        elif message.role in (Role.SYSTEM, Role.DEVELOPER):
            _add_system_part(out, message)
        elif message.role is not Role.TOOL and not isinstance(first, ToolCallPart):
            parts: list[dict[str, Any]] = []
            for part in message.parts:
                if isinstance(part, TextPart):
                    parts.append({"text": part.text})
                elif isinstance(part, ImagePart) and (image := _gemini_image(part)) is not None:
                    parts.append(image)
            role = "model" if message.role is Role.ASSISTANT else message.role.value
            if parts:
                out["contents"].append({"role": role, "parts": parts})
    declarations = [
        {
            "name": t.name,
            "description": t.description,
            "parametersJsonSchema": _gemini_schema(t.parameters) if t.parameters is not None else {},
        }
        for t in req.tools
        if t.kind == "function"
    ]
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    config: dict[str, Any] = {}
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.stop:
        config["stopSequences"] = list(req.stop)
    if req.thinking is not None and req.thinking.mode is ThinkingMode.LEVEL:
        effort = req.thinking.level.strip().lower()
        if effort == "auto":
            config["thinkingConfig"] = {"thinkingBudget": -1, "includeThoughts": True}
        elif effort:
            config["thinkingConfig"] = {"thinkingLevel": effort, "includeThoughts": effort != "none"}
    if config:
        out["generationConfig"] = config
    out["safetySettings"] = safety_settings()
    return out
