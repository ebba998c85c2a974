"""The installed llama.cpp is the portable build: nothing compiled for one CPU that another could lack.

A native build (-march=native) passes where it was built and dies elsewhere: on a VM whose CPU advertises
AMX it cannot execute, ggml's AMX kernel (ldtilecfg) killed the model server on its first request. So the
shipped libraries are checked instruction by instruction: no AMX tile instruction and no AVX-512
register anywhere, and llama.cpp itself reports an AVX2 baseline. Whatever pip's cache held, this is what
the venv ended up with (tools/dev/llama_wheel.sh installs it).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import require_models

pytestmark = pytest.mark.llama

# AMX: any tile register or tile instruction; AVX-512: any zmm register or mask-register move.
AMX = re.compile(r"\b(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|tilerelease|tdpb\w+)\b|%tmm\d")
AVX512 = re.compile(r"%zmm\d+|\bkmov[bwdq]\b")


def libraries() -> list[Path]:
    require_models()  # fails in CI, skips elsewhere, when llama-cpp-python is missing
    spec = importlib.util.find_spec("llama_cpp")
    assert spec and spec.origin
    libs = sorted(p for p in (Path(spec.origin).parent / "lib").glob("*.so*") if not p.is_symlink())
    assert any(p.name.startswith("libggml-cpu") for p in libs), libs
    return libs


def disassembly(lib: Path) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.fail("objdump (binutils) is needed to check the build")
    return subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True, check=True
    ).stdout


def test_no_shipped_library_holds_an_amx_or_avx512_instruction():
    found = {}
    for lib in libraries():
        code = disassembly(lib)
        hits = AMX.findall(code) + AVX512.findall(code)
        if hits:
            found[lib.name] = sorted({str(h) for h in hits})[:5]
    assert not found, f"CPU-specific instructions in the llama.cpp build: {found} (rebuild: make rebuild-llama)"


def test_the_checks_would_see_an_avx512_or_amx_instruction():
    # The patterns above match what objdump prints for the instructions a native build emits.
    assert AVX512.search("vfmadd231ps %zmm1,%zmm2,%zmm0") and AVX512.search("kmovw %k1,%eax")
    assert AMX.search("ldtilecfg (%rax)") and AMX.search("tdpbssd %tmm2,%tmm1,%tmm0")
    assert not AVX512.search("vfmadd231ps %ymm1,%ymm2,%ymm0") and not AMX.search("vmovups %ymm0,(%rax)")


def test_llama_cpp_reports_the_avx2_baseline_and_nothing_beyond():
    libraries()
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in info and "FMA = 1" in info and "F16C = 1" in info, info
    assert "AVX512" not in info and "AMX" not in info, info


def test_the_installed_wheel_was_built_with_the_portable_flags():
    flags_line = next(
        line
        for line in (ROOT / "tools" / "dev" / "llama_wheel.sh").read_text().splitlines()
        if line.strip().startswith("x86_64) FLAGS=")
    )
    assert "-DGGML_NATIVE=OFF" in flags_line and "-DGGML_AMX_INT8=OFF" in flags_line
    assert "-march=native" not in flags_line
