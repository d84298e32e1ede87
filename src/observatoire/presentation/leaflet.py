"""Leaflet et MarkerCluster venus de PyPI (xstatic), prêts à poser dans une page : aucun CDN.

Module léger (ni folium ni matplotlib) : les fiches QPV, écrites dans le processus du lot, ne
chargent pas ce que seules les cartes des rapports demandent.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path

import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster

__all__ = ["fichiers_leaflet"]


@lru_cache(maxsize=1)
def fichiers_leaflet() -> tuple[str, str]:
    """CSS (images en ``data:``) et JavaScript de Leaflet et MarkerCluster, sans carte source."""
    leaflet = Path(xs_leaflet.BASE_DIR)
    cluster = Path(xs_cluster.BASE_DIR)
    css = (leaflet / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(
        r"url\((?:\"|')?images/([\w.-]+\.png)(?:\"|')?\)", lambda m: _data_png(leaflet / "images" / m[1]), css
    )
    css += (cluster / "MarkerCluster.css").read_text(encoding="utf-8")
    css += (cluster / "MarkerCluster.Default.css").read_text(encoding="utf-8")
    js = (leaflet / "leaflet.js").read_text(encoding="utf-8")
    js += "\n" + (cluster / "leaflet.markercluster.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    return css, js


def _data_png(chemin: Path) -> str:
    return f"url(data:image/png;base64,{base64.b64encode(chemin.read_bytes()).decode('ascii')})"
