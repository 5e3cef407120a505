"""The dashboard's throughput chart: an inline SVG drawn on the server (no script, no bundle)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 600, 160, 30


def _human(rate: float) -> str:
    for unit in ("B/s", "KiB/s", "MiB/s", "GiB/s"):
        if rate < 1024 or unit == "GiB/s":
            return f"{rate:.0f} {unit}" if unit == "B/s" else f"{rate:.1f} {unit}"
        rate /= 1024
    return f"{rate:.1f} GiB/s"


def throughput_svg(samples: list[tuple[float, float, float]], longest: float = 600.0) -> str:
    """Upload and download rates as two polylines: the last ten minutes, or since the server
    started when that is shorter (at least one minute)."""
    top = max([max(up, down) for _, up, down in samples] + [1024.0])
    end = samples[-1][0] if samples else 0.0
    span = min(longest, max(60.0, end - samples[0][0])) if samples else 60.0
    start_label = f"-{span / 60:.0f} min" if span >= 120 else f"-{span:.0f} s"

    def points(column: int) -> str:
        out = []
        for sample in samples:
            x = PAD + (WIDTH - PAD) * (1 - (end - sample[0]) / span)
            y = HEIGHT - PAD / 2 - (HEIGHT - PAD) * sample[column] / top
            out.append(f"{max(PAD, x):.1f},{y:.1f}")
        return " ".join(out)

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label="throughput">'
        f'<rect x="{PAD}" y="{PAD / 2}" width="{WIDTH - PAD}" height="{HEIGHT - PAD}" '
        'fill="#f7f7f9" stroke="#ccc"/>'
        f'<text x="{PAD + 4}" y="{PAD / 2 + 12}" font-size="11">{escape(_human(top))}</text>'
        f'<text x="{PAD + 4}" y="{HEIGHT - 4}" font-size="11">{start_label}</text>'
        f'<text x="{WIDTH - 30}" y="{HEIGHT - 4}" font-size="11">now</text>'
        f'<polyline fill="none" stroke="#2a7" stroke-width="2" points="{points(2)}"/>'
        f'<polyline fill="none" stroke="#c52" stroke-width="2" points="{points(1)}"/>'
        "</svg>"
    )
