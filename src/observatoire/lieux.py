"""Registre des lieux : les adresses où le centre tient ses séances, gardées d'une année à l'autre.

``DONNEES/lieux.csv`` (ou la feuille ``lieux`` du classeur) : ``id_lieu``, ``nom``, ``adresse``,
``code_commune``, ``latitude``, ``longitude``, ``source`` (``saisie``, ``BAN``, ``centroide``),
``score``, ``type`` (``numero``, ``rue``, ``lieu-dit``, ``commune``), ``statut`` (``accepte``,
``a_verifier``) et ``date_geocodage``.

Une séance est placée, dans cet ordre : par ses propres coordonnées (saisies pour cette séance,
elles sont les plus précises) ; sinon par son ``id_lieu`` ; sinon par son lieu, son adresse et
sa commune retrouvés dans le registre. Un lieu « à vérifier » (géocodage peu sûr) ou placé au
centre de sa commune ne place pas la séance dans un QPV : elle reste comptée à sa commune.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .commun import ecrire_csv, lire_table
from .erreurs import ErreurDonnees

__all__ = [
    "COLONNES_LIEUX",
    "NOM_REGISTRE",
    "TYPES_BAN",
    "cle_lieu",
    "chemin_registre",
    "ecrire_registre",
    "lire_registre",
    "placer_seances",
]

NOM_REGISTRE = "lieux.csv"
COLONNES_LIEUX = [
    "id_lieu",
    "nom",
    "adresse",
    "code_commune",
    "latitude",
    "longitude",
    "source",
    "score",
    "type",
    "statut",
    "date_geocodage",
]
SOURCES = ("saisie", "BAN", "centroide")
# Type de résultat du géocodeur BAN → type du registre.
TYPES_BAN = {"housenumber": "numero", "street": "rue", "locality": "lieu-dit", "municipality": "commune"}


def chemin_registre(source: str | Path) -> Path:
    """Le registre d'une source de données : à côté du dossier de l'année ou du classeur."""
    source = Path(source)
    dedans = source / NOM_REGISTRE
    return dedans if source.is_dir() and dedans.is_file() else source.parent / NOM_REGISTRE


def cle_lieu(nom: pd.Series, adresse: pd.Series, code_commune: pd.Series) -> pd.Series:
    """Clé de rapprochement d'un lieu : nom, adresse et commune, sans casse, accents ni ponctuation."""

    def normal(valeurs: pd.Series) -> pd.Series:
        return valeurs.fillna("").astype(str).map(_normaliser)

    return normal(nom) + "|" + normal(adresse) + "|" + code_commune.fillna("").astype(str).str.strip()


def _normaliser(texte: str) -> str:
    sans_accents = unicodedata.normalize("NFKD", texte).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", sans_accents.lower()).strip()


def lire_registre(chemin: str | Path) -> pd.DataFrame:
    """Lit et contrôle le registre ; vide (colonnes seules) s'il n'existe pas.

    Raises
    ------
    ErreurDonnees
        Colonne ``id_lieu`` absente, identifiant en double, coordonnées ou source illisibles
        (toutes les erreurs, avec leur ligne).
    """
    chemin = Path(chemin)
    if not chemin.is_file():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLONNES_LIEUX})
    table = lire_table(chemin)
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "id_lieu" not in table.columns:
        raise ErreurDonnees(
            f"{chemin.name} : colonne « id_lieu » absente (colonnes attendues : {', '.join(COLONNES_LIEUX)})."
        )
    for colonne in COLONNES_LIEUX:
        if colonne not in table.columns:
            table[colonne] = ""
    table = table[COLONNES_LIEUX].map(lambda v: str(v).strip())
    erreurs = []
    for rang, ligne in table.iterrows():
        numero = int(rang) + 2
        if not ligne["id_lieu"]:
            erreurs.append(f"ligne {numero} : id_lieu vide")
        for colonne in ("latitude", "longitude", "score"):
            if ligne[colonne] and _nombre(ligne[colonne]) is None:
                erreurs.append(
                    f"ligne {numero}, colonne {colonne} : nombre illisible « {ligne[colonne][:40]} »"
                )
        if ligne["source"] and ligne["source"] not in SOURCES:
            erreurs.append(
                f"ligne {numero}, colonne source : « {ligne['source'][:40]} » (attendu {', '.join(SOURCES)})"
            )
        if bool(ligne["latitude"]) != bool(ligne["longitude"]):
            erreurs.append(f"ligne {numero} : latitude et longitude vont ensemble")
    doubles = table["id_lieu"][table["id_lieu"].duplicated() & (table["id_lieu"] != "")]
    erreurs += [f"id_lieu « {d} » en double" for d in doubles.unique()]
    if erreurs:
        raise ErreurDonnees(f"{chemin.name} : registre des lieux invalide :\n  " + "\n  ".join(erreurs[:30]))
    return table


def _nombre(texte: str) -> float | None:
    try:
        valeur = float(texte.replace(",", "."))
    except ValueError:
        return None
    return valeur if np.isfinite(valeur) else None


def ecrire_registre(registre: pd.DataFrame, chemin: str | Path) -> Path:
    """Écrit le registre (CSV UTF-8 avec BOM, « ; », formules neutralisées), d'un coup."""
    return ecrire_csv(registre[COLONNES_LIEUX].sort_values("id_lieu", kind="stable"), chemin)


def placer_seances(seances: pd.DataFrame, registre: pd.DataFrame) -> pd.DataFrame:
    """Complète les coordonnées des séances par le registre et dit comment chacune est placée.

    Parameters
    ----------
    seances : pandas.DataFrame
        Séances typées (``latitude``, ``longitude`` en nombres, ``distanciel`` booléen,
        ``id_lieu``, ``lieu``, ``adresse``, ``code_commune``).
    registre : pandas.DataFrame
        Registre lu par ``lire_registre``.

    Returns
    -------
    pandas.DataFrame
        Copie avec ``latitude``/``longitude`` complétées et ``placement`` : ``coordonnees``
        (saisies), ``numero``/``rue``/``lieu-dit`` (registre), ``commune`` (centre de la commune ou
        lieu à vérifier : non placée dans un QPV), ``non_placee``, ``distanciel``.
    """
    seances = seances.copy()
    saisies = seances["latitude"].notna() & seances["longitude"].notna()
    placement = np.where(seances["distanciel"], "distanciel", np.where(saisies, "coordonnees", "non_placee"))
    seances["placement"] = placement
    if registre.empty:
        return seances
    utilisables = registre.assign(
        lat=registre["latitude"].map(_nombre), lon=registre["longitude"].map(_nombre)
    )
    utilisables = utilisables[utilisables["lat"].notna() & utilisables["lon"].notna()]
    utilisables = utilisables.assign(
        placement=np.select(
            [
                utilisables["statut"] == "a_verifier",
                utilisables["source"] == "centroide",
                utilisables["type"].isin(["numero", "rue", "lieu-dit", "commune"]),
            ],
            ["commune", "commune", utilisables["type"]],
            "coordonnees",
        )
    )
    par_id = utilisables.set_index("id_lieu")
    par_cle = utilisables.assign(
        cle=cle_lieu(utilisables["nom"], utilisables["adresse"], utilisables["code_commune"])
    )
    par_cle = par_cle.drop_duplicates("cle").set_index("cle")
    a_placer = (seances["placement"] == "non_placee").to_numpy()
    identifiants = seances["id_lieu"].fillna("").astype(str)
    cles = cle_lieu(seances["lieu"], seances["adresse"], seances["code_commune"])
    # Un id_lieu donné désigne son lieu, même sans coordonnées : pas de repli sur le nom.
    par_nom = identifiants == ""
    for colonne, source in (("lat", "latitude"), ("lon", "longitude")):
        trouve = identifiants.map(par_id[colonne]).where(~par_nom, cles.map(par_cle[colonne]))
        seances[source] = seances[source].where(~a_placer, trouve)
    trouve = identifiants.map(par_id["placement"]).where(~par_nom, cles.map(par_cle["placement"]))
    seances["placement"] = seances["placement"].where(~a_placer | trouve.isna(), trouve)
    # Un lieu à vérifier ou au centre de sa commune ne place pas la séance dans un QPV.
    centre = (seances["placement"] == "commune").to_numpy()
    seances.loc[centre, ["latitude", "longitude"]] = np.nan
    return seances
