"""OpenAI chat request -> Anthropic Messages request (pure).

https://docs.anthropic.com/en/api/messages
Images are never downloaded: data: URLs become base64 blocks, http(s) URLs become
`{"type": "url"}` sources that Anthropic fetches itself.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from providers.errors import RelayError

DEFAULT_MAX_TOKENS = 4096
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)$",
                       re.DOTALL)


def bad_request(message: str, param: str | None = None) -> RelayError:
    """A client error found while converting: 400, not retryable."""
    return RelayError(400, "invalid_request", message, type="invalid_request_error",
                      param=param, retryable=False)


def _text(content: Any) -> str:
    """Plain text of an OpenAI content value (string or list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""


def image_block(url: str) -> dict[str, Any]:
    """Anthropic image block for an OpenAI `image_url` value."""
    if url.startswith("data:"):
        match = _DATA_URL.match(url)
        if not match or ";base64" not in (match["params"] or ""):
            raise bad_request("image data URLs must be base64-encoded", "messages")
        media = match["mime"] or "image/png"
        return {"type": "image",
                "source": {"type": "base64", "media_type": media, "data": match["data"]}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise bad_request("image_url must be an http(s) or data: URL", "messages")


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks for an OpenAI user/assistant content value."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(image_block(str(url or "")))
        else:
            raise bad_request(f"content part type {kind!r} is not supported by this model",
                              "messages")
    return blocks


def _tool_use_blocks(tool_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for call in tool_calls:
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError as exc:
            raise bad_request("tool_calls arguments must be valid JSON", "messages") from exc
        blocks.append({"type": "tool_use", "id": call.get("id") or "",
                       "name": function.get("name") or "", "input": arguments})
    return blocks


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {"type": "tool_result", "tool_use_id": message.get("tool_call_id") or "",
            "content": content if isinstance(content, str) else _content_blocks(content)}


def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    # Anthropic requires alternating roles: merge consecutive turns of the same role
    # (e.g. several tool results, or a tool result followed by a user message).
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def convert_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """`(system_text, anthropic_messages)`; system/developer turns go to `system`."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "user":
            _append(out, "user", _content_blocks(message.get("content")))
        elif role == "assistant":
            blocks = _content_blocks(message.get("content"))
            _append(out, "assistant", blocks + _tool_use_blocks(message.get("tool_calls") or []))
        elif role == "tool":
            _append(out, "user", [_tool_result(message)])
        else:
            raise bad_request(f"message role {role!r} is not supported", "messages")
    return "\n\n".join(s for s in system if s), out


def convert_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function tools -> Anthropic tools with `input_schema`."""
    out = []
    for tool in tools:
        function = tool.get("function") or {}
        entry = {"name": function.get("name") or "",
                 "input_schema": function.get("parameters") or {"type": "object",
                                                                "properties": {}}}
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def convert_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    """OpenAI `tool_choice` (+ `parallel_tool_calls`) -> Anthropic `tool_choice`."""
    if choice is None and parallel is None:
        return None
    if isinstance(choice, dict):
        result: dict[str, Any] = {"type": "tool",
                                  "name": (choice.get("function") or {}).get("name") or ""}
    else:
        kind = {"required": "any", "none": "none"}.get(str(choice), "auto")
        result = {"type": kind}
    if parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


def convert_request(body: dict[str, Any], upstream_model: str,
                    default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat completion body. Raises 400 RelayError."""
    system, messages = convert_messages(body.get("messages") or [])
    if not messages:
        raise bad_request("messages must contain at least one user message", "messages")
    out: dict[str, Any] = {
        "model": upstream_model, "messages": messages,
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens")
        or default_max_tokens,
    }
    if system:
        out["system"] = system
    if body.get("stream"):
        out["stream"] = True
    if (stop := body.get("stop")) is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if (temperature := body.get("temperature")) is not None:
        out["temperature"] = min(float(temperature), 1.0)  # OpenAI allows 0-2, Claude 0-1
    for key in ("top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if tools := body.get("tools"):
        out["tools"] = convert_tools(tools)
    choice = convert_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice and tools:
        out["tool_choice"] = choice
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    return out
