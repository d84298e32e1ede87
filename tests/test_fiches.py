"""Fiches QPV : contenu recalculé autrement, liens depuis les rapports, commande, notebook."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, box

from observatoire import ErreurParametre, preparer_rapport
from observatoire.fiches import FicheQPV, indices_des_plus_proches
from observatoire.indicateurs.couverture import seances_du_qpv

from .conftest import DEMO, RACINE, leve, lisible


@pytest.fixture(scope="module")
def rapport():
    return preparer_rapport("synthese", donnees=DEMO)


@pytest.mark.parametrize("code_qp", ["QN09535M", "QN09208M", "QN07801M"])
def test_seances_de_la_fiche_recalculees(rapport, code_qp):
    """Séances dedans et à moins de 300 m, recalculées par geopandas depuis les CSV bruts."""
    seances = pd.read_csv(DEMO / "2023" / "seances.csv", sep=";", dtype=str, keep_default_na=False)
    lieux = pd.read_csv(DEMO / "lieux.csv", sep=";", dtype=str, keep_default_na=False).set_index("id_lieu")
    seances["latitude"] = seances["latitude"].where(
        seances["latitude"] != "", seances["id_lieu"].map(lieux["latitude"])
    )
    seances["longitude"] = seances["longitude"].where(
        seances["longitude"] != "", seances["id_lieu"].map(lieux["longitude"])
    )
    seances = seances[(seances["distanciel"] != "oui") & (seances["latitude"].fillna("") != "")]
    points = gpd.GeoDataFrame(
        seances[["id_seance"]],
        geometry=gpd.points_from_xy(seances["longitude"].astype(float), seances["latitude"].astype(float)),
        crs=4326,
    ).to_crs(2154)
    forme = gpd.read_file(RACINE / "data" / "reference" / "qpv_2024.geojson").to_crs(2154)
    forme = forme[forme["code_qp"] == code_qp].geometry.iloc[0]
    distances = points.distance(forme)
    fiche = FicheQPV(rapport.ensemble, code_qp)
    assert sorted(fiche.seances["id_seance"]) == sorted(points.loc[distances <= 300, "id_seance"])
    assert (fiche.seances["distance_qpv_m"] == 0).sum() == (distances == 0).sum()
    page = fiche.page()
    assert f"({code_qp})</h1>" in page and '<html lang="fr">' in page
    dedans = int((distances == 0).sum())
    assert re.search(
        rf'<span class="valeur">{dedans}</span><span class="libelle">séances dans le quartier', page
    )
    # Les 5 lieux les plus proches : un lieu par point au mètre près, distance de son premier point.
    cle = points.geometry.x.round(0).astype(str) + ";" + points.geometry.y.round(0).astype(str)
    premiers = points.assign(cle=cle, distance=distances.round(0)).drop_duplicates("cle")
    attendues = [_distance_ecrite(d) for d in sorted(premiers["distance"].astype(int))[:5]]
    lignes = re.findall(r"<tr><td>.*?</tr>", str(fiche.lieux_proches()))
    montrees = [lisible(re.findall(r"<td[^>]*>(.*?)</td>", ligne)[2]) for ligne in lignes]
    assert montrees == attendues


def _distance_ecrite(metres: int) -> str:
    """Comme un lecteur l'attend : « dedans », « 850 m », « 2,6 km » (demi vers le haut)."""
    if metres == 0:
        return "dedans"
    if metres < 1000:
        return f"{metres} m"
    kilometres = Decimal(metres) / 1000
    return str(kilometres.quantize(Decimal("0.1"), ROUND_HALF_UP)).replace(".", ",") + " km"


def _seances_recomptees(situee, code_qp: str) -> pd.DataFrame:
    """À la main, ligne à ligne : les paires du QPV, la séance de chacune, sa distance arrondie
    au mètre (``round`` : au pair à mi-chemin), la plus proche d'abord, puis la plus ancienne
    (sans date : après les datées), puis dans l'ordre de la table des séances."""
    seances = situee.seances.reset_index(drop=True)
    position = {s: i for i, s in enumerate(seances["id_seance"])}
    retenues = [
        (position[s], d)
        for s, c, d in zip(
            situee.paires_qpv["id_seance"],
            situee.paires_qpv["code_qp"],
            situee.paires_qpv["distance_qpv_m"],
            strict=True,
        )
        if c == code_qp and s in position
    ]

    def rang(retenue):
        date = seances["date"].iloc[retenue[0]]
        return (round(retenue[1]), pd.isna(date), 0 if pd.isna(date) else date.value, retenue[0])

    retenues.sort(key=rang)
    colonnes = ["id_seance", "date", "intitule", "nom_com", "lieu", "participants"]
    attendu = seances.iloc[[p for p, _ in retenues]][colonnes].reset_index(drop=True)
    attendu["distance_qpv_m"] = np.array([round(d) for _, d in retenues], dtype="int64")
    attendu["situation"] = pd.Series(
        ["dans le QPV" if d == 0 else "à proximité" for _, d in retenues], dtype="str"
    )
    return attendu


def test_seances_de_chaque_fiche_recomptees_a_la_main(rapport):
    """Chaque QPV du territoire : les séances de sa fiche (une jointure pour toutes les fiches)
    et celles de ``seances_du_qpv`` (exploration) sont celles recomptées ligne à ligne."""
    ensemble = rapport.ensemble
    codes = ensemble.referentiel.qpv["code_qp"]
    atteints = 0
    for code in codes:
        attendu = _seances_recomptees(ensemble.situee, code)
        pd.testing.assert_frame_equal(FicheQPV(ensemble, code).seances, attendu)
        pd.testing.assert_frame_equal(seances_du_qpv(ensemble.situee, code), attendu)
        atteints += not attendu.empty
    assert 0 < atteints < len(codes)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 7),  # séance
            st.sampled_from(["QN09501A", "QN09502B", "QN09503C"]),
            st.sampled_from([0.0, 0.4, 0.5, 0.6, 1.5, 2.5, 12.49, 12.5, 299.5]),
        ),
        max_size=30,
        unique_by=lambda paire: (paire[0], paire[1]),
    ),
    st.lists(st.sampled_from(["2023-01-05", "2023-01-05", "2023-03-01", None]), min_size=8, max_size=8),
)
def test_seances_des_fiches_ex_aequo_recomptees_a_la_main(paires, dates):
    """Données tirées pour les égalités : distances qui s'arrondissent pareil, dates répétées ou
    absentes, QPV sans séance ; fiches et ``seances_du_qpv`` gardent l'ordre recompté à la main."""
    seances = pd.DataFrame(
        {
            "id_seance": [f"S{i}" for i in (3, 1, 7, 0, 5, 2, 6, 4)],
            "date": pd.to_datetime(pd.Series(dates)),
            "intitule": "Atelier",
            "nom_com": "Sarcelles",
            "lieu": [f"Lieu {i}" for i in range(8)],
            "participants": np.arange(8, dtype="int64"),
        }
    )
    situee = SimpleNamespace(
        seances=seances,
        paires_qpv=pd.DataFrame(
            [(f"S{s}", code, d) for s, code, d in paires], columns=["id_seance", "code_qp", "distance_qpv_m"]
        ).astype({"id_seance": "str", "code_qp": "str", "distance_qpv_m": "float64"}),
    )
    qpv = gpd.GeoDataFrame(
        {"code_qp": ["QN09501A", "QN09502B", "QN09503C"], "insee_dep": "95", "insee_com": "95585"},
        geometry=[box(650_000 + 1_000 * k, 6_870_000, 650_500 + 1_000 * k, 6_870_500) for k in range(3)],
        crs=2154,
    )
    ensemble = SimpleNamespace(situee=situee, referentiel=SimpleNamespace(qpv=qpv))
    for code in qpv["code_qp"]:
        attendu = _seances_recomptees(situee, code)
        pd.testing.assert_frame_equal(FicheQPV(ensemble, code).seances, attendu)
        pd.testing.assert_frame_equal(seances_du_qpv(situee, code), attendu)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-50_000, 50_000), st.integers(-50_000, 50_000)), min_size=1, max_size=40),
    st.integers(1, 8),
)
def test_plus_proches_par_index_spatial_comme_par_force_brute(coordonnees, nombre):
    """Le rayon qui double trouve toujours les plus proches, égalités au mètre comprises."""
    points = gpd.GeoSeries([Point(x, y) for x, y in coordonnees], crs=2154)
    forme = box(0, 0, 500, 300)
    candidats = indices_des_plus_proches(points.sindex, forme, nombre)
    distances = points.distance(forme).round(0)
    seuil = distances.nsmallest(min(nombre, len(points))).max()
    assert set(np.flatnonzero(distances <= seuil)) <= set(candidats)
    assert list(candidats) == sorted(candidats)


def test_qpv_inconnu(rapport):
    with leve(ErreurParametre, "QPV inconnu du référentiel : « QN99999X »"):
        FicheQPV(rapport.ensemble, "QN99999X")


@pytest.mark.lent
def test_fiches_publiees_et_reliees(lot):
    dossier = lot[0]["dossier"]
    fiches = sorted((dossier / "fiches").glob("QN*.html"))
    assert len([f for f in fiches if not f.name.endswith(".carte.html")]) == 83
    assert (dossier / "fiches" / "leaflet.js").is_file()
    index = (dossier / "index.html").read_text(encoding="utf-8")
    assert 'href="fiches/index.html"' in index
    rapport = (dossier / "95" / "rapport.html").read_text(encoding="utf-8")
    assert 'href="../fiches/QN09535M.html"' in rapport, "tableau de couverture relié aux fiches"
    carte = (dossier / "95" / "carte.html").read_text(encoding="utf-8")
    assert "../fiches/QN09535M.html" in carte and 'target=\\"_top\\"' in carte or 'target="_top"' in carte


@pytest.mark.lent
def test_commande_fiches(tmp_path):
    resultat = subprocess.run(
        [sys.executable, "-m", "observatoire", "fiches", "--departements", "92", "--donnees", str(DEMO),
         "--sortie", str(tmp_path / "fiches")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resultat.returncode == 0, resultat.stderr
    assert "19 fiches QPV écrites" in lisible(resultat.stdout)
    pages = sorted(p.name for p in (tmp_path / "fiches").glob("QN*[!e].html"))
    assert len(pages) == 19 and all(p.startswith("QN092") for p in pages)
