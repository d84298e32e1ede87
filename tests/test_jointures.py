"""Jointures territoriales sur de petites géométries faites à la main (EPSG:2154)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely import Point, Polygon, box

from observatoire import (
    Activite,
    ErreurDonnees,
    Referentiel,
    calculer_indicateurs,
    couverture_qpv,
    lire_activite,
    rattacher_qpv,
    situer_activite,
    situer_origines,
    situer_seances,
    valeur,
)

from .conftest import TABLES_VALIDES, leve

X0, Y0 = 640_000.0, 6_870_000.0  # quelque part dans le Val-d'Oise
CRS = "EPSG:2154"
VERS_WGS84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def _gdf(lignes, geometries):
    return gpd.GeoDataFrame(pd.DataFrame(lignes), geometry=geometries, crs=CRS)


@pytest.fixture
def mini_referentiel() -> Referentiel:
    # Deux communes côte à côte (2 km × 2 km) ; QPV A dans C1, QPV B à cheval sur C1 et C2.
    communes = _gdf(
        [
            {
                "insee_com": "95001",
                "nom_com": "Une",
                "insee_dep": "95",
                "siren_epci": "200000001",
                "nom_epci": "CA Test",
                "code_ept": "",
                "nom_ept": "",
                "n_qpv_2024": 2,
                "population": 10,
            },
            {
                "insee_com": "95002",
                "nom_com": "Deux",
                "insee_dep": "95",
                "siren_epci": "200000001",
                "nom_epci": "CA Test",
                "code_ept": "",
                "nom_ept": "",
                "n_qpv_2024": 1,
                "population": 10,
            },
            {
                "insee_com": "95003",
                "nom_com": "Trois",
                "insee_dep": "95",
                "siren_epci": "200000002",
                "nom_epci": "CC Sans QPV",
                "code_ept": "",
                "nom_ept": "",
                "n_qpv_2024": 0,
                "population": 10,
            },
        ],
        [
            box(X0, Y0, X0 + 2000, Y0 + 2000),
            box(X0 + 2000, Y0, X0 + 4000, Y0 + 2000),
            box(X0, Y0 + 2000, X0 + 4000, Y0 + 4000),
        ],
    )
    qpv = _gdf(
        [
            {"code_qp": "QN09501M", "lib_qp": "Alpha", "insee_dep": "95", "insee_com": "95001"},
            {"code_qp": "QN09502I", "lib_qp": "Bêta", "insee_dep": "95", "insee_com": "95001,95002"},
        ],
        [box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1500, Y0 + 500, X0 + 2500, Y0 + 1500)],
    )
    departements = _gdf([{"insee_dep": "95", "nom_dep": "Val-d'Oise"}], [box(X0, Y0, X0 + 4000, Y0 + 4000)])
    epci = _gdf([{"siren_epci": "200000001", "nom_epci": "CA Test"}], [box(X0, Y0, X0 + 4000, Y0 + 2000)])
    ept = _gdf([], [])
    departements_france = _gdf(
        [
            {"insee_dep": "95", "nom_dep": "Val-d'Oise", "insee_reg": "11", "nom_reg": "Île-de-France"},
            {"insee_dep": "75", "nom_dep": "Paris", "insee_reg": "11", "nom_reg": "Île-de-France"},
        ],
        [box(X0, Y0, X0 + 4000, Y0 + 4000), box(X0 + 9000, Y0, X0 + 9500, Y0 + 500)],
    )
    communes_france = pd.concat(
        [
            pd.DataFrame(communes.drop(columns="geometry")),
            pd.DataFrame(
                [
                    {
                        "insee_com": "75056",
                        "nom_com": "Paris",
                        "insee_dep": "75",
                        "siren_epci": "",
                        "nom_epci": "",
                        "code_ept": "",
                        "nom_ept": "",
                    }
                ]
            ),
        ],
        ignore_index=True,
    ).fillna({"n_qpv_2024": 0})
    communes_france[["insee_reg", "nom_reg"]] = ("11", "Île-de-France")
    anciennes = pd.DataFrame(
        columns=["code_ancien", "nom_ancien", "type_lien", "insee_com", "nom_com", "date_effet"]
    )
    return Referentiel(
        ("95",), qpv, communes, epci, ept, departements, communes_france, anciennes, departements_france,
        pd.DataFrame({"code_qp": pd.Series(dtype=object)}), 2024, 2025, 2023, {},
    )  # fmt: skip


def _points(*coordonnees):
    return gpd.GeoSeries([Point(x, y) if x is not None else None for x, y in coordonnees], crs=CRS)


def test_dedans_sur_la_limite_a_299_et_301_metres(mini_referentiel):
    points = _points(
        (X0 + 500, Y0 + 500),  # dans A
        (X0 + 1000, Y0 + 200),  # sur la limite est de A
        (X0 + 200, Y0 + 1299),  # 299 m au nord de A
        (X0 + 200, Y0 + 1301),  # 301 m au nord de A
        (None, None),  # sans géométrie
    )
    resultat = rattacher_qpv(points, mini_referentiel.qpv, 300)
    assert resultat["code_qp"].tolist() == ["QN09501M", "QN09501M", "", "", ""]
    assert resultat["code_qp_proche"].tolist() == ["QN09501M", "QN09501M", "QN09501M", "", ""]
    assert resultat["distance_qpv_m"].iloc[2] == pytest.approx(299)
    assert np.isnan(resultat["distance_qpv_m"].iloc[3])


def test_distance_de_proximite_configurable(mini_referentiel):
    resultat = rattacher_qpv(_points((X0 + 200, Y0 + 1301)), mini_referentiel.qpv, 310)
    assert resultat["code_qp_proche"].tolist() == ["QN09501M"]


def test_le_plus_proche_des_deux(mini_referentiel):
    # Entre A (bord x=1000) et B (bord x=1500) : 200 m de A, 300 m de B.
    resultat = rattacher_qpv(_points((X0 + 1200, Y0 + 700)), mini_referentiel.qpv, 300)
    assert resultat["code_qp_proche"].tolist() == ["QN09501M"]
    assert resultat["distance_qpv_m"].iloc[0] == pytest.approx(200)


def test_refuse_un_autre_crs(mini_referentiel):
    with pytest.raises(ValueError, match="EPSG:2154"):
        rattacher_qpv(_points((X0, Y0)).to_crs("EPSG:4326"), mini_referentiel.qpv)


def _seances(*lignes):
    enregistrements = []
    for numero, (commune, xy, distanciel) in enumerate(lignes, start=1):
        lon, lat = VERS_WGS84.transform(*xy) if xy else (np.nan, np.nan)
        enregistrements.append(
            {
                "id_seance": f"S{numero}",
                "id_action": "A1",
                "date": pd.Timestamp("2023-03-01"),
                "demi_journees": 1,
                "code_commune": commune,
                "lieu": "",
                "latitude": lat,
                "longitude": lon,
                "distanciel": distanciel,
            }
        )
    return pd.DataFrame(enregistrements)


def test_situer_seances(mini_referentiel):
    seances = _seances(
        ("95002", (X0 + 2200, Y0 + 1000), False),  # dans B, partie dans la commune Deux
        ("95001", None, False),  # sans coordonnées : commune seulement
        ("", None, True),  # à distance
        ("95003", (X0 + 3500, Y0 + 3500), False),  # loin de tout QPV
    )
    avant = seances.copy()
    situees = situer_seances(seances, mini_referentiel)
    pd.testing.assert_frame_equal(seances, avant)  # l'entrée n'est pas modifiée
    assert situees.crs == CRS
    assert situees["code_qp"].tolist() == ["QN09502I", "", "", ""]
    assert situees["precision"].tolist() == ["coordonnees", "commune", "distanciel", "coordonnees"]
    assert situees["situation_qpv"].tolist() == ["dans_qpv", "non_situee", "distanciel", "hors_qpv"]
    assert situees["nom_com"].tolist()[:2] == ["Deux", "Une"]
    assert situees["nom_epci"].iloc[3] == "CC Sans QPV"


def test_situer_origines_dans_et_hors_territoire(mini_referentiel):
    participations = pd.DataFrame(
        {
            "id_seance": ["S1"] * 4,
            "public": ["elu"] * 4,
            "code_commune_origine": ["95002", "", "93066", ""],
            "departement_origine": ["95", "95", "autre", "autre"],
            "nombre": [3, 4, 5, 6],
        }
    )
    origines = situer_origines(participations, mini_referentiel)
    assert origines["departement"].tolist() == ["95", "95", "autre", "autre"]
    assert origines["dans_territoire"].tolist() == [True, True, False, False]
    assert origines["niveau_origine"].tolist() == ["commune", "departement", "commune", "departement"]
    assert origines["commune_pv"].tolist() == [True, False, False, False]
    assert origines["intercommunalite"].tolist() == ["CA Test", "", "", ""]


def _activite(seances, participations, demandes=None):
    vide = pd.DataFrame(
        columns=[
            "id_demande",
            "date",
            "type_demandeur",
            "code_commune",
            "siren_epci",
            "departement",
            "thematique",
        ]
    )
    actions = pd.DataFrame(
        {
            "id_action": ["A1"],
            "intitule": ["Test"],
            "axe": ["developpement_social"],
            "thematique": ["sante"],
            "format": ["rencontre"],
        }
    )
    return Activite(
        actions,
        seances,
        participations,
        vide if demandes is None else demandes,
        pd.DataFrame(),
        pd.DataFrame(),
        pd.DataFrame(),
        "test",
        False,
    )


def test_indicateurs_annee_vide(mini_referentiel, ecrire_jeu):
    """Le lecteur refuse une table sans ligne ; les indicateurs, eux, tiennent sans division par zéro."""
    entetes = {table: texte.split("\n", 1)[0] + "\n" for table, texte in TABLES_VALIDES.items()}
    with leve(ErreurDonnees, "sans aucune ligne de données"):
        lire_activite(ecrire_jeu(**entetes), referentiel=mini_referentiel)
    seances = _seances(("95001", (X0 + 100, Y0 + 100), False)).iloc[:0]
    participations = pd.DataFrame(
        {
            c: pd.Series(dtype=t)
            for c, t in [
                ("id_seance", object),
                ("public", object),
                ("code_commune_origine", object),
                ("departement_origine", object),
                ("nombre", "int64"),
            ]
        }
    )
    situee = situer_activite(_activite(seances, participations), mini_referentiel)
    indicateurs = calculer_indicateurs(situee, mini_referentiel)
    assert valeur(indicateurs, "participations") == 0
    assert valeur(indicateurs, "actions") == 0
    assert valeur(indicateurs, "demandes") == 0
    assert valeur(indicateurs, "qpv_atteints") == 0
    assert valeur(indicateurs, "communes_pv") == 2
    non_atteints = indicateurs[indicateurs["indicateur"] == "qpv_non_atteints"]
    assert non_atteints["modalite"].tolist() == ["total", "QN09501M", "QN09502I"]
    assert non_atteints["valeur"].tolist() == [2, 0, 0]
    assert non_atteints["libelle"].tolist()[1:] == ["Alpha", "Bêta"]


def test_indicateurs_couverture_et_perimetre(mini_referentiel):
    seances = _seances(("95001", (X0 + 1100, Y0 + 500), False), ("", None, True))
    participations = pd.DataFrame(
        {
            "id_seance": ["S1", "S1", "S2"],
            "public": ["elu", "habitant", "elu"],
            "code_commune_origine": ["95002", "", "93066"],
            "departement_origine": ["95", "95", "autre"],
            "nombre": [3, 4, 5],
        }
    )
    situee = situer_activite(_activite(seances, participations), mini_referentiel)
    synthese = calculer_indicateurs(situee, mini_referentiel)
    departement = calculer_indicateurs(situee, mini_referentiel, "95")
    assert valeur(synthese, "participations") == 12
    assert valeur(departement, "participations") == 7
    assert valeur(synthese, "participations_par_departement_origine", "autre") == 5
    assert valeur(synthese, "qpv_seance_proximite") == 1  # à 100 m de A
    assert valeur(synthese, "qpv_atteints", colonne="part") == pytest.approx(0.5)
    assert valeur(synthese, "communes_pv_atteintes") == 1  # Deux
    assert valeur(synthese, "participations_communes_pv", colonne="part") == pytest.approx(3 / 12)
    assert valeur(departement, "seances") == 1  # la séance à distance n'est d'aucun département
    assert valeur(synthese, "seances_par_precision", "distanciel") == 1


def test_seance_dans_un_qpv_compte_a_proximite_du_voisin(mini_referentiel):
    """Le défaut de l'issue 12 : seul le QPV le plus proche était gardé, si bien qu'une séance
    dans A ne comptait jamais « à proximité » de B, même à moins de D mètres de lui."""
    seances = _seances(("95001", (X0 + 950, Y0 + 700), False))  # dans A, à 550 m de B
    participations = pd.DataFrame(
        {
            "id_seance": ["S1"],
            "public": ["elu"],
            "code_commune_origine": ["95001"],
            "departement_origine": [""],
            "nombre": [2],
        }
    )
    situee = situer_activite(_activite(seances, participations), mini_referentiel, 600)
    couverture = couverture_qpv(situee, mini_referentiel).set_index("code_qp")
    assert couverture.loc["QN09501M", ["seances_dedans", "seances_proximite", "atteinte"]].tolist() == [
        1,
        0,
        "dedans",
    ]
    assert couverture.loc["QN09502I", ["seances_dedans", "seances_proximite", "atteinte"]].tolist() == [
        0,
        1,
        "proximite",
    ]
    indicateurs = calculer_indicateurs(situee, mini_referentiel)
    assert valeur(indicateurs, "qpv_atteints") == 2
    # À 500 m pile du voisin, la borne est comprise ; à 499 m de D, non.
    pile = situer_activite(
        _activite(_seances(("95001", (X0 + 1000, Y0 + 700), False)), participations), mini_referentiel, 500
    )
    assert couverture_qpv(pile, mini_referentiel)["atteinte"].tolist() == ["dedans", "proximite"]
    court = situer_activite(
        _activite(_seances(("95001", (X0 + 1000, Y0 + 700), False)), participations), mini_referentiel, 499
    )
    assert couverture_qpv(court, mini_referentiel)["atteinte"].tolist() == ["dedans", "non"]


@pytest.mark.parametrize(
    ("lieu", "longitude", "latitude"),
    [
        ("La Réunion", 55.45, -20.88),
        ("Mayotte", 45.23, -12.78),
        ("Guyane", -52.33, 4.93),
        ("Guadeloupe", -61.53, 16.24),
        ("Paris", 2.35, 48.85),
    ],
)
def test_proximite_mesuree_au_sol_hors_metropole(lieu, longitude, latitude):
    """À La Réunion, 300 m au sol mesurent 561 m en Lambert-93 : la proximité se compte au sol.

    L'oracle est la distance géodésique (pyproj.Geod) d'un point posé à l'est du bord est d'un
    QPV carré ; 250 m au sol est « à proximité » (distance ±1 m), 350 m ne l'est pas.
    """
    from pyproj import Geod

    geod = Geod(ellps="GRS80")
    vers_l93 = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    est, _, _ = geod.fwd(longitude, latitude, 90, 200)
    nord = geod.fwd(longitude, latitude, 0, 200)[1]
    carre = Polygon(
        [
            vers_l93.transform(x, y)
            for x, y in ((longitude, latitude), (est, latitude), (est, nord), (longitude, nord))
        ]
    )
    qpv = gpd.GeoDataFrame({"code_qp": ["QN97401M"]}, geometry=[carre], crs=CRS)
    milieu = (latitude + nord) / 2
    points = gpd.GeoSeries(
        [Point(vers_l93.transform(*geod.fwd(est, milieu, 90, d)[:2])) for d in (250, 350)], crs=CRS
    )
    resultat = rattacher_qpv(points, qpv, 300)
    assert resultat["code_qp_proche"].tolist() == ["QN97401M", ""], lieu
    # En métropole, Lambert-93 fait foi (écart au sol sous 3 ‰ ; ici 0,1 ‰ : dans le mètre).
    assert resultat["distance_qpv_m"].iloc[0] == pytest.approx(250, abs=1), lieu
