"""savos: self-supervised amodal video object segmentation (SaVos, NeurIPS 2022).

Importing ``savos`` does not import torch; ``savos.data`` is numpy only.
"""

__version__ = "0.1.0"
