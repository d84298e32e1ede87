"""Téléchargement du référentiel contre un serveur HTTP local (boucle locale, jamais internet).

Le serveur sert le contenu du miroir aux formats officiels : API data.gouv.fr (liste des
ressources du jeu QPV), zip ANCT de GeoJSON, geo.api.gouv.fr (communes avec contours, EPCI,
départements).
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import geopandas as gpd
import pandas as pd
import pytest

from observatoire import ErreurReferentiel, telecharger_referentiel, verifier_referentiel
from observatoire.cli import main

from .conftest import leve


def _contenus(miroir) -> dict[str, tuple[int, bytes, str]]:
    qpv = gpd.read_file(miroir / "qpv_2024_78_92_95.geojson")[["code_qp", "lib_qp", "insee_com", "geometry"]]
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w") as archive:
        archive.writestr("QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson", qpv.to_json())
    communes = gpd.read_file(miroir / "communes_78_92_95.geojson")
    routes = {
        "/resources/qpv-2024-geojson.zip": (200, tampon.getvalue(), "application/zip"),
        "/epcis": (
            200,
            json.dumps(
                [
                    {"code": s, "nom": n}
                    for s, n in communes[["siren_epci", "nom_epci"]].drop_duplicates().itertuples(index=False)
                ]
            ).encode(),
            "application/json",
        ),
    }
    france = pd.read_csv(miroir / "france" / "communes_france.csv", dtype=str, keep_default_na=False)
    nationales = [
        {
            "code": ligne.insee_com,
            "nom": ligne.nom_com,
            "codeDepartement": ligne.insee_dep,
            "codeRegion": ligne.insee_reg,
            "codeEpci": ligne.siren_epci or None,
            "population": int(ligne.pop_mun_2023 or 0),
            "centre": {
                "type": "Point",
                "coordinates": [float(ligne.lon_point_interieur), float(ligne.lat_point_interieur)],
            },
        }
        for ligne in france.itertuples(index=False)
    ]
    routes["/communes"] = (200, json.dumps(nationales).encode(), "application/json")
    for chemin, code, nom in (
        ("/departements", "insee_dep", "nom_dep"),
        ("/regions", "insee_reg", "nom_reg"),
    ):
        liste = france[[code, nom]].drop_duplicates().rename(columns={code: "code", nom: "nom"})
        routes[chemin] = (
            200,
            liste.to_json(orient="records", force_ascii=False).encode(),
            "application/json",
        )
    for code, partie in communes.groupby("insee_dep"):
        officiel = partie.rename(
            columns={
                "insee_com": "code",
                "nom_com": "nom",
                "insee_dep": "codeDepartement",
                "siren_epci": "codeEpci",
                "pop_mun_2022": "population",
            }
        )
        officiel = officiel[["code", "nom", "codeDepartement", "codeEpci", "population", "geometry"]]
        routes[f"/departements/{code}/communes"] = (200, officiel.to_json().encode(), "application/geo+json")
        routes[f"/departements/{code}"] = (
            200,
            json.dumps({"code": code, "nom": partie["nom_dep"].iloc[0]}).encode(),
            "application/json",
        )
    return routes


@pytest.fixture(scope="module")
def serveur(miroir):
    routes = _contenus(miroir)
    pannes: set[str] = set()

    class Gestionnaire(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - nom imposé par http.server
            chemin = urlparse(self.path).path
            base = f"http://127.0.0.1:{self.server.server_port}"
            if chemin == "/api/1/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/":
                corps = json.dumps(
                    {
                        "resources": [
                            {"title": "Liste QPV (csv)", "url": f"{base}/resources/listeqp2024-cog2024.csv"},
                            {"title": "QPV 2024 (GeoJSON)", "url": f"{base}/resources/qpv-2024-geojson.zip"},
                        ]
                    }
                ).encode()
                statut, type_ = 200, "application/json"
            elif chemin in pannes:
                statut, corps, type_ = 503, b"indisponible", "text/plain"
            else:
                statut, corps, type_ = routes.get(chemin, (404, b"introuvable", "text/plain"))
            self.send_response(statut)
            self.send_header("Content-Type", type_)
            self.send_header("Content-Length", str(len(corps)))
            self.end_headers()
            self.wfile.write(corps)

        def log_message(self, *args):
            pass

    serveur = ThreadingHTTPServer(("127.0.0.1", 0), Gestionnaire)
    fil = threading.Thread(target=serveur.serve_forever, daemon=True)
    fil.start()
    yield f"http://127.0.0.1:{serveur.server_port}", pannes
    serveur.shutdown()


def test_telechargement_construit_le_meme_referentiel(serveur, tmp_path):
    base, _ = serveur
    cible = tmp_path / "reference"
    manifeste = telecharger_referentiel(("78", "92", "95"), cible, url_datagouv=base, url_geoapi=base)
    assert manifeste["mode"] == "telechargement"
    assert set(manifeste["couches"]) == {
        "qpv",
        "communes",
        "epci",
        "departements",
        "communes_france",
        "departements_france",
    }
    assert manifeste["couches"]["communes_france"]["entites"] == 34875
    tableau = verifier_referentiel(cible).set_index("departement")
    assert tableau["qpv"].tolist() == [22, 19, 42]
    assert tableau["communes"].tolist() == [259, 36, 183]
    assert (tableau["statut"] == "ok").all()


def test_telechargement_par_la_commande(serveur, tmp_path, capsys):
    base, _ = serveur
    code = main(
        [
            "referentiel",
            "telecharger",
            "--departements",
            "95",
            "--vers",
            str(tmp_path / "r"),
            "--url-datagouv",
            base,
            "--url-geoapi",
            base,
        ]
    )
    assert code == 0
    assert "téléchargé" in capsys.readouterr().out


def test_echec_de_telechargement_n_installe_rien(serveur, tmp_path):
    base, pannes = serveur
    pannes.add("/departements/92/communes")
    cible = tmp_path / "reference"
    try:
        with leve(ErreurReferentiel, r"/departements/92/communes.*HTTP 503.*Rien n'a été installé"):
            telecharger_referentiel(("78", "92"), cible, url_datagouv=base, url_geoapi=base)
    finally:
        pannes.clear()
    assert not cible.exists()


def test_serveur_injoignable(tmp_path):
    with leve(ErreurReferentiel, "Téléchargement impossible : http://127.0.0.1:9/"):
        telecharger_referentiel(("95",), tmp_path / "r", url_datagouv="http://127.0.0.1:9", delai=2)
