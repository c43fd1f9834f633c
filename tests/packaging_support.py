"""The Dockerfile read instruction by instruction (no Docker engine needed), for the tests
of what it promises: ``tests/test_packaging.py`` and ``tests/deploy/``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"

Instruction = tuple[str, str]  # (INSTRUCTION, arguments)


def dockerfile_instructions(dockerfile: Path = DOCKERFILE) -> list[Instruction]:
    """Its instructions in order: comments dropped, continuation lines joined."""
    result: list[Instruction] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends in a continuation line"
    return result


def dockerfile_stages(dockerfile: Path = DOCKERFILE) -> dict[str, list[Instruction]]:
    """Instructions by stage name (``FROM image AS name``, else its number), each stage
    starting with its FROM; the last stage is also 'final'."""
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for keyword, arguments in dockerfile_instructions(dockerfile):
        if keyword == "FROM":
            parts = arguments.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            current = stages[name] = [(keyword, arguments)]
        else:
            assert current is not None, f"{keyword} before the first FROM"
            current.append((keyword, arguments))
    assert stages, "the Dockerfile has no FROM"
    stages["final"] = list(stages.values())[-1]
    return stages
