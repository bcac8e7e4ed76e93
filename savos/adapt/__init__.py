"""Test-time adaptation (`savos adapt`): loop.py adapts one clip, split.py a split (workers, outputs,
resume), plots.py draws the learning curves."""
