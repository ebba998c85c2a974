"""The built artifact is for the architecture the template declares: every native extension (``*.so``)
that ``sam build`` placed in a function or layer is an ELF file for that function's or layer's CPU.

No Docker needed: only SAM CLI and the package index (for the arm64 wheels)."""

from __future__ import annotations

from pathlib import Path

from tests.sam.architecture import declared_architectures, elf_architecture, mismatches

ROOT = Path(__file__).resolve().parents[2]


def test_the_release_build_holds_only_native_code_for_its_declared_architecture(release_build: Path) -> None:
    # Given what `sam build` made from template.yaml as it is (the Architecture parameter's default)
    declared = declared_architectures(ROOT)
    # When every .so under the build directory is read
    found, checked = mismatches(release_build, declared)
    # Then there is native code (pydantic-core at least), and all of it is for the declared CPU
    assert checked > 0, f"no *.so under {release_build}: did the layer build at all?"
    assert not found, "native code for the wrong architecture:\n" + "\n".join(map(str, found))


def test_the_local_build_holds_only_native_code_for_its_overridden_architecture(local_build) -> None:
    declared = declared_architectures(ROOT, {"Architecture": local_build.architecture})
    found, checked = mismatches(local_build.path, declared)
    assert checked > 0
    assert not found, "native code for the wrong architecture:\n" + "\n".join(map(str, found))


def test_every_function_and_the_layer_follow_one_architecture_parameter() -> None:
    for value in ("arm64", "x86_64"):
        assert set(map(frozenset, declared_architectures(ROOT, {"Architecture": value}).values())) == {
            frozenset({value})
        }


def _elf(machine: int) -> bytes:
    # A 64-bit little-endian ELF header up to e_machine: all the check reads.
    return b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little")


def test_a_layer_with_x86_64_code_under_arm64_functions_is_caught(tmp_path: Path) -> None:
    # Given the layer as `sam build` made it on an x86-64 host before the fix
    so = tmp_path / "SharedLayer" / "python" / "pydantic_core" / "_pydantic_core.cpython-312-x86_64-linux-gnu.so"
    so.parent.mkdir(parents=True)
    so.write_bytes(_elf(62))
    (tmp_path / "ValidateFunction").mkdir()
    # When the functions that attach it run on arm64
    found, checked = mismatches(tmp_path, {"SharedLayer": {"arm64"}, "ValidateFunction": {"arm64"}})
    # Then
    assert checked == 1 and [(m.machine, m.resource) for m in found] == [("x86_64", "SharedLayer")]
    assert elf_architecture(so) == "x86_64"
    so.write_bytes(_elf(183))
    assert mismatches(tmp_path, {"SharedLayer": {"arm64"}}) == ([], 1)
