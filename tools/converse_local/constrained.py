"""Grammar-constrained generation that checks the grammar on the sampled token first.

llama-cpp-python puts the grammar sampler in the chain before top-k, so every generated token runs the
grammar over the whole vocabulary (152k tokens for Qwen): for a judge writing a JSON verdict that was a
large share of each decode step. llama.cpp's own sampler (``common_sampler_sample``) does it the other way
round, and so does this: sample without the grammar, ask the grammar about that one token, and only when it
is rejected apply the grammar to the whole vocabulary and sample again. The output is the same text for
greedy decoding (the judge's case: temperature 0): the unconstrained argmax, when the grammar allows it, is
also the constrained argmax. With sampling it is llama.cpp's distribution, not llama-cpp-python's.

Prefix reuse is Llama.generate's: the longest prefix this prompt shares with the tokens already in the KV
cache is kept, and only the rest is read.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator

import numpy as np
from llama_cpp import Llama
from llama_cpp import llama_cpp as low_level
from llama_cpp._internals import LlamaSampler
from llama_cpp.llama_grammar import LlamaGrammar

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


def tokens(
    llm: Llama, prompt: list[int], grammar: LlamaGrammar, *, temp: float, top_k: int, top_p: float
) -> Iterator[int]:
    """The generated tokens, one at a time, each allowed by ``grammar``; the caller stops the iteration."""
    _read_prompt(llm, prompt)
    # The chain minus the grammar. No repeat penalty: under a JSON grammar it only pushes the model off the
    # quotes and commas it must write, towards the whitespace the grammar also allows.
    chain = llm._init_sampler(top_k=top_k, top_p=top_p, temp=temp, repeat_penalty=1.0)
    judge = LlamaSampler()
    judge.add_grammar(llm._model, grammar)
    n_vocab = llm.n_vocab()
    one = (low_level.llama_token_data * 1)()
    try:
        while True:
            token = chain.sample(llm._ctx, -1)
            if not _allowed(judge, one, token):
                token = _constrained(llm, chain, judge, n_vocab)
            judge.accept(token)
            yield token
            llm.eval([token])
    finally:
        chain.close()
        judge.close()


def _read_prompt(llm: Llama, prompt: list[int]) -> None:
    keep = 0
    for cached, token in zip(llm.eval_tokens, prompt, strict=False):
        if cached != token:
            break
        keep += 1
    keep = min(keep, len(prompt) - 1)  # the last prompt token is read again: its logits pick the first token
    if keep > 0 and llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        llm.n_tokens = keep
    else:
        llm.reset()
        keep = 0
    llm.eval(prompt[keep:])


def _allowed(grammar: LlamaSampler, one: ctypes.Array, token: int) -> bool:
    one[0].id, one[0].logit, one[0].p = token, 0.0, 0.0
    array = low_level.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)
    low_level.llama_sampler_apply(grammar.sampler, ctypes.byref(array))
    return math.isfinite(one[0].logit)


def _constrained(llm: Llama, chain: LlamaSampler, grammar: LlamaSampler, n_vocab: int) -> int:
    """The token the chain picks once the grammar has masked the whole vocabulary."""
    logits = np.ctypeslib.as_array(low_level.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
    data = np.empty(n_vocab, dtype=_TOKEN_DATA)
    data["id"] = np.arange(n_vocab, dtype=np.int32)
    data["logit"] = logits
    data["p"] = 0.0
    pointer = data.ctypes.data_as(ctypes.POINTER(low_level.llama_token_data))
    array = low_level.llama_token_data_array(data=pointer, size=n_vocab, selected=-1, sorted=False)
    low_level.llama_sampler_apply(grammar.sampler, ctypes.byref(array))
    low_level.llama_sampler_apply(chain.sampler, ctypes.byref(array))
    return int(pointer[array.selected].id)
