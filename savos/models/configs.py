"""The recipe's ``model`` section of every method: plain frozen dataclasses (no torch), and
``check_patch``, the patch-size check every builder makes. Which method reads which section is said once,
in ``savos.training.methods.METHODS`` (``Method.model_config``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from savos.errors import SavosError
from savos.schema import check


def check_patch(patch: int | tuple[int, int], levels: int, widths: str, source: str = "") -> None:
    """One line naming ``data.patch`` unless each side of it (P, or (Ph, Pw)) is divisible by 2^levels,
    the network's stride-2 levels (``widths`` names the recipe keys that set them)."""
    sides = (patch,) if isinstance(patch, int) else tuple(patch)
    if any(side % 2**levels for side in sides):
        shown = patch if isinstance(patch, int) else list(patch)
        both = "" if isinstance(patch, int) else " (both sides)"
        raise SavosError(f"{source or 'recipe'}: data.patch: {shown} must be divisible by 2^{levels}{both} "
                         f"({widths} has {levels} stride-2 levels)")


@dataclass(frozen=True)
class SaVosModelConfig:
    """The recipe's ``model`` section for method "savos": exactly the explicit arguments of build_savos
    except ``patch``, which comes from ``data.patch`` (tests/test_config.py checks they agree)."""

    enc_widths: tuple[int, ...] = (16, 32, 64, 64)  # encoder channels per stride-2 level (conv: first 3)
    feat: int = 128  # encoder feature f_t (vector memory only)
    hidden: int = 128  # LSTM state h_t (vector memory)
    completer_widths: tuple[int, ...] = (8, 16, 32, 64)  # CNN_a / DeConv_a channels per level
    motion_widths: tuple[int, ...] = (8, 16, 32, 64)  # CNN_c / DeConv_c channels per level
    skips: bool = True  # U-Net skips from the conditioning CNNs (False: the paper's pure bottleneck)
    flow_scale: float = 4.0  # patch pixels of flow that map to 1.0 inside the network
    memory: Literal["vector", "conv", "both"] = "vector"  # the paper's LSTM, a ConvGRU at P/8, or both
    conv_hidden: int = 32  # ConvGRU channels at P/8 (conv memory)
    others: bool = False  # the other objects' visible masks as inputs of the encoder and the completer
    carry: bool = False  # the visible masks seen so far, moved to frame t, as a completer input (carry.py)
    # with carry: each direction's completer also reads the other direction's A_t, so it sees everything of
    # the clip that was visible, moved to frame t (the union baseline's evidence), not only its own past
    carry_clip: bool = False
    # with carry: the object-motion estimator that moves the masks (savos.motion.MOTIONS; affine-lsq: the
    # fit of the visible flow; mask-align-smooth: alignment of the visible masks smoothed over time, for
    # estimated flow)
    carry_motion: str = "affine-lsq"

    def __post_init__(self):
        from savos.motion import MOTIONS  # lazy: savos.motion imports torch, these configs do not

        check(self.carry_motion in MOTIONS, "carry_motion",
              f"must be one of {', '.join(MOTIONS)}, got {self.carry_motion!r}")
        for key in ("enc_widths", "completer_widths", "motion_widths"):
            w = getattr(self, key)
            check(1 <= len(w) <= 8 and 1 <= min(w) and max(w) <= 4096, key,
                  f"must be a list of 1 to 8 ints in [1, 4096], got {list(w)}")
        check(1 <= self.feat <= 8192, "feat", f"must be in [1, 8192], got {self.feat}")
        check(1 <= self.hidden <= 8192, "hidden", f"must be in [1, 8192], got {self.hidden}")
        check(1 <= self.conv_hidden <= 4096, "conv_hidden", f"must be in [1, 4096], got {self.conv_hidden}")
        check(self.flow_scale > 0, "flow_scale", f"must be > 0, got {self.flow_scale}")
        check(self.carry or not self.carry_clip, "carry_clip", "needs carry: true (it adds to its masks)")


@dataclass(frozen=True)
class ImageSSLConfig:
    """The recipe's ``model`` section for method "image-ssl": the U-Net and its training objective."""

    widths: tuple[int, ...] = (16, 32, 64, 128)  # U-Net channels per level (P/2, P/4, ...)
    use_rgb: bool = True  # rgb crop as input (blacked out under the occluder channel)
    front_prob: float = 0.8  # probability of case 1 (occluder in front); case 2 otherwise
    occluder_weight: float = 5.0  # BCE weight inside the artificial occluder (1 elsewhere)
    max_offset: float = 0.25  # occluder centre within ± max_offset * P of the visible mask's centre
    ignore_others: bool = True  # no loss inside the real other objects' visible masks

    def __post_init__(self):
        check(1 <= len(self.widths) <= 8 and 1 <= min(self.widths) and max(self.widths) <= 4096, "widths",
              f"must be a list of 1 to 8 ints in [1, 4096], got {list(self.widths)}")
        check(0 <= self.front_prob <= 1, "front_prob", f"must be in [0, 1], got {self.front_prob}")
        check(self.occluder_weight >= 0, "occluder_weight", f"must be >= 0, got {self.occluder_weight}")
        check(0 <= self.max_offset <= 1, "max_offset", f"must be in [0, 1], got {self.max_offset}")


@dataclass(frozen=True)
class OracleUNetConfig:
    """The recipe's ``model`` section for method "oracle-unet"."""

    widths: tuple[int, ...] = (16, 32, 64, 128)  # U-Net channels per level (P/2, P/4, ...)
    use_rgb: bool = True  # rgb crop as input (blacked out under the other objects' visible masks)

    def __post_init__(self):
        check(1 <= len(self.widths) <= 8 and 1 <= min(self.widths) and max(self.widths) <= 4096, "widths",
              f"must be a list of 1 to 8 ints in [1, 4096], got {list(self.widths)}")

