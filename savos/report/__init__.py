"""`savos report`: report.py (tables, plots, GIFs, index.md), reach.py (IoU against temporal reach),
figures.py (saving figures)."""
