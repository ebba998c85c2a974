"""Which kinds of planted error the real local judge catches: the probes, one call at a time.

    .venv/bin/python bench/judge_probes.py REPORT.json [--event events/statemachine/podcast-local-probes.json]
    .venv/bin/python bench/judge_probes.py --answer bench/data/faithful-podcast-script.txt

With ``--answer``, that text is the only candidate (a faithful answer written by hand): the demo's tiny
candidates often score the lowest score (1), under which no probe can score lower, so nothing is measured.

Takes the candidates' answers from a finished run's ``report.json`` and judges them with the event's
judge exactly as the score step does (the same ``Judge``, prompts and rubric), then the control answer
and every probe of the best answer, one call after another with no read timeout: on a loaded shared
machine the state machine's 240 s judge timeout can expire before any verdict (seen here at load 8-11 on
2 cores), and this measures the judge, not the machine. Prints per kind the original's and the probe's
weighted score and caught / missed. The checkpoints live in an in-process moto bucket, so every call is
made afresh.

Measured once (2 Dec 2026, a shared 2-core machine under load), Qwen2.5-Coder 1.5B judging the demo
article with accuracy 5 / engagement 3 / structure 2: the demo's two tiny candidates both scored 1.0, the
floor, so no probe of theirs could be measured; the faithful script in bench/data/ scored 10.0, its
control (20 numbers changed, 7 names swapped, lines shuffled) 1.0: caught; each single probe 10.0:
number (7 → 3), negation (replace → keep), name (Harborview → Gull Island) and claim all missed.
"""

from __future__ import annotations

# ruff: noqa: I001  (bakeoff_offline is imported first: it puts the layer and the functions on the path)

import argparse
import json
import string
import sys
import time
from pathlib import Path

import boto3
from moto import mock_aws

from bakeoff_offline.endpoint import LocalEndpoint
from bakeoff.converse import ConverseClient, client_config
from bakeoff.criteria import BUILTIN_CRITERIA
from bakeoff.models import ResolvedCriterion
from bakeoff.storage import Store
from functions.score.control import best_answer, control_result, corrupt
from functions.score.judge import Judge
from functions.score.probes import plant, probe_result

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, nargs="?", help="a finished run's report.json (its answers)")
    parser.add_argument("--answer", type=Path, help="instead: judge this one answer (a text file)")
    parser.add_argument("--event", type=Path, default=ROOT / "events" / "statemachine" / "podcast-local-probes.json")
    args = parser.parse_args()
    event = json.loads(args.event.read_text())
    if args.answer:
        answers = {"faithful": args.answer.read_text().strip()}
        order = ["faithful"]
    elif args.report:
        report = json.loads(args.report.read_text())
        answers = {m["modelId"]: m["output"] for m in report["models"] if m.get("output")}
        order = [m for m in event["models"] if m in answers]
    else:
        parser.error("give a report.json or --answer FILE")
    criteria = [
        ResolvedCriterion(
            name=name,
            weight=w if isinstance(w, int) else w["weight"],
            description=(w.get("description") if isinstance(w, dict) else None) or BUILTIN_CRITERIA[name],
        )
        for name, w in event["scoringCriteria"].items()
    ]
    kinds = event.get("judgeProbes") or ["number", "negation", "name", "claim"]
    judge_id = event["judgeModelId"]
    with mock_aws(), LocalEndpoint([judge_id]) as url:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        runtime = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=client_config(10, 3600),
        )
        judge = Judge(
            ConverseClient(runtime),
            Store(s3, "bench"),
            judge_model_id=judge_id,
            criteria=criteria,
            article=event["article"],
            task_prompt=event["prompt"],
            use_cache=False,
        )

        def timed(model_id: str, text: str, label: str):
            began = time.monotonic()
            verdict = judge.score(model_id, text, label)
            print(
                f"  judged {model_id}: {verdict.status} {verdict.weighted_score} in {time.monotonic() - began:.0f}s",
                flush=True,
            )
            return verdict

        verdicts = {m: timed(m, answers[m], string.ascii_uppercase[i]) for i, m in enumerate(order)}
        best = best_answer({m: v.weighted_score for m, v in verdicts.items() if v.weighted_score is not None}, order)
        if best is None:
            sys.exit("the judge scored no answer: nothing to probe")
        label = string.ascii_uppercase[len(order)]
        originals = {judge_id: verdicts[best]}
        control = corrupt(answers[best], event["article"])
        checked = control_result(best, control, originals, {judge_id: timed("control", control.text, label)})
        print(f"best answer: {best} ({verdicts[best].weighted_score})")
        print(f"control ({control.description}): {checked['controlScore']} -> passed {checked['passed']}")
        for kind in kinds:
            probe = plant(kind, answers[best], event["article"])
            verdict = {judge_id: timed(f"probe:{kind}", probe.text, label)} if probe.changes else {}
            result = probe_result(kind, best, probe, originals, verdict)
            state = {True: "caught", False: "MISSED", None: "not measured"}[result["passed"]]
            print(
                f"{kind:9} {state:12} original {result.get('originalScore')} vs probe {result.get('probeScore')}"
                f"  ({result.get('change') or result.get('reason')})",
                flush=True,
            )


if __name__ == "__main__":
    main()
