"""The real coding agents through quotio-gateway, inference routes native, to every upstream kind.

One gateway process serves the whole file. Its config.yaml holds one entry of each API-key
upstream kind (claude-api-key, codex-api-key, gemini-api-key, openai-compatibility), all pointing
at one recording fake; the model the CLI asks for picks the kind (conftest ``CLIENT_MODELS``). So
every CLI talks to every kind, cross-protocol included: Claude Code → OpenAI-compatible, Codex
(Responses only, with non-function tool types) → Claude, Gemini CLI (``parametersJsonSchema``)
→ Codex, and the rest of the 3 × 4 matrix.

Each case asserts the CLI's exit code and printed answer (the fake's text names the protocol that
produced it, so a wrong route shows), that nothing left loopback, and the exact shape of the one
upstream request: path, query, credential header, model after alias rewriting, stream flag, the
prompt in the right place, and how the CLI's own peculiarities were carried over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.agents.conftest import (
    FAKE_PROTOCOL,
    GATEWAY_KEY,
    KINDS,
    UPSTREAM_KEYS,
    UPSTREAM_MODELS,
    GatewayProcess,
    KindRun,
    ProxyProbe,
    ThreadedUpstream,
    require,
    run_every_kind,
)
from tests.agents.upstream import Recorded, answer_text

PROMPT = "say hello"
CLIS = ("claude", "codex", "gemini")
# Where the gateway must send each kind (base-url of conftest.gateway_config + executor path).
UPSTREAM_ROUTE = {
    "claude": ("/v1/messages", {"beta": "true"}),
    "codex": ("/backend-api/codex/responses", {}),
    "gemini": (f"/v1beta/models/{UPSTREAM_MODELS['gemini']}:streamGenerateContent", {"alt": "sse"}),
    "openai": ("/v1/chat/completions", {}),
}
# The function tools Codex 0.169.0 declares besides its namespace and web_search tools.
CODEX_FUNCTIONS = {"exec_command", "write_stdin", "request_user_input", "view_image", "get_goal",
                   "create_goal", "update_goal"}
CLAUDE_TOOL_COUNT = 24
GEMINI_DECLARATION_COUNT = 8
# Claude Code's own Anthropic-Beta, and the Claude executor's default for clients that send none.
CLAUDE_CODE_BETAS = ("claude-code-20250219,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
                     "context-management-2025-06-27,prompt-caching-scope-2026-01-05")
# A phrase of each CLI's system prompt (both variants Gemini CLI picks by model name hold it).
SYSTEM_PROMPT_MARKERS = {"claude": "You are a Claude agent", "codex": "You are a coding agent running in the Codex CLI",
                         "gemini": "CLI agent specializing in software engineering tasks"}
DEFAULT_CLAUDE_BETAS = ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                        "fine-grained-tool-streaming-2025-05-14")


def check_wire(cli: str, kind: str, seen: Recorded) -> None:
    """Path, query, credential, model and stream flag the gateway used for this upstream kind."""
    path, query = UPSTREAM_ROUTE[kind]
    assert (seen.method, seen.path, seen.query) == ("POST", path, query)
    # The executors write the upstream name (alias resolved) into the body; Gemini's also has it in the path.
    assert seen.body["model"] == UPSTREAM_MODELS[kind]
    key = UPSTREAM_KEYS[kind]
    if kind == "gemini":
        assert seen.header("x-goog-api-key") == key
    else:
        # claude-api-key uses Bearer for any base URL but api.anthropic.com.
        assert seen.header("authorization") == f"Bearer {key}"
        assert seen.body["stream"] is True
    if kind == "claude":
        assert seen.header("x-api-key") is None
        # The client's betas win, with oauth-2025-04-20 appended; otherwise the executor's default.
        betas = f"{CLAUDE_CODE_BETAS},oauth-2025-04-20" if cli == "claude" else DEFAULT_CLAUDE_BETAS
        assert seen.header("anthropic-beta") == betas
    # The client's gateway key is the gateway's business; it must never reach a provider.
    assert all(GATEWAY_KEY not in value for value in seen.headers.values())


def user_turns(kind: str, body: dict[str, Any]) -> list[list[str]]:
    """The text pieces of every user turn, in order, as the upstream format holds them."""
    if kind == "codex":
        return [[part["text"] for part in item["content"] if part.get("type") == "input_text"]
                for item in body["input"] if item.get("type", "message") == "message" and item["role"] == "user"]
    if kind == "gemini":
        return [[part["text"] for part in turn["parts"] if "text" in part]
                for turn in body["contents"] if turn["role"] == "user"]
    turns = []
    for turn in body["messages"]:
        if turn["role"] != "user":
            continue
        content = turn["content"]
        # A plain string is one piece: the OpenAI translators join an all-text turn without a separator.
        turns.append([content] if isinstance(content, str)
                     else [part["text"] for part in content if part.get("type") == "text"])
    return turns


def carries_system_prompt(cli: str, body: dict[str, Any]) -> bool:
    """Whether the CLI's system prompt made it into the upstream body (anywhere but the tools)."""
    rest = {key: value for key, value in body.items() if key != "tools"}
    return SYSTEM_PROMPT_MARKERS[cli] in json.dumps(rest)


def check_prompt(kind: str, body: dict[str, Any]) -> None:
    """The prompt closes exactly one user turn (the CLIs put their context pieces before it)."""
    turns = user_turns(kind, body)
    closing = [turn for turn in turns if turn and turn[-1].endswith(PROMPT)]
    assert len(closing) == 1, [[piece[:40] for piece in turn] for turn in turns]


def tool_entries(kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Tool declarations as the upstream format lists them (Gemini: the functionDeclarations)."""
    if kind == "gemini":
        declarations: list[dict[str, Any]] = []
        for group in body["tools"]:
            declarations += group.get("functionDeclarations", group.get("function_declarations", []))
        return declarations
    return body["tools"]


def function_names(kind: str, body: dict[str, Any]) -> list[str]:
    """Names of the callable function tools, each checked to be well-formed for ``kind``."""
    names = []
    for tool in tool_entries(kind, body):
        if kind == "claude":
            assert isinstance(tool["input_schema"], dict), tool
            names.append(tool["name"])
        elif kind == "gemini":
            assert "parametersJsonSchema" in tool or "parameters" in tool, tool
            names.append(tool["name"])
        elif kind == "codex":
            if tool["type"] == "function":
                assert isinstance(tool["parameters"], dict), tool
                names.append(tool["name"])
        elif tool.get("type") == "function":
            assert isinstance(tool["function"]["parameters"], dict), tool
            names.append(tool["function"]["name"])
    assert all(names), f"a tool without a name reached the {kind} upstream"
    return names


def check_from_claude_code(kind: str, body: dict[str, Any]) -> None:
    """Claude Code sends ?beta=true, 24 custom tools, thinking and context_management."""
    names = function_names(kind, body)
    assert len(names) == CLAUDE_TOOL_COUNT
    assert {"Bash", "Read", "Edit", "Write"} <= set(names)
    if kind == "claude":
        # Claude to Claude is a pass-through: the Claude-only fields arrive as sent.
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 31999}
        assert body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
        assert body["max_tokens"] == 32000
        assert len(body["system"]) == 3
        return
    # Claude-only fields have no place in another protocol.
    assert not {"thinking", "context_management", "metadata"} & set(body)
    if kind == "openai":
        # The system blocks become one leading system message (A2.15).
        assert body["messages"][0]["role"] == "system"
    if kind == "gemini":
        assert all("input_schema" not in tool for tool in tool_entries(kind, body))


def check_from_codex(kind: str, body: dict[str, Any]) -> None:
    """Codex speaks Responses only; besides functions it declares a namespace and web_search."""
    names = function_names(kind, body)
    assert set(names) >= CODEX_FUNCTIONS
    if kind == "codex":
        # Responses to Codex is near pass-through: the non-function tools travel as sent.
        kinds = [tool["type"] for tool in body["tools"]]
        assert (kinds.count("function"), kinds.count("namespace"), kinds.count("web_search")) == (7, 1, 1)
        assert body["include"] == ["reasoning.encrypted_content"]
        assert body["store"] is False
        return
    if kind == "claude":
        # Anthropic accepts custom tools only with a name and a schema; every entry has both.
        assert all(set(tool) >= {"name", "input_schema"} for tool in body["tools"])
    if kind == "gemini":
        assert all(tool["name"] for tool in tool_entries(kind, body))
    # Responses-only fields stay behind.
    assert not {"include", "prompt_cache_key", "client_metadata", "input"} & set(body)


def check_from_gemini_cli(kind: str, body: dict[str, Any]) -> None:
    """Gemini CLI declares 8 functions with ``parametersJsonSchema`` and asks for thoughts."""
    declarations = tool_entries(kind, body)
    names = function_names(kind, body)
    assert len(names) == GEMINI_DECLARATION_COUNT
    if kind == "gemini":
        assert all("parametersJsonSchema" in d for d in declarations)
        assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 8192}
        return
    # The Gemini-only schema key is renamed to the target's own.
    assert "parametersJsonSchema" not in json.dumps(body["tools"])
    assert not {"contents", "generationConfig", "systemInstruction"} & set(body)


CLIENT_CHECKS: dict[str, Callable[[str, dict[str, Any]], None]] = {
    "claude": check_from_claude_code,
    "codex": check_from_codex,
    "gemini": check_from_gemini_cli,
}


@dataclass(frozen=True)
class Case(KindRun):
    """One CLI run through the gateway and what reached the upstream meanwhile."""

    def request(self) -> Recorded:
        assert self.result.exit_code == 0, self.context()
        assert len(self.requests) == 1, [(r.method, r.path) for r in self.requests]
        return self.requests[0]


@dataclass
class Matrix:
    """Runs the matrix once; the matrix test and the defect tests share the runs.

    The first case asked for a CLI runs that CLI against all four kinds at once: each kind has
    its own fake protocol, so every recorded request belongs to exactly one of the four runs, and
    the file takes the time of three runs instead of twelve.
    """

    gateway: GatewayProcess
    upstream: ThreadedUpstream
    probe: ProxyProbe
    tmp: pytest.TempPathFactory
    done: dict[tuple[str, str], Case] = field(default_factory=dict)

    async def case(self, cli: str, kind: str) -> Case:
        agent = require(cli)
        if (cli, kind) not in self.done:
            workdirs = {each: self.tmp.mktemp(f"{cli}-{each}") for each in KINDS}
            runs = await run_every_kind(agent, self.gateway, self.upstream, self.probe, prompt=PROMPT,
                                        workdirs=workdirs, time_limit=60)
            for each, run in runs.items():
                self.done[(cli, each)] = Case(run.result, run.requests, run.escaped, run.gateway_log)
        return self.done[(cli, kind)]


@pytest.fixture(scope="module")
def matrix(gateway: GatewayProcess, upstream: ThreadedUpstream, proxy_probe: ProxyProbe,
           tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    return Matrix(gateway, upstream, proxy_probe, tmp_path_factory)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cli", CLIS)
async def test_agent_through_gateway(cli: str, kind: str, matrix: Matrix) -> None:
    case = await matrix.case(cli, kind)
    assert case.result.exit_code == 0, case.context()
    assert case.result.stdout.strip() == answer_text(FAKE_PROTOCOL[kind]), case.context()
    assert case.escaped == []

    request = case.request()
    check_wire(cli, kind, request)
    check_prompt(kind, request.body)
    assert carries_system_prompt(cli, request.body)
    CLIENT_CHECKS[cli](kind, request.body)


async def test_codex_to_gemini_sends_gemini_roles_only(matrix: Matrix) -> None:
    # Codex's developer messages join systemInstruction: Gemini takes only user and model turns.
    body = (await matrix.case("codex", "gemini")).request().body
    assert {turn["role"] for turn in body["contents"]} <= {"user", "model"}
    assert carries_system_prompt("codex", body)


async def test_codex_to_openai_sends_function_tools_only(matrix: Matrix) -> None:
    # Chat Completions declares function tools only: the namespace and web_search stay behind.
    body = (await matrix.case("codex", "openai")).request().body
    assert {tool["type"] for tool in body["tools"]} == {"function"}
    assert body["tool_choice"] == "auto"


async def test_codex_to_claude_sends_named_tools_only(matrix: Matrix) -> None:
    body = (await matrix.case("codex", "claude")).request().body
    assert {tool["name"] for tool in body["tools"]} == CODEX_FUNCTIONS


async def test_gemini_cli_to_claude_thinking_has_a_budget(matrix: Matrix) -> None:
    # includeThoughts without a budget is auto thinking: the mid budget (1024+128000)/2 of the
    # upstream model's catalogue entry, capped below the translator's max_tokens 32000.
    body = (await matrix.case("gemini", "claude")).request().body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 31999}


@pytest.mark.parametrize("kind", ["claude", "codex"])
async def test_gemini_cli_system_prompt_reaches_the_upstream(kind: str, matrix: Matrix) -> None:
    # Gemini CLI spells it systemInstruction; these pairs once read only system_instruction.
    body = (await matrix.case("gemini", kind)).request().body
    assert carries_system_prompt("gemini", body)
