"""Registre des lieux : les adresses où le centre tient ses séances, gardées d'une année à l'autre.

``DONNEES/lieux.csv`` : ``id_lieu``, ``nom``, ``adresse``, ``code_commune``, ``latitude``,
``longitude``, ``source`` (``saisie``, ``BAN``, ``centroide``), ``score``, ``type`` (``numero``,
``rue``, ``lieu-dit``, ``commune``), ``statut`` (``accepte``, ``a_verifier``) et
``date_geocodage``. Il est lu par le lecteur commun (mêmes encodages, mêmes guillemets) et ses
coordonnées sont contrôlées comme celles des séances. Mis à jour par ``observatoire geocoder``,
il garde toutes les colonnes, lignes et valeurs de l'utilisateur, dans son encodage et avec
son séparateur.

Une séance est placée, dans cet ordre : par ses propres coordonnées (saisies pour cette séance,
elles sont les plus précises) ; sinon par son ``id_lieu`` ; sinon par son lieu, son adresse et
sa commune retrouvés dans le registre. Un lieu « à vérifier » (géocodage peu sûr) ou placé au
centre de sa commune ne place pas la séance dans un QPV : elle reste comptée à sa commune.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..commun.erreurs import ErreurDonnees
from ..commun.fichiers import ecrire_atomique, ecrire_csv, neutraliser_formules
from ..commun.lecture import TableBrute, lire_table, montrer, probleme, reecrire_table
from ..referentiel.chargement import Referentiel
from .coordonnees import controler_coordonnees
from .valeurs import decimaux

__all__ = [
    "COLONNES_LIEUX",
    "NOM_REGISTRE",
    "SOURCES",
    "TYPES_BAN",
    "Registre",
    "chemin_registre",
    "cle_lieu",
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
STATUTS = ("accepte", "a_verifier")
# Type de résultat du géocodeur BAN → type du registre.
TYPES_BAN = {"housenumber": "numero", "street": "rue", "locality": "lieu-dit", "municipality": "commune"}


@dataclass
class Registre:
    """Le registre lu : ses lieux (colonnes du contrat, texte nettoyé), le fichier tel qu'écrit
    et les problèmes trouvés (table ``lieux``).

    Attributes
    ----------
    lieux : pandas.DataFrame
        Une ligne par lieu ; index = ligne du fichier − 2.
    brute : TableBrute or None
        Le fichier tel qu'écrit (toutes ses colonnes), ``None`` s'il n'existe pas encore.
    problemes : list of dict
        Erreurs et avertissements, avec le fichier, la ligne et l'identifiant du lieu.
    chemin : Path
        Le fichier du registre.
    """

    lieux: pd.DataFrame
    brute: TableBrute | None
    chemin: Path
    problemes: list[dict] = field(default_factory=list)

    @property
    def lignes_en_erreur(self) -> set[int]:
        """Index des lieux qui ont une erreur : ils ne placent aucune séance."""
        return {p["ligne"] - 2 for p in self.problemes if p["gravite"] == "erreur" and p["ligne"]}

    def octets(self, lieux: pd.DataFrame) -> bytes:
        """Le fichier mis à jour avec ``lieux`` (mêmes index pour les lieux existants, nouveaux à
        la fin), dans la forme de l'utilisateur ; un nouveau registre en CSV pour Excel."""
        if self.brute is None:
            texte = neutraliser_formules(lieux[COLONNES_LIEUX]).to_csv(sep=";", index=False)
            return texte.encode("utf-8-sig")
        donnees = self.brute.donnees.copy()
        anciens = lieux.index.isin(donnees.index)
        for colonne in COLONNES_LIEUX:
            if colonne not in donnees.columns:
                donnees[colonne] = ""
            changes = lieux.loc[anciens, colonne].ne(donnees.loc[lieux.index[anciens], colonne].str.strip())
            a_ecrire = lieux.index[anciens][changes.to_numpy()]
            donnees.loc[a_ecrire, colonne] = neutraliser_formules(lieux.loc[a_ecrire, [colonne]])[colonne]
        nouveaux = neutraliser_formules(lieux.loc[~anciens, COLONNES_LIEUX])
        return reecrire_table(self.brute, pd.concat([donnees, nouveaux], ignore_index=False))

    def ecrire(self, lieux: pd.DataFrame) -> Path:
        """Remplace le fichier d'un coup par sa version mise à jour."""
        return ecrire_atomique(self.chemin, self.octets(lieux))


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


def lire_registre(chemin: str | Path, referentiel: Referentiel | None = None) -> Registre:
    """Lit et contrôle le registre ; vide (colonnes seules) s'il n'existe pas.

    Parameters
    ----------
    chemin : str or Path
        Le fichier ``lieux.csv``.
    referentiel : Referentiel, optional
        Pour contrôler les coordonnées dans le département de la commune du lieu.

    Returns
    -------
    Registre

    Raises
    ------
    ErreurDonnees
        Fichier illisible ou colonne ``id_lieu`` absente (les autres problèmes sont dans
        ``Registre.problemes``).
    """
    chemin = Path(chemin)
    if not chemin.is_file():
        vide = pd.DataFrame({c: pd.Series(dtype=object) for c in COLONNES_LIEUX})
        return Registre(vide, None, chemin)
    brute = lire_table(chemin, COLONNES_LIEUX, ("id_lieu",), table="lieux", texte_libre=("nom", "adresse"))
    lieux = brute.donnees.reindex(columns=COLONNES_LIEUX, fill_value="").astype(str)
    lieux = lieux.apply(lambda s: s.str.strip())
    registre = Registre(lieux, brute, chemin)
    registre.problemes = _controler(lieux, brute, referentiel)
    return registre


def _controler(lieux: pd.DataFrame, brute: TableBrute, referentiel: Referentiel | None) -> list[dict]:
    problemes: list[dict] = []

    def signaler(index, colonne, valeur, gravite, message, correction):
        lieu = montrer(lieux.at[index, "id_lieu"]) or "sans identifiant"
        problemes.append(
            probleme(
                "lieux", brute.fichier, index + 2, brute.nom_colonne(colonne), valeur, gravite,
                f"lieu {lieu} : {message}", correction,
            )
        )  # fmt: skip

    for index in lieux.index[lieux["id_lieu"] == ""]:
        signaler(
            index, "id_lieu", "", "erreur", "identifiant vide.", "Donnez un identifiant unique (L0001…)."
        )
    doubles = lieux["id_lieu"].duplicated(keep="first") & (lieux["id_lieu"] != "")
    for index in lieux.index[doubles]:
        signaler(index, "id_lieu", lieux.at[index, "id_lieu"], "erreur", "identifiant en double.",
                 "Chaque lieu a son identifiant : renumérotez le doublon.")  # fmt: skip
    score = decimaux(lieux["score"])
    for index in lieux.index[(lieux["score"] != "") & (score.isna() | ~score.between(0, 1))]:
        signaler(index, "score", lieux.at[index, "score"], "erreur", "score illisible (de 0 à 1).",
                 "Videz la cellule : le géocodage le remplira.")  # fmt: skip
    for colonne, permis in (("source", SOURCES), ("statut", STATUTS)):
        for index in lieux.index[(lieux[colonne] != "") & ~lieux[colonne].isin(permis)]:
            signaler(index, colonne, lieux.at[index, colonne], "erreur",
                     f"« {montrer(lieux.at[index, colonne], 40)} » n'est pas une valeur de {colonne}.",
                     f"Écrivez {' ou '.join(permis)}, ou videz la cellule.")  # fmt: skip
    douteuses = controler_coordonnees(
        lieux["latitude"], lieux["longitude"], lieux["code_commune"], referentiel
    )
    for douteuse in douteuses:
        index = douteuse.index
        valeur = f"{lieux.at[index, 'latitude']} ; {lieux.at[index, 'longitude']}"
        signaler(index, "latitude", valeur, douteuse.gravite, douteuse.message, douteuse.correction)
    return problemes


def ecrire_registre(registre: pd.DataFrame, chemin: str | Path) -> Path:
    """Écrit un nouveau registre (CSV UTF-8 avec BOM, « ; », formules neutralisées), d'un coup."""
    if Path(chemin).exists():
        raise ErreurDonnees(f"{Path(chemin).name} existe déjà : il se met à jour avec Registre.ecrire.")
    return ecrire_csv(registre[COLONNES_LIEUX], chemin)


def placer_seances(seances: pd.DataFrame, registre: pd.DataFrame) -> pd.DataFrame:
    """Complète les coordonnées des séances par le registre et dit comment chacune est placée.

    Parameters
    ----------
    seances : pandas.DataFrame
        Séances typées (``latitude``, ``longitude`` en nombres, ``distanciel`` booléen,
        ``id_lieu``, ``lieu``, ``adresse``, ``code_commune``).
    registre : pandas.DataFrame
        Lieux utilisables (``Registre.lieux`` sans les lieux en erreur).

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
    utilisables = registre.assign(lat=decimaux(registre["latitude"]), lon=decimaux(registre["longitude"]))
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
    par_id = utilisables.drop_duplicates("id_lieu").set_index("id_lieu")
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
