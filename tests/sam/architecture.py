"""Which CPU architecture each built function and layer declares, and which one its native code is for.

``sam build`` builds a ``BuildMethod: python3.12`` layer for the *host's* architecture unless the layer
says otherwise, so an x86-64 machine can produce arm64 functions whose layer holds x86-64 extensions:
every import fails on Lambda (``Runtime.ImportModuleError``). These helpers read what the template
declares and what the ELF headers under a build directory say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff_offline.template import Stack, load_template

# ELF e_machine values (elf.h) of the two Lambda architectures.
ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def elf_architecture(path: Path) -> str:
    """The Lambda architecture name of an ELF file's machine, or ``unknown (N)``."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return ELF_MACHINES.get(machine, f"unknown ({machine})")


def declared_architectures(root: Path, parameters: dict[str, Any] | None = None) -> dict[str, set[str]]:
    """Each function's and layer's logical ID -> the architectures it must run on.

    A function: its ``Architectures`` (or the Globals', Lambda's default x86_64). A layer built here:
    its ``CompatibleArchitectures`` plus those of every function that attaches it, since its native
    code runs inside them."""
    template = load_template(root / "template.yaml")
    defaults = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    stack = Stack(root=root, template=template, parameters=defaults | (parameters or {}), bucket_name="")
    resources = template["Resources"]
    global_fn = template.get("Globals", {}).get("Function", {})
    out: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            out[logical_id] = {stack.resolve(a) for a in resource["Properties"].get("CompatibleArchitectures", [])}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        archs = {stack.resolve(a) for a in props.get("Architectures", global_fn.get("Architectures", ["x86_64"]))}
        out[logical_id] = archs
        for layer in props.get("Layers", global_fn.get("Layers", [])):
            if isinstance(layer, dict) and layer.get("Ref") in out:
                out[layer["Ref"]] |= archs
    return out


@dataclass(frozen=True)
class Mismatch:
    path: Path
    machine: str
    resource: str
    declared: frozenset[str]

    def __str__(self) -> str:
        return f"{self.path}: {self.machine} code, but {self.resource} runs on {' and '.join(sorted(self.declared))}"


def mismatches(build_dir: Path, declared: dict[str, set[str]]) -> tuple[list[Mismatch], int]:
    """Every ``*.so`` under ``build_dir/<LogicalId>/`` whose machine is not the single architecture its
    function or layer declares (a resource declaring two cannot hold native code for both); and how
    many ``.so`` files were checked."""
    found: list[Mismatch] = []
    checked = 0
    for so in sorted(build_dir.rglob("*.so")):
        resource = so.relative_to(build_dir).parts[0]
        archs = declared.get(resource)
        if archs is None:
            raise AssertionError(f"{so}: {resource} is not a function or layer of template.yaml")
        checked += 1
        machine = elf_architecture(so)
        if archs != {machine}:
            found.append(Mismatch(so.relative_to(build_dir), machine, resource, frozenset(archs)))
    return found, checked
