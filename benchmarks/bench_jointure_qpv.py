"""Jointure lieu → QPV : 1 000 000 de points aléatoires sur 78/92/95 contre les QPV 2024 de France.

Compare ``observatoire.rattacher_qpv`` (dedans + plus proche à moins de 300 m) à un
``geopandas.sjoin`` nu (dedans seulement) sur les mêmes données (cible : 1,2× au plus), et à une
boucle naïve point par point sur 10 000 points (gain affiché).

    .venv/bin/python benchmarks/bench_jointure_qpv.py [POINTS]
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pyogrio
from _commun import RACINE, chronometrer

from observatoire import charger_referentiel, rattacher_qpv
from observatoire.referentiel.projection import CRS_CALCUL


def _qpv_france() -> gpd.GeoDataFrame:
    """Tous les QPV 2024 de France, lus dans le miroir (le référentiel installé n'a que ceux du
    territoire)."""
    chemin = RACINE.parent / "shared" / "reference" / "france" / "qpv_2024_france.geojson"
    if not chemin.is_file():
        sys.exit(f"{chemin} absent : ce banc d'essai lit le miroir national ../shared/reference.")
    return pyogrio.read_dataframe(chemin).to_crs(CRS_CALCUL)


def _points(n: int) -> gpd.GeoSeries:
    emprise = charger_referentiel(("78", "92", "95")).departements.total_bounds
    generateur = np.random.default_rng(2023)
    x = generateur.uniform(emprise[0], emprise[2], n)
    y = generateur.uniform(emprise[1], emprise[3], n)
    return gpd.GeoSeries.from_xy(x, y, crs=CRS_CALCUL)


def _chrono(fonction, repetitions=3) -> tuple[float, object]:
    durees, resultat = chronometrer(fonction, repetitions)
    return min(durees), resultat


def _boucle_naive(points: gpd.GeoSeries, qpv: gpd.GeoDataFrame, distance_m: float) -> list[str]:
    codes = []
    for point in points:
        distances = qpv.geometry.distance(point)
        plus_proche = distances.idxmin()
        codes.append(qpv.at[plus_proche, "code_qp"] if distances[plus_proche] <= distance_m else "")
    return codes


def main(n: int = 1_000_000) -> None:
    qpv = _qpv_france()
    points = _points(n)
    cadre = gpd.GeoDataFrame(geometry=points)
    qpv_nu = qpv[["code_qp", "geometry"]]
    print(f"{n} points aléatoires sur l'emprise de 78/92/95, {len(qpv)} QPV 2024 (France entière), EPSG:2154")

    t_dedans, dedans = _chrono(lambda: rattacher_qpv(points, qpv, 0))
    t_sjoin, jointure = _chrono(lambda: gpd.sjoin(cadre, qpv_nu, predicate="intersects"))
    assert (dedans["code_qp"] != "").sum() == jointure.index.nunique(), "mêmes points dans un QPV"
    print(
        f"1) dans un QPV : observatoire.rattacher_qpv(D=0) {t_dedans:.3f} s ; geopandas.sjoin "
        f"(intersects) {t_sjoin:.3f} s ; rapport {t_dedans / t_sjoin:.2f}× (cible ≤ 1,2×)"
    )

    t_proche, proche = _chrono(lambda: rattacher_qpv(points, qpv, 300))
    t_dwithin, paires = _chrono(lambda: gpd.sjoin(cadre, qpv_nu, predicate="dwithin", distance=300))
    t_nearest, plus_proche = _chrono(
        lambda: gpd.sjoin_nearest(cadre, qpv_nu, max_distance=300, distance_col="d"), repetitions=1
    )
    atteints = (proche["code_qp_proche"] != "").sum()
    assert atteints == paires.index.nunique() == plus_proche.index.nunique(), "mêmes points à moins de 300 m"
    print(
        f"2) dedans ou à moins de 300 m ({atteints} points) : observatoire {t_proche:.3f} s ; "
        f"sjoin(dwithin) {t_dwithin:.3f} s ({t_proche / t_dwithin:.2f}×, cible ≤ 1,2×) ; "
        f"sjoin_nearest(max_distance) {t_nearest:.3f} s ({t_proche / t_nearest:.2f}×)"
    )

    echantillon = points.iloc[:10_000]
    t_naif, codes = _chrono(lambda: _boucle_naive(echantillon, qpv, 300), repetitions=1)
    t_echantillon, resultat = _chrono(lambda: rattacher_qpv(echantillon, qpv, 300))
    assert codes == resultat["code_qp_proche"].astype(str).tolist(), "la boucle naïve donne le même résultat"
    print(
        f"3) boucle naïve point par point sur 10 000 points : {t_naif:.1f} s ; observatoire "
        f"{t_echantillon:.4f} s ; gain ×{t_naif / t_echantillon:.0f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
