"""The CLI and the API read a request the same way (issue 16, item 5): what the API refuses, ``bakeoff
submit`` and ``bakeoff local run`` refuse too, with the same field named; what the API accepts, the CLI
sends so that it still fits (UTF-8, not ``\\uXXXX``); no input crashes the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff_cli.local_run import prevalidate
from bakeoff_cli.main import main
from tests.api.helpers import ROOT, base_request, http
from tests.api.test_submit_cli import served, submit  # noqa: F401 - the served fixture

DUPLICATE_ARTICLE = '{"article": "short", ' + json.dumps(base_request())[1:]
DEEP = json.dumps(base_request() | {"title": "@@"}).replace('"@@"', "[" * 100_000 + "]" * 100_000)
CJK_MODELS = ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (DUPLICATE_ARTICLE, "article", "twice"),
        (DEEP, "(body)", "nested too deeply"),
        (json.dumps(base_request()).replace('"maxTokens": 512', '"maxTokens": NaN'), "(body)", "not valid JSON"),
    ],
    ids=["duplicate-key", "deep-nesting", "nan"],
)
def test_submit_refuses_what_the_api_refuses(served, tmp_path, capsys, text, field, words) -> None:  # noqa: F811
    # The API, given the very bytes
    api_reply = http("POST", served + "/evaluations", text.encode())
    assert api_reply.status == 400
    assert any(e["field"] == field and words in e["message"] for e in api_reply.json()["errors"])
    # bakeoff submit, given the file: refused before sending, the same field named
    code = submit(served, _write(tmp_path, text), out=tmp_path / "out")
    printed = capsys.readouterr().out
    assert code == 2
    assert f"  {field}: " in printed and words in printed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (DUPLICATE_ARTICLE, "article: this key appears twice"),
        (DEEP, "nested too deeply"),
    ],
    ids=["duplicate-key", "deep-nesting"],
)
def test_local_run_refuses_without_crashing(tmp_path, text, words) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local", "run", str(_write(tmp_path, text)), "--out", str(tmp_path / "out"), "--no-open"])
    assert isinstance(exited.value.code, str) and words in exited.value.code  # a message, exit status 1


def test_a_50000_character_cjk_article_is_accepted_by_both(served, converse, tmp_path, capsys) -> None:  # noqa: F811
    # Given the longest article allowed, in CJK (3 bytes per character in UTF-8, 6 as \\uXXXX)
    request = base_request() | {"article": ("議会は渡し船の更新を決めた。" * 3572)[:50_000], "models": CJK_MODELS}
    assert len(request["article"]) == 50_000
    path = _write(tmp_path, json.dumps(request))  # the file itself is escaped: submit must not send it so
    # When
    code = submit(served, path, out=tmp_path / "out")
    # Then accepted, as the API accepts the same request sent as UTF-8
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "accepted" in printed
    direct = http("POST", served + "/evaluations", json.dumps(request, ensure_ascii=False).encode())
    assert direct.status == 202, direct.body[:300]


def test_u2028_inside_a_dataset_string_is_accepted_by_the_cli_preflight(tmp_path) -> None:
    article = "The council voted 7 to 2 to replace the ferry.\u2028It will carry 180 passengers.\u2029" * 4
    dataset = "\n".join(json.dumps({"id": f"i{n}", "article": article}, ensure_ascii=False) for n in range(2))
    request = {k: v for k, v in base_request().items() if k != "article"} | {
        "dataset": {"s3Uri": "s3://bakeoff-local/datasets/pending.jsonl"}
    }
    assert prevalidate(ROOT, request, False, dataset.encode()) is None
