"""A grid of point clouds rendered to PNG with matplotlib's 3D scatter (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def render_grid(
    clouds: np.ndarray,
    path: Path,
    titles: list[str] | None = None,
    cols: int = 4,
    size: float = 2.6,
    max_points: int = 2048,
) -> Path:
    """Scatter each ``[N, 3]`` cloud (y up, as ShapeNet) into one PNG; colour encodes depth."""
    count = len(clouds)
    cols = min(cols, count)
    rows = (count + cols - 1) // cols
    fig = plt.figure(figsize=(cols * size, rows * size), dpi=90)
    for i, pts in enumerate(clouds):
        pts = pts[:max_points]
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        # matplotlib's z is up; map the shape's y (up) onto it.
        ax.scatter(
            pts[:, 0],
            pts[:, 2],
            pts[:, 1],
            s=1.0,
            c=pts[:, 2],
            cmap="viridis",
            depthshade=False,
            linewidths=0,
        )
        centre = (pts.max(0) + pts.min(0)) / 2
        half = float((pts.max(0) - pts.min(0)).max()) / 2 or 1.0
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[2] - half, centre[2] + half)
        ax.set_zlim(centre[1] - half, centre[1] + half)
        ax.view_init(elev=20, azim=-60)
        ax.set_axis_off()
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
