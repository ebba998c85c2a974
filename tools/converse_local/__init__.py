"""A local HTTP endpoint that speaks the Amazon Bedrock Runtime Converse API.

Point any Converse client at it (boto3 `bedrock-runtime` with `endpoint_url=`, or the
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` environment variable): `server` serves `POST /model/{id}/converse`
in front of a backend, `llama_backend` runs real GGUF models from `catalog` on the CPU, `faults` scripts
throttling, outages and bad answers, and `wire` builds the reply and error bodies. It knows nothing of
what its callers do with the answers.

    python -m converse_local serve --port 0      # prints "READY http://127.0.0.1:PORT"
    python -m converse_local list
"""
