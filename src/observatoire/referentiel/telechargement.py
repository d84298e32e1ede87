"""Téléchargement du référentiel depuis les sources officielles (data.gouv.fr, geo.api.gouv.fr).

Construit les mêmes fichiers que le miroir (mêmes colonnes) puis les installe avec
``referentiel.installer_fichiers`` : rien n'est installé si un téléchargement échoue.
"""

from __future__ import annotations

import io
import json
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..commun.codes import normaliser_departements
from ..commun.erreurs import ErreurReferentiel
from ..commun.fichiers import dossier_referentiel_par_defaut
from .installation import completer_qpv, installer_fichiers
from .projection import CRS_CALCUL

__all__ = ["telecharger_referentiel", "URL_DATAGOUV", "URL_GEOAPI"]

URL_DATAGOUV = "https://www.data.gouv.fr"
URL_GEOAPI = "https://geo.api.gouv.fr"
_JEU_QPV = "/api/1/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/"
_CRS_GEOJSON = "EPSG:4326"


def telecharger_referentiel(
    departements,
    vers: str | Path | None = None,
    *,
    url_datagouv: str = URL_DATAGOUV,
    url_geoapi: str = URL_GEOAPI,
    delai: float = 60.0,
) -> dict:
    """Télécharge et installe le référentiel depuis les sources officielles.

    - QPV 2024 : l'API data.gouv.fr donne la ressource courante (zip de GeoJSON ANCT) ;
    - communes du territoire avec contours, EPCI et départements : geo.api.gouv.fr ;
    - EPCI et départements : contours par fusion des communes, comme le miroir ;
    - table nationale des communes (code, nom, département, région, EPCI, population, centre)
      et départements de France (nom, région, point central) : geo.api.gouv.fr.

    L'API ne donne ni les EPT (la couche EPT n'est pas installée et ``code_ept`` reste vide)
    ni les anciens codes des communes (un ancien code est alors signalé comme inconnu, avec
    le code valide le plus proche) ; installez depuis un miroir pour les avoir.

    Parameters
    ----------
    departements : sequence of str
        Départements à installer.
    vers : str or Path, optional
        Dossier d'installation.
    url_datagouv, url_geoapi : str
        Adresses des services (modifiables pour un miroir ou pour les tests).
    delai : float
        Délai d'attente par requête, en secondes.

    Returns
    -------
    dict
        Le manifeste écrit.
    """
    codes = normaliser_departements(departements)
    client = _Client(delai)
    qpv_france = _telecharger_qpv(client, url_datagouv)
    noms_epci = _telecharger_noms_epci(client, url_geoapi)
    communes_france, departements_france = _telecharger_tables_nationales(client, url_geoapi, noms_epci)
    communes = _telecharger_communes(client, url_geoapi, codes)
    couches = _construire_couches(qpv_france, communes, communes_france, codes)
    couches["departements_france"] = departements_france
    with tempfile.TemporaryDirectory(prefix="observatoire-telechargement-") as dossier:
        fichiers = {}
        for nom, table in couches.items():
            chemin = Path(dossier) / f"{nom}.geojson"
            table.to_crs(_CRS_GEOJSON).to_file(chemin, driver="GeoJSON")
            fichiers[nom] = chemin
        fichiers["communes_france"] = Path(dossier) / "communes_france.csv"
        communes_france.to_csv(fichiers["communes_france"], index=False, encoding="utf-8")
        return installer_fichiers(
            fichiers,
            Path(vers) if vers else dossier_referentiel_par_defaut(),
            mode="telechargement",
            origine=f"{url_datagouv} ; {url_geoapi}",
            documents=[],
            departements=codes,
            absentes={
                "qpv_contexte": "les sources officielles (INSEE, CNAF) ne sont pas téléchargeables automatiquement : "
                "installez le référentiel depuis un miroir qui contient qpv_2024_contexte.csv",
                "qpv_correspondance": "la table de correspondance de l'ANCT n'a pas d'adresse stable connue : "
                "installez le référentiel depuis un miroir qui contient qpv_2024_2015_correspondance.csv",
            },
        )


def _telecharger_tables_nationales(client, url_geoapi: str, noms_epci: dict[str, str]):
    """Toutes les communes (sans contour) et les départements de France (point central)."""
    base = url_geoapi.rstrip("/")
    champs = "code,nom,codeDepartement,codeRegion,codeEpci,population,centre"
    communes = pd.DataFrame(client.json(f"{base}/communes?zone=metro,drom&fields={champs}&format=json"))
    departements = pd.DataFrame(client.json(f"{base}/departements?zone=metro,drom"))
    regions = pd.DataFrame(client.json(f"{base}/regions?zone=metro,drom"))
    if communes.empty or departements.empty or regions.empty:
        raise ErreurReferentiel(f"Tables nationales vides depuis {url_geoapi}. Rien n'a été installé.")
    noms_dep = dict(zip(departements["code"], departements["nom"], strict=True))
    noms_reg = dict(zip(regions["code"], regions["nom"], strict=True))
    centres = communes["centre"].map(lambda c: (c or {}).get("coordinates") or [None, None])
    table = pd.DataFrame(
        {
            "insee_com": communes["code"],
            "nom_com": communes["nom"],
            "insee_dep": communes["codeDepartement"],
            "nom_dep": communes["codeDepartement"].map(noms_dep).fillna(""),
            "insee_reg": communes["codeRegion"],
            "nom_reg": communes["codeRegion"].map(noms_reg).fillna(""),
            "siren_epci": communes["codeEpci"].fillna(""),
            "nom_epci": communes["codeEpci"].map(noms_epci).fillna(""),
            "code_ept": "",
            "nom_ept": "",
            # Population légale en vigueur : l'API n'en donne pas le millésime.
            "population": communes["population"],
            "lon_point_interieur": centres.map(lambda c: c[0]),
            "lat_point_interieur": centres.map(lambda c: c[1]),
        }
    )
    points = (
        table.dropna(subset=["lon_point_interieur"])
        .groupby("insee_dep")[["lon_point_interieur", "lat_point_interieur"]]
        .median()
    )
    par_dep = table.drop_duplicates("insee_dep").set_index("insee_dep").loc[points.index]
    departements_france = gpd.GeoDataFrame(
        {
            "insee_dep": points.index,
            "nom_dep": par_dep["nom_dep"].to_numpy(),
            "insee_reg": par_dep["insee_reg"].to_numpy(),
            "nom_reg": par_dep["nom_reg"].to_numpy(),
        },
        geometry=gpd.points_from_xy(points["lon_point_interieur"], points["lat_point_interieur"]),
        crs=_CRS_GEOJSON,
    )
    return table, departements_france


class _Client:
    def __init__(self, delai: float):
        self.delai = delai

    def octets(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=self.delai) as reponse:
                return reponse.read()
        except urllib.error.HTTPError as erreur:
            raise ErreurReferentiel(
                f"Téléchargement refusé : {url} a répondu HTTP {erreur.code}. Rien n'a été "
                "installé ; réessayez plus tard ou installez depuis un miroir "
                "(« observatoire referentiel installer --depuis DOSSIER »)."
            ) from erreur
        except (urllib.error.URLError, TimeoutError, OSError) as erreur:
            raise ErreurReferentiel(
                f"Téléchargement impossible : {url} ({getattr(erreur, 'reason', erreur)}). "
                "Rien n'a été installé ; vérifiez la connexion ou installez depuis un miroir "
                "(« observatoire referentiel installer --depuis DOSSIER »)."
            ) from erreur

    def json(self, url: str):
        contenu = self.octets(url)
        try:
            return json.loads(contenu)
        except json.JSONDecodeError as erreur:
            raise ErreurReferentiel(
                f"Réponse illisible (JSON attendu) : {url}. Rien n'a été installé."
            ) from erreur


def _telecharger_qpv(client: _Client, url_datagouv: str) -> gpd.GeoDataFrame:
    jeu = client.json(url_datagouv.rstrip("/") + _JEU_QPV)
    ressources = [
        r
        for r in jeu.get("resources", [])
        if "2024" in r.get("url", "")
        and "geojson" in r.get("url", "").lower()
        and r.get("url", "").endswith(".zip")
    ]
    if not ressources:
        raise ErreurReferentiel(
            f"Aucune ressource « QPV 2024 GeoJSON (zip) » dans le jeu {url_datagouv}{_JEU_QPV}. "
            "Rien n'a été installé ; vérifiez la page du jeu de données ANCT."
        )
    url = ressources[0]["url"]
    archive = client.octets(url)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zip_qpv:
            membres = [m for m in zip_qpv.namelist() if m.endswith(".geojson") and "WGS84" in m.upper()]
            membres = membres or [m for m in zip_qpv.namelist() if m.endswith(".geojson")]
            contenu = zip_qpv.read(membres[0])
    except (zipfile.BadZipFile, IndexError) as erreur:
        raise ErreurReferentiel(
            f"Archive QPV illisible ou sans GeoJSON : {url}. Rien n'a été installé."
        ) from erreur
    qpv = gpd.read_file(io.BytesIO(contenu))
    qpv["insee_com"] = qpv["insee_com"].map(lambda v: ",".join(v) if isinstance(v, list) else str(v))
    return qpv[["code_qp", "lib_qp", "insee_com", "geometry"]]


def _telecharger_communes(client: _Client, url_geoapi: str, codes) -> gpd.GeoDataFrame:
    tables = []
    for code in codes:
        base = url_geoapi.rstrip("/")
        parametres = urllib.parse.urlencode(
            {
                "format": "geojson",
                "geometry": "contour",
                "fields": "code,nom,codeDepartement,codeEpci,population",
            }
        )
        communes = client.json(f"{base}/departements/{code}/communes?{parametres}")
        departement = client.json(f"{base}/departements/{code}")
        table = gpd.GeoDataFrame.from_features(communes["features"], crs=_CRS_GEOJSON)
        table["nom_dep"] = departement.get("nom", "")
        tables.append(table)
    communes = pd.concat(tables, ignore_index=True)
    return gpd.GeoDataFrame(communes, geometry="geometry", crs=_CRS_GEOJSON).rename(
        columns={
            "code": "insee_com",
            "nom": "nom_com",
            "codeDepartement": "insee_dep",
            "codeEpci": "siren_epci",
        }
    )


def _telecharger_noms_epci(client: _Client, url_geoapi: str) -> dict[str, str]:
    epcis = client.json(url_geoapi.rstrip("/") + "/epcis?fields=code,nom")
    return {e["code"]: e["nom"] for e in epcis}


def _construire_couches(qpv_france, communes, communes_france, codes) -> dict[str, gpd.GeoDataFrame]:
    communes = communes.to_crs(CRS_CALCUL)
    nationales = communes_france.set_index("insee_com")
    for colonne in ("nom_epci", "insee_reg", "nom_reg"):
        communes[colonne] = communes["insee_com"].map(nationales[colonne]).fillna("")
    communes["code_ept"] = ""
    communes["nom_ept"] = ""
    qpv_france = qpv_france.to_crs(CRS_CALCUL)
    qpv = completer_qpv(qpv_france, communes_france)
    qpv = qpv[qpv["insee_dep"].isin(codes)].copy()
    hotes = qpv.assign(insee=qpv["insee_com"].str.split(",")).explode("insee")
    par_commune = hotes.groupby("insee")["code_qp"].agg(lambda s: ",".join(sorted(s)))
    communes["codes_qpv_2024"] = communes["insee_com"].map(par_commune).fillna("")
    communes["n_qpv_2024"] = communes["codes_qpv_2024"].map(lambda v: len(v.split(",")) if v else 0)
    epci = communes.dissolve(by=["siren_epci", "nom_epci"], as_index=False)[
        ["siren_epci", "nom_epci", "geometry"]
    ]
    departements = communes.dissolve(by=["insee_dep", "nom_dep"], as_index=False)[
        ["insee_dep", "nom_dep", "geometry"]
    ]
    return {"qpv": qpv, "communes": communes, "epci": epci, "departements": departements}
