"""YAML that no savos file needs is refused at once by every YAML reader: an alias bomb (a few hundred
bytes that expand into billions of nodes), anchors and aliases at all, nesting past the bound; and an
error message quotes at most a short prefix of a value, however long the value is.

Each command case asserts a non-zero exit, one ``error:`` line naming the file, no traceback, and that the
file is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from savos import safe_yaml
from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.config import parse_override
from savos.errors import BRIEF, SavosError, brief
from savos.readers import FileFormatError, read_yaml


def _bomb(key: str = "height") -> str:
    """~700 bytes: 9 levels of 9 aliases each, 9**9 (387 million) strings once expanded, under ``key``."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    lines.append(f"{key}: *l8")
    text = "\n".join(lines) + "\n"
    assert len(text) < 800
    return text


DEEP = "a: " + "[" * 200 + "]" * 200 + "\n"
LONG = "x" * 100_000


def test_the_loader_refuses_aliases_and_deep_nesting_and_reads_plain_yaml():
    with pytest.raises(safe_yaml.YamlRefused, match=r"alias \*l0 \(line 2"):
        safe_yaml.load(_bomb())
    with pytest.raises(safe_yaml.YamlRefused, match="alias"):
        safe_yaml.load("a: &x 1\nb: *x\n")
    with pytest.raises(safe_yaml.YamlRefused, match="alias"):
        safe_yaml.load("base: &b {lr: 1}\ntrain:\n  <<: *b\n")  # merge keys are aliases too
    with pytest.raises(safe_yaml.YamlRefused, match="deeper than 64"):
        safe_yaml.load(DEEP)
    with pytest.raises(safe_yaml.YamlRefused, match="characters long"):
        safe_yaml.load("a: 1\n" * (safe_yaml.MAX_BYTES // 4))
    with pytest.raises(safe_yaml.YamlRefused, match="not valid YAML"):
        safe_yaml.load("a: [1")
    with pytest.raises(safe_yaml.YamlRefused, match="cannot read"):
        safe_yaml.load("a: " + "1" * 5000)  # Python refuses to convert ints of more than 4300 digits
    assert safe_yaml.load("a: &x 1\n") == {"a": 1}  # an anchor nobody refers to costs nothing
    assert safe_yaml.load("") is None
    assert safe_yaml.load("train:\n  lr: 3.0e-4\n  steps: [1, 2]\n") == {"train": {"lr": 3e-4,
                                                                                  "steps": [1, 2]}}


def test_every_shipped_yaml_file_reads_with_the_loader():
    recipes = Path(__file__).resolve().parent.parent / "recipes"
    files = sorted(recipes.rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        read_yaml(path)


def test_brief_quotes_a_short_prefix_in_bounded_work():
    assert brief("abc") == "'abc'"
    assert len(brief(LONG)) <= BRIEF
    nested: list = []
    for _ in range(10_000):
        nested = [nested, nested]  # 2**10000 leaves as a repr
    assert len(brief(nested)) <= BRIEF
    assert len(brief(10**5000)) <= BRIEF


def test_read_yaml_names_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    with pytest.raises(FileFormatError, match=f"^{path}: the YAML file uses the alias"):
        read_yaml(path)


def test_a_set_value_with_an_alias_is_one_line():
    with pytest.raises(SavosError, match="--set train.lr=.*alias"):
        parse_override("train.lr=[&a 1, *a]")


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "gum-tiny.yaml"

# (id, build(tmp) -> (cli, args, file the line must name))
CASES = [
    ("recipe-bomb", lambda tmp: ("savos", ["train", str(_write(tmp, "r.yaml", _bomb("method"))), "--out",
                                           str(tmp / "run"), "-q"], "r.yaml")),
    ("recipe-deep", lambda tmp: ("savos", ["train", str(_write(tmp, "r.yaml", DEEP)), "--out",
                                           str(tmp / "run"), "-q"], "r.yaml")),
    ("recipe-base-bomb", lambda tmp: ("savos", [
        "train", str(_write(tmp, "r.yaml", f"base: {_write(tmp, 'b.yaml', _bomb('method'))}\n")), "--out",
        str(tmp / "run"), "-q"], "b.yaml")),
    ("stream-config-bomb", lambda tmp: ("savos", [
        "train", str(RECIPE), "--set", f"data.root={_write(tmp, 'g.yaml', _bomb())}", "--out",
        str(tmp / "run"), "-q"], "g.yaml")),
    ("set-value-bomb", lambda tmp: ("savos", ["train", str(RECIPE), "--set", "train.lr=[&a 1, *a]", "--out",
                                              str(tmp / "run"), "-q"], "train.lr")),
    ("gen-config-bomb", lambda tmp: ("gen", ["chewing-gum", "--config", str(_write(tmp, "g.yaml", _bomb())),
                                             "--n", "4", "--out", str(tmp / "d"), "-q"], "g.yaml")),
    ("scene-bomb", lambda tmp: ("gen", ["scene", str(_write(tmp, "s.yaml", _bomb("layout"))), "--n", "4",
                                        "--out", str(tmp / "d"), "-q"], "s.yaml")),
    ("scene-preview-bomb", lambda tmp: ("gen", ["preview", str(_write(tmp, "s.yaml", _bomb("layout"))),
                                                "--out", str(tmp / "p.gif")], "s.yaml")),
    ("curriculum-bomb", lambda tmp: ("gen", ["curriculum", str(_write(tmp, "c.yaml", _bomb("levels"))),
                                             "--n", "4", "--out", str(tmp / "c"), "-q"], "c.yaml")),
    ("curriculum-base-bomb", lambda tmp: ("gen", [
        "curriculum", str(_write(tmp, "c.yaml", f"base: {_write(tmp, 's.yaml', _bomb('layout'))}\n"
                                                "levels: [{name: a}]\n")),
        "--n", "4", "--out", str(tmp / "c"), "-q"], "s.yaml")),
    ("gallery-bomb", lambda tmp: ("gen", ["gallery", "--scenes", str(_write(tmp, "s.yaml", _bomb()).parent),
                                          "--out", str(tmp / "g"), "-q"], "s.yaml")),
]


@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_yaml_reader_refuses_an_alias_bomb_in_one_line(tmp_path, build):
    cli, args, expect = build(tmp_path)
    files = {p: p.read_bytes() for p in tmp_path.glob("*.yaml")}
    result = CliRunner().invoke(gen_main if cli == "gen" else savos_main, args)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert expect in lines[0] and ("alias" in lines[0] or "deeper" in lines[0]), lines[0]
    assert all(p.read_bytes() == data for p, data in files.items())


# A long value in each kind of file: the message quotes a short prefix of it, not the value.
LONG_CASES = [
    ("recipe-value", lambda tmp: ("savos", ["train", str(_write(tmp, "r.yaml", f"train:\n  lr: {LONG}\n")),
                                            "--out", str(tmp / "run"), "-q"], "train.lr")),
    ("recipe-key", lambda tmp: ("savos", ["train", str(_write(tmp, "r.yaml", f"train:\n  {LONG}: 1\n")),
                                          "--out", str(tmp / "run"), "-q"], "r.yaml")),
    ("recipe-method", lambda tmp: ("savos", ["train", str(_write(tmp, "r.yaml", f"method: {LONG}\n")),
                                             "--out", str(tmp / "run"), "-q"], "method")),
    ("gen-config-value", lambda tmp: ("gen", ["chewing-gum", "--config",
                                              str(_write(tmp, "g.yaml", f"height: [{LONG}]\n")), "--n", "4",
                                              "--out", str(tmp / "d"), "-q"], "height")),
    ("scene-value", lambda tmp: ("gen", ["scene", str(_write(tmp, "s.yaml", f"layout: {LONG}\n")), "--n",
                                         "4", "--out", str(tmp / "d"), "-q"], "layout")),
]


@pytest.mark.parametrize("build", [c[1] for c in LONG_CASES], ids=[c[0] for c in LONG_CASES])
def test_messages_quote_a_short_prefix_of_a_long_value(tmp_path, build):
    cli, args, expect = build(tmp_path)
    result = CliRunner().invoke(gen_main if cli == "gen" else savos_main, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert len(lines[0]) < 600, lines[0][:300]
    assert "x" * (BRIEF + 1) not in lines[0]
