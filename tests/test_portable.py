"""Same seed, same bytes on every CPU (generators/portable.py): the portable functions are the C library's,
bit for bit, and every preset and Chewing Gum generate the same bytes with numpy's AVX-512 kernels
turned off. On a CPU without AVX-512 the second test compares a run with itself; CI's CPUs have it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from generators import portable

ROOT = Path(__file__).parent.parent
# The presets with the generator's own flow (the dis ones add OpenCV's estimate, a separate library).
PRESETS = sorted(p.stem for p in (ROOT / "recipes" / "scenes").glob("*.yaml") if "-dis" not in p.stem)
# numpy's dispatch above AVX2; its AVX-512 exp, log, arcsin, arctan2 and power differ in the last bit.
NO_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"

DIGESTS = r"""
import hashlib, json, sys
from pathlib import Path
from generators.chewing_gum import ChewingGumConfig, generate_clips as gum_clips
from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clips
from tiny import clip_digest

def digest(clips):
    return hashlib.sha256("".join(clip_digest(c) for c in clips).encode()).hexdigest()

out = {p: digest(generate_clips(load_scene(Path("recipes/scenes") / f"{p}.yaml"), 3, [0, 1], "train"))
       for p in sys.argv[1:]}
out["chewing-gum"] = digest(gum_clips(ChewingGumConfig(), 3, [0, 1, 2], "train"))
print(json.dumps(out))
"""


def test_portable_functions_are_the_c_librarys_bit_for_bit():
    rng = np.random.default_rng(0)
    x, pos, unit = rng.uniform(-8, 8, 5000), rng.uniform(0.0, 4.0, 5000), rng.uniform(-1, 1, 5000)
    assert portable.exp(x).tolist() == [math.exp(v) for v in x]
    assert portable.arcsin(unit).tolist() == [math.asin(v) for v in unit]
    assert portable.arctan2(x, unit).tolist() == [math.atan2(a, b) for a, b in zip(x, unit, strict=True)]
    assert portable.power(pos, 1.5).tolist() == [math.pow(v, 1.5) for v in pos]
    assert portable.power(x, 3).tolist() == [math.pow(v, 3) for v in x]
    grid = portable.exp(np.zeros((2, 3)))
    assert grid.shape == (2, 3) and grid.dtype == np.float64
    assert isinstance(portable.exp(1.0), float) and portable.exp(1.0) == math.e


def _digests(env_extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **env_extra, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    res = subprocess.run([sys.executable, "-c", DIGESTS, *PRESETS], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_every_preset_has_the_same_bytes_without_avx512():
    native = _digests({})
    baseline = _digests({"NPY_DISABLE_CPU_FEATURES": NO_AVX512})
    assert set(native) == {*PRESETS, "chewing-gum"}
    assert {k for k in native if native[k] != baseline[k]} == set()
