"""`pasv pcap` end to end: read a capture, rebuild sessions and files, write them out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pasv.diagnostics.pcap.budget import Budget
from pasv.diagnostics.pcap.control import Event
from pasv.diagnostics.pcap.files import RebuiltFile, rebuild_files
from pasv.diagnostics.pcap.packets import read_segments
from pasv.diagnostics.pcap.sessions import Session, rebuild_sessions
from pasv.diagnostics.pcap.tcp import Connection, reassemble

__all__ = ["Analysis", "analyse", "extract", "summary"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|]")
_NAME_BYTES = 200  # room for ".incomplete" and "~N" within the usual 255-byte limit
_SUMS = "SHA256SUMS"


@dataclass
class Analysis:
    """Everything `pasv pcap` found in one capture."""

    sessions: list[Session]
    files: list[RebuiltFile]
    other_connections: list[Connection]
    written: dict[int, Path] = field(default_factory=dict)  # id(file) -> where it was written
    problems: list[str] = field(default_factory=list)  # what is wrong with the file itself


def analyse(path: Path) -> Analysis:
    """Read the capture at ``path`` (pcap or pcapng); raise CaptureError when it is not one."""
    budget = Budget.for_capture(path.stat().st_size)
    problems: list[str] = []
    sessions, others = rebuild_sessions(reassemble(read_segments(path, problems), budget))
    return Analysis(sessions, rebuild_files(sessions, budget), others, problems=problems)


def _component(name: str) -> str:
    """One path component made safe, and short enough for any file system (255 bytes)."""
    return _UNSAFE.sub("_", name).encode()[:_NAME_BYTES].decode(errors="ignore") or "_"


def _safe_relative(virtual: str) -> Path:
    """A relative path for a name taken from the capture: no "..", no absolute part."""
    parts = [_component(p) for p in virtual.split("/") if p not in ("", ".", "..")]
    return Path(*parts) if parts else Path("unnamed")


def _blocked(target: Path, root: Path) -> bool:
    """Whether ``target`` cannot be written: it is a directory, or a folder on its way is a file
    (a capture that stored both "a" and "a/b")."""
    if target.is_dir() or target == root / _SUMS:
        return True
    return any(p.exists() and not p.is_dir() for p in target.parents if p.is_relative_to(root))


def _free_target(root: Path, relative: Path, used: set[Path]) -> Path:
    """Where to write ``relative``: as named, else flattened into one name, else with ~N."""
    target = root / relative
    if _blocked(target, root) and len(relative.parts) > 1:
        relative = Path(_component("_".join(relative.parts)))
        target = root / relative
    counter = 1
    while target in used or _blocked(target, root):
        counter += 1
        target = root / relative.with_name(f"{relative.stem}~{counter}{relative.suffix}")
    return target


def _output_name(item: RebuiltFile, index: int) -> Path:
    if item.kind == "listing":
        transfer = item.transfers[0]
        label = _UNSAFE.sub("_", f"{transfer.verb} {transfer.arg}".strip().replace("/", "_"))
        return Path("listings") / f"session{item.session}-{index:03d}-{label}.txt"
    name = _safe_relative(item.path)
    return name if item.complete else name.with_name(name.name + ".incomplete")


def extract(analysis: Analysis, directory: Path) -> None:
    """Write each file and listing under ``directory``, and SHA256SUMS for `sha256sum -c`.

    Incomplete files end in .incomplete, with zero bytes where the capture has none.
    """
    root = directory.resolve()
    used: set[Path] = set()
    sums: list[str] = []
    for index, item in enumerate(analysis.files, 1):
        if not item.transfers or all(t.data is None for t in item.transfers):
            continue
        target = _free_target(root, _output_name(item, index), used)
        if not target.resolve().is_relative_to(root):
            continue  # cannot happen with _safe_relative; never write outside the directory
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(item.content))
        used.add(target)
        analysis.written[id(item)] = target
        sums.append(f"{item.sha256}  {target.relative_to(root)}\n")
    if sums:
        (root / _SUMS).write_text("".join(sums), encoding="utf-8")


def _event_dict(event: Event, origin: float) -> dict[str, Any]:
    if event.command is not None:
        text = f"{event.command.name} {event.command.arg}".rstrip()
        return {"t": round(event.ts - origin, 6), "from": "client", "text": text}
    if event.reply is not None:
        lines = event.reply.lines
        last = len(lines) - 1
        text = "\n".join(
            f"{event.reply.code}{' ' if i == last else '-'}{line}" for i, line in enumerate(lines)
        )
        return {"t": round(event.ts - origin, 6), "from": "server", "text": text}
    return {"t": round(event.ts - origin, 6), "from": "?", "text": event.raw}


def summary(analysis: Analysis) -> dict[str, Any]:
    """The analysis as plain data (for --json and for the table)."""
    sessions = []
    for number, s in enumerate(analysis.sessions, 1):
        origin = s.conn.first_ts
        sessions.append(
            {
                "session": number,
                "client": f"{s.conn.client[0]} port {s.conn.client[1]}",
                "server": f"{s.conn.server[0]} port {s.conn.server[1]}",
                "start": datetime.fromtimestamp(origin, UTC).isoformat(),
                "user": s.user,
                "passwords": s.passwords,
                "encrypted_after_auth": s.encrypted,
                "events": [_event_dict(e, origin) for e in s.events],
            }
        )
    files = [
        {
            "session": f.session,
            "kind": f.kind,
            "path": f.path,
            "command": " ".join(sorted({t.verb for t in f.transfers})),
            "bytes": len(f.content),
            "sha256": f.sha256,
            "complete": f.complete,
            "problems": f.status(),
            "notes": f.notes,
            "written": str(analysis.written[id(f)]) if id(f) in analysis.written else None,
        }
        for f in analysis.files
    ]
    return {
        "sessions": sessions,
        "files": files,
        "other_connections": len(analysis.other_connections),
        "problems": analysis.problems,
    }
