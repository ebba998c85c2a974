"""Grammar-constrained generation (converse_local.constrained) against llama-cpp-python's own, on a real model.

For greedy decoding the two must write the same tokens: the grammar is only asked about the sampled token
first instead of about the whole vocabulary. The schema is the judge's shape (a reason and a score per
criterion), where the model left to itself writes something else: the rejected-token path runs too.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import require_models

SMOL = "local.smollm2-135m-instruct-v1:0"
SCHEMA = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "object",
            "properties": {
                name: {
                    "type": "object",
                    "properties": {"reason": {"type": "string"}, "score": {"type": "integer"}},
                    "required": ["reason", "score"],
                }
                for name in ("accuracy", "structure")
            },
            "required": ["accuracy", "structure"],
        }
    },
    "required": ["scores"],
}
PROMPT = (
    "<|im_start|>user\nScore this summary for accuracy and structure, as JSON with a reason and a score per "
    "criterion: 'The council voted 7 to 2 for an electric ferry.'<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.mark.llama
def test_greedy_constrained_tokens_are_llama_cpp_pythons_own():
    require_models(SMOL)
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

    from converse_local import catalog, constrained

    llm = Llama(model_path=str(catalog.gguf_path(SMOL)), n_ctx=1024, verbose=False)
    prompt = llm.tokenize(PROMPT.encode(), special=True)

    def first(stream, n=60):
        out = []
        for token in stream:
            out.append(token)
            if len(out) == n or token == llm.token_eos():
                return out
        return out

    def grammar():
        return LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)

    theirs = first(llm.generate(prompt, temp=0.0, top_k=40, top_p=0.95, repeat_penalty=1.0, grammar=grammar()))
    llm.reset()
    free = first(llm.generate(prompt, temp=0.0, top_k=40, top_p=0.95, repeat_penalty=1.0))
    assert free != theirs  # the grammar changed the output, so some sampled tokens were rejected
    llm.reset()
    ours = first(constrained.tokens(llm, prompt, grammar(), temp=0.0, top_k=40, top_p=0.95))
    assert ours == theirs, (llm.detokenize(ours), llm.detokenize(theirs))
    assert llm.detokenize(ours).decode().lstrip().startswith("{")
    # With the prompt in the KV cache its prefix is reused and only the last prompt token is read again. That
    # token read alone (not inside a batch of 512) gives slightly different floats, so a near tie may go the
    # other way than after a full read (Llama.generate's reuse does the same); two reused runs agree exactly.
    again = first(constrained.tokens(llm, prompt, grammar(), temp=0.0, top_k=40, top_p=0.95))
    assert llm.n_tokens >= len(prompt)  # the KV cache kept the prompt
    assert first(constrained.tokens(llm, prompt, grammar(), temp=0.0, top_k=40, top_p=0.95)) == again
