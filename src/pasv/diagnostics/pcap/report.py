"""`pasv pcap` end to end: read a capture, rebuild sessions and files, write them out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pasv.diagnostics.pcap.files import RebuiltFile, rebuild_files
from pasv.diagnostics.pcap.packets import read_segments
from pasv.diagnostics.pcap.sessions import Session, rebuild_sessions
from pasv.diagnostics.pcap.tcp import Connection, reassemble

__all__ = ["Analysis", "analyse", "extract"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|]")


@dataclass
class Analysis:
    """Everything `pasv pcap` found in one capture."""

    sessions: list[Session]
    files: list[RebuiltFile]
    other_connections: list[Connection]
    written: dict[int, Path] = field(default_factory=dict)  # id(file) -> where it was written


def analyse(path: Path) -> Analysis:
    """Read the capture at ``path`` (pcap or pcapng); raise CaptureError when it is not one."""
    sessions, others = rebuild_sessions(reassemble(read_segments(path)))
    return Analysis(sessions, rebuild_files(sessions), others)


def _safe_relative(virtual: str) -> Path:
    """A relative path for a name taken from the capture: no "..", no absolute part."""
    parts = [_UNSAFE.sub("_", p) for p in virtual.split("/") if p not in ("", ".", "..")]
    return Path(*parts) if parts else Path("unnamed")


def _output_name(item: RebuiltFile, index: int) -> Path:
    if item.kind == "listing":
        transfer = item.transfers[0]
        label = _UNSAFE.sub("_", f"{transfer.verb} {transfer.arg}".strip().replace("/", "_"))
        return Path("listings") / f"session{item.session}-{index:03d}-{label}.txt"
    name = _safe_relative(item.path)
    return name if item.complete else name.with_name(name.name + ".incomplete")


def extract(analysis: Analysis, directory: Path) -> None:
    """Write each file and listing under ``directory``; incomplete ones end in .incomplete."""
    root = directory.resolve()
    used: set[Path] = set()
    for index, item in enumerate(analysis.files, 1):
        if not item.transfers or all(t.data is None for t in item.transfers):
            continue
        relative = _output_name(item, index)
        target = root / relative
        counter = 1
        while target in used:
            counter += 1
            target = root / relative.with_name(f"{relative.stem}~{counter}{relative.suffix}")
        if not target.resolve().is_relative_to(root):
            continue  # cannot happen with _safe_relative; never write outside the directory
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(item.content))
        used.add(target)
        analysis.written[id(item)] = target
