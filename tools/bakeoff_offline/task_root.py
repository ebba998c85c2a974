"""Where the offline stack imports the Lambda handlers from: the checkout's own ``functions/``.

Lambda imports a handler from its task root, the deployed code folder, which its runtime puts on
``sys.path``. Offline the code folder is the checkout that ``template.yaml`` is read from, so the
handlers run are always the ones that template describes. ``functions`` is deliberately not an
installed package (``pyproject.toml``): a top-level ``functions`` in site-packages would shadow any
other project's package of that name.
"""

from __future__ import annotations

import sys
from pathlib import Path


def use_task_root(root: Path) -> None:
    """Make ``root/functions`` importable as ``functions``, after everything installed (never shadowing it)."""
    folder = str(Path(root).resolve())
    if folder not in sys.path:
        sys.path.append(folder)
