"""Command-line tools: `savos` (main.py) and `savos-gen` (gen.py, imports.py). Each command parses its
options and calls one library function; group.py turns every user error into one line."""
