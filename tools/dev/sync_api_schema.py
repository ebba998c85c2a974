"""Copy api/evaluation-request.schema.json into template.yaml's API Gateway model.

API Gateway needs the schema inline in the template; the file is what tests and clients read. Run this
after editing the file (`make schema`); tests/unit/test_template_security.py fails while the two differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "EvaluationRequest: {"


def sync(
    template: Path = ROOT / "template.yaml", schema_file: Path = ROOT / "api" / "evaluation-request.schema.json"
) -> bool:
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == MARKER)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    # The inline block ends where its text parses as one JSON object.
    end = next(j for j in range(start, len(lines)) if _parses("{" + "".join(lines[start : j + 1]).split("{", 1)[1]))
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    body = json.dumps(schema, indent=2, ensure_ascii=False).splitlines()
    block = [f"{indent}{MARKER}\n"] + [f"{indent}  {line}\n" for line in body[1:-1]] + [f"{indent}  }}\n"]
    new = "".join(lines[:start] + block + lines[end + 1 :])
    changed = new != "".join(lines)
    template.write_text(new, encoding="utf-8")
    return changed


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    print("template.yaml updated" if sync() else "template.yaml already matches the schema file", file=sys.stderr)
