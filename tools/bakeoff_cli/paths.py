"""Where the project is: the folder holding template.yaml (the offline stack reads it and the ASL)."""

from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file() and (folder / "statemachine").is_dir():
            return folder
    # An editable install: tools/bakeoff_cli/paths.py → the repo root two levels up.
    fallback = Path(__file__).resolve().parents[2]
    if (fallback / "template.yaml").is_file():
        return fallback
    raise SystemExit("bakeoff: cannot find template.yaml; run this inside the Bakeoff repository")
