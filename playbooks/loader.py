"""Load playbook YAML files, reporting every problem at its line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from playbooks.catalog import Catalog
from playbooks.errors import PlaybookLoadError, Problem
from playbooks.schema import EFFECT_KEYS, Playbook

PATTERNS = ("*.yaml", "*.yml")
# What a Literal field holds, for "'sev5' is not a severity" rather than pydantic's wording.
_CHOICE_NOUNS = {
    "severity": "a severity",
    "severity_override": "a severity",
    "roles[key]": "a role",
    "enter_on": "a milestone",
    "done_on": "a milestone",
    "statuspage": "a status page status",
    "page": "a paging service",
}


def bundled_dir() -> Path:
    """Return the folder of the playbooks shipped with warroom."""
    return Path(__file__).parent / "bundled"


def playbook_files(directory: str | Path) -> list[Path]:
    """List the playbook files of a folder, in name order."""
    folder = Path(directory)
    return sorted({path for pattern in PATTERNS for path in folder.glob(pattern)})


def load_playbook(path: str | Path) -> Playbook:
    """Load one playbook file; raise PlaybookLoadError listing every problem."""
    _, playbook, problems = _load(Path(path))
    if problems or playbook is None:
        raise PlaybookLoadError(problems)
    return playbook


def load_dir(directory: str | Path) -> Catalog:
    """Load every playbook of a folder into a Catalog; raise PlaybookLoadError on problems."""
    playbooks, problems = _load_all(Path(directory))
    if problems:
        raise PlaybookLoadError(problems)
    return Catalog(playbooks)


def check_dir(directory: str | Path) -> list[Problem]:
    """Return every problem of every playbook in a folder, in file and line order."""
    return _load_all(Path(directory))[1]


def _load_all(folder: Path) -> tuple[list[Playbook], list[Problem]]:
    if not folder.is_dir():
        return [], [Problem(str(folder), 0, "not a directory")]
    playbooks: list[Playbook] = []
    problems: list[Problem] = []
    first_seen: dict[str, tuple[str, int]] = {}
    fallback: tuple[str, str, int] | None = None
    for path in playbook_files(folder):
        tree, playbook, found = _load(path)
        problems.extend(found)
        playbook_id = tree.get("id") if isinstance(tree, CommentedMap) else None
        if isinstance(playbook_id, str):
            line = tree.lc.key("id")[0] + 1
            if playbook_id in first_seen:
                other_file, other_line = first_seen[playbook_id]
                problems.append(
                    Problem(
                        str(path),
                        line,
                        f"playbook id {playbook_id!r} is already used at {other_file}:{other_line}",
                    )
                )
                continue
            first_seen[playbook_id] = (str(path), line)
        if playbook is not None:
            # Two playbooks without `match` would leave the choice for an unmatched alert to
            # their ids' sort order: say so instead of picking one silently.
            if not playbook.match:
                line = tree.lc.key("match")[0] + 1 if "match" in tree else line
                if fallback is not None:
                    other_id, other_file, other_line = fallback
                    problems.append(
                        Problem(
                            str(path),
                            line,
                            f"playbook {playbook.id!r} has no match, like {other_id!r} at "
                            f"{other_file}:{other_line}: only one playbook may be the fallback; "
                            "give one of them a match",
                        )
                    )
                    continue
                fallback = (playbook.id, str(path), line)
            playbooks.append(playbook)
    return playbooks, problems


def _load(path: Path) -> tuple[Any, Playbook | None, list[Problem]]:
    """Return the YAML tree (None when unreadable), the playbook if valid, and its problems."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [Problem(file, 1, f"cannot read: {exc}")]
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = ": ".join(part for part in (exc.context, exc.problem) if part)
        return None, None, [Problem(file, line, f"invalid YAML: {reason}")]
    except YAMLError as exc:
        return None, None, [Problem(file, 1, f"invalid YAML: {exc}")]
    if not isinstance(tree, CommentedMap):
        return tree, None, [Problem(file, 1, f"a playbook is a mapping of keys, got {_kind(tree)}")]
    problems = [Problem(file, line, message) for line, message in _duplicate_stage_ids(tree)]
    try:
        playbook = Playbook.model_validate(_plain(tree))
    except ValidationError as exc:
        problems.extend(
            Problem(file, *_locate(tree, error))
            for error in exc.errors()
            if error["type"] != "duplicate_stage_id"
        )
        return tree, None, sorted(set(problems))
    return tree, (None if problems else playbook), sorted(set(problems))


def _duplicate_stage_ids(tree: CommentedMap) -> Iterable[tuple[int, str]]:
    stages = tree.get("stages")
    if not isinstance(stages, CommentedSeq):
        return
    first: dict[str, int] = {}
    for stage in stages:
        if not isinstance(stage, CommentedMap) or not isinstance(stage.get("id"), str):
            continue
        line = stage.lc.value("id")[0] + 1
        if stage["id"] in first:
            yield (
                line,
                f"stage id {stage['id']!r} is used twice (first at line {first[stage['id']]})",
            )
        else:
            first[stage["id"]] = line


def _plain(node: Any) -> Any:
    """Turn ruamel's round-trip nodes into plain dicts, lists, str, int, float, bool."""
    if isinstance(node, dict):
        return {_plain(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def _locate(tree: CommentedMap, error: ErrorDetails) -> tuple[int, str]:
    """Follow an error's loc through the YAML tree to a line and a message naming the field."""
    loc = error["loc"]
    kind = error["type"]
    node: Any = tree
    line = 1
    path = ""
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if _is_union_tag(path, part, loc[index - 1] if index else None):
            continue
        if last and kind in ("missing", "extra_forbidden"):
            if kind == "extra_forbidden" and isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
            return line, _message(error, path, key=str(part))
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.value(part)[0] + 1
            path = f"{path}.{part}" if path else str(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            path = f"{path}[{part}]"
            node = node[part]
        elif part == "[key]" and path:
            parent, _, key = path.rpartition(".")
            return line, _message(error, parent, key=key)
        # Anything else is pydantic's own bookkeeping (union tags, validator names): skip it.
    return line, _message(error, path)


def _is_union_tag(path: str, part: Any, previous: Any) -> bool:
    # pydantic puts the chosen tag of an on_enter entry in the loc: on_enter.0.post.post
    return isinstance(previous, int) and part in EFFECT_KEYS and _field(path) == "on_enter"


def _field(path: str) -> str:
    return path.rpartition(".")[2].partition("[")[0]


def _message(error: ErrorDetails, path: str, *, key: str | None = None) -> str:
    """Word a pydantic error for people editing YAML: the field, the value, what is allowed."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {key!r}" + (f" in {path}" if path else "")
    if kind == "missing":
        return f"missing required field {key!r}" + (f" in {path}" if path else "")
    subject = path or "playbook"
    value = error.get("input")
    field = _field(path)
    if key is not None:
        # The error is about a mapping key (such as a role name), not its value.
        value, field = key, f"{field}[key]"
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        noun = _CHOICE_NOUNS.get(field)
        if noun is None:
            return f"{subject}: {value!r} is not one of {expected}"
        return f"{subject}: {value!r} is not {noun} ({expected})"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == r"^[a-z0-9-]+$":
            return f"{subject}: {value!r} must use only lowercase letters, digits and '-'"
        if field == "webhook":
            return f"{subject}: {value!r} is not an http(s) URL"
        return f"{subject}: {value!r} does not match {ctx.get('pattern')}"
    if kind == "string_too_short":
        return f"{subject}: must not be empty"
    if kind == "invalid_key":
        parent = path.rpartition(".")[0]
        return f"keys must be strings, got {_kind(error['loc'][-1])}" + (
            f" in {parent}" if parent else ""
        )
    if kind == "too_short":
        return f"{subject}: needs at least one entry"
    if kind in (
        "string_type",
        "bool_type",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
    ):
        wanted = {
            "string_type": "a string",
            "bool_type": "true or false",
            "list_type": "a list",
            "dict_type": "a mapping",
        }.get(kind, "a mapping")
        return f"{subject}: expected {wanted}, got {_kind(value)}"
    return f"{subject}: {error['msg']}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return f"true/false ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"{type(value).__name__} ({value!r})"
