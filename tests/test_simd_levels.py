"""Every SIMD level the dispatcher can pick, forced. csrc/simd.h compiles the hot loops as GCC
target_clones for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline, and the loader
picks the best one the CPU reports. The kernel tests marked `simd` (float32 fast kernels against
the references, on sizes with vector remainders) run in the main session at this machine's level,
and here again in a subprocess under qemu-user (`qemu-x86_64 -cpu MODEL`), whose emulated CPU
reports fewer features, so the loader picks a lower clone. The subprocess checks the level it got
(conftest.py, FASTNLP_EXPECT_SIMD_LEVEL) before running anything.

Why qemu and not a switch in simd.h: the clones are chosen by GCC's resolver at load time, so a
switch would mean replacing target_clones at the ~30 call sites with a dispatcher of our own;
qemu forces the real resolver to pick each clone with no change to the kernels. qemu 7.2's TCG
emulates AVX2 but not AVX-512, so the x86-64-v4 clones run only natively on an AVX-512 machine
(they are then the main session's level); elsewhere that case skips with the reason.
"""

import os
import shutil
import subprocess
import sys

import pytest

from fastnlp import _C

TESTS = os.path.dirname(os.path.abspath(__file__))
# level -> (name, a qemu CPU model that makes the resolver pick it; None: qemu cannot emulate it)
LEVELS = {
    1: ("baseline x86-64", "Nehalem"),
    3: ("x86-64-v3 (AVX2, FMA)", "Haswell-noTSX"),
    4: ("x86-64-v4 (AVX-512)", None),
}


def test_simd_level_reported():
    level = _C.simd_level()
    assert level in (0, 1, 3, 4)
    if sys.platform.startswith("linux") and os.uname().machine == "x86_64":
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
        if level:  # GCC build on x86-64: the level follows the CPU's flags
            if "avx512f" in flags and "avx512bw" in flags and "avx512vl" in flags and "avx512dq" in flags:
                assert level == 4
            elif "avx2" in flags and "fma" in flags and "bmi2" in flags:
                assert level == 3
            else:
                assert level == 1


@pytest.mark.parametrize("level", sorted(LEVELS), ids=lambda v: LEVELS[v][0].split()[0])
def test_kernels_at_simd_level(level):
    name, model = LEVELS[level]
    native = _C.simd_level()
    if native == 0:
        pytest.skip("this build has no SIMD clones (not GCC on x86-64): the one level is the main session's")
    if level == native:
        pytest.skip(f"{name} is this machine's level: the main session runs the simd-marked tests at it")
    if level > native:
        pytest.skip(f"this CPU reports level {native}, below {name}; qemu's TCG cannot emulate it "
                    "(AVX-512), so it runs only natively on a CPU that has it")
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-x86_64 not found: install qemu-user (Debian: apt-get install qemu-user) "
                    f"to run the kernel tests at {name}")
    env = dict(os.environ, FASTNLP_EXPECT_SIMD_LEVEL=str(level))
    cmd = [qemu, "-cpu", model, sys.executable, "-m", "pytest", "-q", "-m", "simd", "-p", "no:cacheprovider", TESTS]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900,
                         stdin=subprocess.DEVNULL)
    # qemu warns about CPU features TCG leaves out (pcid, x2apic, ...); those lines are not failures.
    tail = (out.stdout + out.stderr)[-4000:]
    assert out.returncode == 0, f"the simd-marked tests failed at {name} (qemu -cpu {model}):\n{tail}"
    assert " passed" in out.stdout and "failed" not in out.stdout, tail
