"""The scene engine: configurable occlusion scenes with exact amodal ground truth (``savos-gen scene``).

config.py (the typed scene YAML), families.py (shapes), appearance.py (colours and textures),
motion.py (own-to-frame maps and the analytic non-rigid warp), layout.py (where objects go and how they
move), engine.py (sample, render, accept, finish a clip), check.py (``savos-gen verify``).
"""
