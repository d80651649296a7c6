"""The documentation keeps up with the command line: every command and option `traces --help`
offers is in docs/commands.md, in that command's section, and every `traces` command the README
and docs/ show (in code blocks and in inline code) names a command and options that exist."""
import argparse
import pathlib
import re
import shlex

import pytest

import traces

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMANDS_DOC = ROOT / "docs" / "commands.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERIC = {"-h", "--help", "--version"}


def subparsers(parser):
    """The parser's sub-commands, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def options(parser):
    """Every option string of a parser and of its sub-commands, but -h, --help, --version and
    the hidden ones (`sync --background`, which the hook passes)."""
    found = {string for action in parser._actions if action.help != argparse.SUPPRESS
             for string in action.option_strings} - GENERIC
    for sub in subparsers(parser).values():
        found |= options(sub)
    return found


def section(name):
    """The part of docs/commands.md about `traces NAME`."""
    text = COMMANDS_DOC.read_text()
    match = re.search(rf"^## traces {name}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/commands.md has no section '## traces {name}'"
    return match.group(1)


COMMAND_PARSERS = subparsers(traces.build_parser())


@pytest.mark.parametrize("name", sorted(COMMAND_PARSERS))
def test_every_option_of_every_command_is_in_the_reference(name):
    text = section(name)
    parser = COMMAND_PARSERS[name]
    missing = sorted(option for option in options(parser) if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text))
    missing += sorted(action for action in subparsers(parser) if f"`{action}" not in text and f"| {action}" not in text)
    assert not missing, f"docs/commands.md's section on `traces {name}` does not name {missing}"


# `traces CMD ...`, `python3 tools/traces.py CMD ...`, `claudetracing CMD ...` (uvx).
COMMAND_LINE = re.compile(r"(?:(?<![\w/.-])traces|python3?[ \t]+\S*traces\.py|\bclaudetracing)[ \t]+([a-z]+)(.*)")
SYNOPSIS = re.compile(r"\[|\.\.\.| \| ")         # a usage line: [--option], NAME..., a | b


def shown_commands(path):
    """(line, command, rest of the line) for each traces command the page shows: the lines of its
    code blocks (only those after a `$ ` prompt where a block has one; a line opening with `[`
    continues the one before) and its inline code spans."""
    text = path.read_text()
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S):
        lines = block.splitlines()
        prompted = any(line.startswith("$ ") for line in lines)
        commands = []
        for line in lines:
            if prompted and not line.startswith("$ ") or line.lstrip().startswith("#"):
                continue
            if commands and line.lstrip().startswith("[") and not prompted:
                commands[-1] += " " + line.strip()
            else:
                commands.append(line.removeprefix("$ "))
        found += commands
    found += re.findall(r"(?<!`)`((?:traces|claudetracing) [^`\n]+)`(?!`)", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))
    shown = []
    for line in found:
        for match in COMMAND_LINE.finditer(line):
            rest = re.split(r"\s#|\s\|\s|\s<\s|&&|;|\)", match.group(2))[0] if not SYNOPSIS.search(match.group(2)) \
                else match.group(2).split(" #")[0]
            shown.append((line, match.group(1), rest))
    return shown


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_every_command_the_pages_show_exists(path):
    shown = shown_commands(path)
    assert path.name != "README.md" or len(shown) > 20, "the README's commands were not found"
    wrong = []
    for line, name, rest in shown:
        if name not in COMMAND_PARSERS:
            wrong.append(f"{line!r}: no command {name!r}")
            continue
        known = options(COMMAND_PARSERS[name]) | GENERIC
        unknown = [token for token in re.findall(r"(?<![\w\[-])(--?[A-Za-z][\w-]*)", rest) if token not in known]
        if unknown:
            wrong.append(f"{line!r}: `traces {name}` has no option {unknown}")
        elif not SYNOPSIS.search(rest) and re.search(r"(?<!\S)-", rest):   # options given: they must parse
            try:
                traces.build_parser().parse_args([name, *shlex.split(rest)])
            except SystemExit:
                wrong.append(f"{line!r}: `traces {name}{rest}` does not parse")
    assert not wrong, "\n".join(wrong)


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The page check finds an option that does not exist, a command that does not exist and a
    value argparse refuses; the reference check finds a missing option."""
    page = tmp_path / "README.md"
    page.write_text("```sh\ntraces search --colour\ntraces serach\ntraces search -f yaml\n```\n"
                    "Then `traces report --by decade`.\n")
    shown = shown_commands(page)
    assert [name for _, name, _ in shown] == ["search", "serach", "search", "report"]
    with pytest.raises(AssertionError) as failed:
        test_every_command_the_pages_show_exists(page)
    assert all(word in str(failed.value) for word in ("--colour", "'serach'", "-f yaml", "--by decade"))
    assert re.search(r"(?<![\w-])--max-chars(?![\w-])", section("search"))
    assert not re.search(r"(?<![\w-])--colour(?![\w-])", section("search"))
