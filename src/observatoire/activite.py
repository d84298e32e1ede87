"""Données d'activité du centre : lecture tolérante des exports, validation, rejets comptés.

Contrat (``../shared/DESIGN.md``) : un dossier de CSV ou un classeur ``.xlsx`` avec les tables
``actions``, ``seances``, ``participations`` et ``demandes``. Les lignes sont numérotées comme
l'utilisateur les voit dans Excel (en-tête = ligne 1).

La validation colonne par colonne est déclarée avec pandera (schéma par table, contrôles
vectorisés, tous les écarts collectés en une passe avec ``lazy=True``) ; les contrôles qui
croisent plusieurs colonnes ou la géographie (distanciel, coordonnées dans le département,
dates hors de l'année) sont faits à côté, de façon vectorisée, et produisent les mêmes
enregistrements de problèmes.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import shapely
from pyproj import Transformer

from .commun import lire_texte, separateur_csv
from .erreurs import ErreurDonnees
from .lieux import chemin_registre, lire_registre, placer_seances
from .referentiel import CRS_CALCUL, Referentiel, charger_referentiel, echelle_lambert93
from .territoires import departement_de_commune
from .vocabulaires import normaliser_vocabulaire, suggerer

__all__ = ["Activite", "CONTRAT", "lire_activite", "chemin_donnees_annee"]

TABLES = ("actions", "seances", "participations", "demandes")
COLONNES_PROBLEMES = [
    "table",
    "fichier",
    "ligne",
    "colonne",
    "valeur",
    "gravite",
    "message",
    "correction",
]
FICHIER_DEMONSTRATION = "demonstration.json"


NOMBRE_MAX = 100_000  # participations sur une ligne : au-delà, une saisie erronée
DEMI_JOURNEES_MAX = 20  # demi-journées d'une séance (deux semaines)
ANNEE_MIN, ANNEE_MAX = 1990, 2100
ECART_COMMUNE_M = 100.0  # un lieu plus loin que cela de sa commune déclarée est signalé
# Numéros de série Excel des dates de 1990 à 2100 (jour 0 = 30/12/1899).
SERIE_EXCEL_MIN, SERIE_EXCEL_MAX = 32_874, 73_415


@dataclass(frozen=True)
class _Colonne:
    nom: str
    format: str
    requise: bool = True
    obligatoire: bool = False
    unique: bool = False
    vocabulaire: str | None = None
    reference: tuple[str, str] | None = None
    defaut: str = ""
    maximum: int | None = None  # borne haute plausible d'un entier (au-delà : erreur)


CONTRAT: dict[str, tuple[_Colonne, ...]] = {
    "actions": (
        _Colonne("id_action", "identifiant", obligatoire=True, unique=True),
        _Colonne("intitule", "texte", obligatoire=True),
        _Colonne("axe", "vocabulaire", obligatoire=True, vocabulaire="axe"),
        _Colonne("thematique", "vocabulaire", obligatoire=True, vocabulaire="thematique"),
        _Colonne("format", "vocabulaire", obligatoire=True, vocabulaire="format"),
        _Colonne("partenaires", "texte", requise=False),
    ),
    "seances": (
        _Colonne("id_seance", "identifiant", obligatoire=True, unique=True),
        _Colonne("id_action", "identifiant", obligatoire=True, reference=("actions", "id_action")),
        _Colonne("date", "date", obligatoire=True),
        _Colonne("demi_journees", "entier", requise=False, defaut="1", maximum=DEMI_JOURNEES_MAX),
        _Colonne("code_commune", "commune"),
        _Colonne("lieu", "texte", requise=False),
        _Colonne("adresse", "texte", requise=False),
        _Colonne("id_lieu", "texte", requise=False),
        _Colonne("latitude", "decimal", requise=False),
        _Colonne("longitude", "decimal", requise=False),
        _Colonne("distanciel", "booleen", requise=False, defaut="non"),
    ),
    "participations": (
        _Colonne("id_seance", "identifiant", obligatoire=True, reference=("seances", "id_seance")),
        _Colonne("public", "vocabulaire", obligatoire=True, vocabulaire="public"),
        _Colonne("code_commune_origine", "commune", requise=False),
        _Colonne("departement_origine", "departement", requise=False),
        _Colonne("nombre", "entier", obligatoire=True, maximum=NOMBRE_MAX),
    ),
    "demandes": (
        _Colonne("id_demande", "identifiant", obligatoire=True, unique=True),
        _Colonne("date", "date", obligatoire=True),
        _Colonne("type_demandeur", "vocabulaire", obligatoire=True, vocabulaire="type_demandeur"),
        _Colonne("code_commune", "commune", requise=False),
        _Colonne("siren_epci", "siren", requise=False),
        _Colonne("departement", "departement", requise=False),
        _Colonne("thematique", "vocabulaire", obligatoire=True, vocabulaire="thematique"),
        _Colonne("objet", "texte", requise=False),
    ),
}
# Colonnes lues mais jamais copiées dans une sortie.
COLONNES_PRIVEES = {"demandes": ("objet",)}

_VRAI = {"oui", "o", "1", "vrai", "true", "x", "yes", "y"}
_FAUX = {"non", "n", "0", "faux", "false", "no", ""}
_MOTIF_COMMUNE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_MOTIF_DEPARTEMENT = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6]|autre)$")


@dataclass(frozen=True)
class Activite:
    """Tables d'activité validées et typées, avec les problèmes et les rejets.

    Attributes
    ----------
    actions, seances, participations, demandes : pandas.DataFrame
        Tables typées (codes INSEE en chaînes, dates en ``datetime64``, vocabulaires en codes).
    problemes : pandas.DataFrame
        Tous les problèmes (erreurs et avertissements) : table, fichier, ligne, colonne, valeur,
        gravité, message, correction.
    rejets : pandas.DataFrame
        Lignes écartées en mode tolérant, avec leur motif (vide en mode strict).
    bilan : pandas.DataFrame
        Par table : lignes lues, gardées, écartées ; participations lues, gardées, écartées.
    source : str
        Chemin lu.
    demonstration : bool
        Vrai pour le jeu de démonstration (données illustratives).
    """

    actions: pd.DataFrame
    seances: pd.DataFrame
    participations: pd.DataFrame
    demandes: pd.DataFrame
    problemes: pd.DataFrame
    rejets: pd.DataFrame
    bilan: pd.DataFrame
    source: str
    demonstration: bool
    lieux: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def nombre_erreurs(self) -> int:
        """Nombre de problèmes de gravité « erreur »."""
        return int((self.problemes["gravite"] == "erreur").sum())

    @property
    def nombre_avertissements(self) -> int:
        """Nombre de problèmes de gravité « avertissement »."""
        return int((self.problemes["gravite"] == "avertissement").sum())

    def resume(self) -> str:
        """Résumé en français : bilan par table et problèmes par type."""
        lignes = [f"Données : {self.source}" + (" (jeu de démonstration)" if self.demonstration else "")]
        lignes.append(
            self.bilan[["table", "lignes_lues", "lignes_gardees", "lignes_ecartees"]].to_string(index=False)
        )
        if len(self.problemes):
            comptes = (
                self.problemes.groupby(["gravite", "table", "message"], sort=True)
                .size()
                .rename("nombre")
                .reset_index()
            )
            comptes["message"] = comptes["message"].str.slice(0, 70)
            lignes.append("Problèmes :")
            lignes.append(comptes.to_string(index=False))
        participations = self.bilan.set_index("table").loc["participations"]
        illisibles = participations["nombres_illisibles"]
        lignes.append(
            f"Participations : {participations['participations_lues']} lues = "
            f"{participations['participations_gardees']} gardées + "
            f"{participations['participations_ecartees']} écartées"
            + (f" ({illisibles} ligne(s) au nombre illisible, non comptée(s))" if illisibles else "")
            + "."
        )
        lignes.append(f"{self.nombre_erreurs} erreur(s), {self.nombre_avertissements} avertissement(s).")
        return "\n".join(lignes)


def chemin_donnees_annee(donnees: str | Path, annee: int) -> Path | None:
    """Trouve les données d'une année dans un dossier de données.

    Cherche ``DONNEES/<annee>/`` puis ``DONNEES/activite_<annee>.xlsx`` ; sinon ``DONNEES``
    lui-même s'il contient directement les tables ; ``None`` si rien ne correspond.
    """
    racine = Path(donnees)
    for candidat in (racine / str(annee), racine / f"activite_{annee}.xlsx"):
        if candidat.exists():
            return candidat
    if racine.suffix.lower() == ".xlsx" or (racine / "actions.csv").is_file():
        return racine
    return None


def lire_activite(
    source: str | Path,
    *,
    annee: int | None = None,
    tolerant: bool = False,
    referentiel: Referentiel | str | Path | None = None,
) -> Activite:
    """Lit, valide et type les données d'activité d'un dossier CSV ou d'un classeur ``.xlsx``.

    Parameters
    ----------
    source : str or Path
        Dossier contenant ``actions.csv``, ``seances.csv``, ``participations.csv``,
        ``demandes.csv``, ou classeur ``.xlsx`` dont les feuilles portent ces noms.
    annee : int, optional
        Année attendue : une date hors de cette année donne un avertissement.
    tolerant : bool
        ``False`` (défaut) : toute erreur arrête la lecture (``ErreurDonnees`` avec la liste
        complète). ``True`` : les lignes en erreur sont écartées (``rejets``) et le reste suit.
    referentiel : Referentiel or path, optional
        Référentiel chargé, ou dossier du référentiel installé (défaut : celui du projet).

    Returns
    -------
    Activite

    Raises
    ------
    ErreurDonnees
        Structure illisible (table ou colonne requise absente) dans tous les modes ; toute
        erreur en mode strict. ``erreur.problemes`` porte la liste complète.
    """
    if not isinstance(referentiel, Referentiel):
        referentiel = charger_referentiel(None, referentiel)
    chemin = Path(source)
    brutes, problemes = _lire_sources(chemin)
    _controler_structure(brutes, problemes)
    normalisees = {t: _normaliser(t, brutes[t], referentiel, problemes) for t in TABLES}
    for table in TABLES:
        _valider_colonnes(table, normalisees, brutes[table], referentiel, problemes)
    _controles_croises(normalisees, brutes, referentiel, annee, problemes)
    tableau_problemes = _tableau_problemes(problemes)

    erreurs = tableau_problemes[tableau_problemes["gravite"] == "erreur"]
    if len(erreurs) and not tolerant:
        raise ErreurDonnees(
            f"{len(erreurs)} erreur(s) dans {chemin} (détail dans .problemes ; "
            "corrigez-les ou relancez en mode tolérant pour écarter les lignes) :\n" + _apercu(erreurs),
            tableau_problemes,
        )
    gardees, rejets = _ecarter(normalisees, brutes, erreurs)
    typees = {t: _typer(t, gardees[t]) for t in TABLES}
    lieux = lire_registre(chemin_registre(chemin))
    typees["seances"] = placer_seances(typees["seances"], lieux)
    return Activite(
        **typees,
        problemes=tableau_problemes,
        rejets=rejets,
        bilan=_bilan(normalisees, gardees, rejets),
        source=str(chemin),
        demonstration=_est_demonstration(chemin),
        lieux=lieux,
    )


# --------------------------------------------------------------------------- lecture


@dataclass
class _Brute:
    table: str
    fichier: str
    donnees: pd.DataFrame  # chaînes, index = position ; ligne utilisateur = index + 2


def _lire_sources(chemin: Path) -> tuple[dict[str, _Brute], list[dict]]:
    problemes: list[dict] = []
    if chemin.is_file() and chemin.suffix.lower() in (".xlsx", ".xlsm"):
        return _lire_classeur(chemin, problemes), problemes
    if not chemin.is_dir():
        raise ErreurDonnees(
            f"Données introuvables : {chemin}. Donnez un dossier de fichiers CSV (actions.csv, "
            "seances.csv, participations.csv, demandes.csv) ou un classeur .xlsx."
        )
    brutes = {}
    absentes = []
    for table in TABLES:
        fichier = chemin / f"{table}.csv"
        if not fichier.is_file():
            absentes.append(fichier.name)
            continue
        brutes[table] = _Brute(table, fichier.name, _lire_csv(fichier, table, problemes))
    if absentes:
        raise ErreurDonnees(
            f"Fichier(s) absent(s) dans {chemin} : {', '.join(absentes)}. Le dossier doit "
            "contenir les quatre tables du contrat (voir data/README.md)."
        )
    return brutes, problemes


def _lire_csv(fichier: Path, table: str, problemes: list[dict]) -> pd.DataFrame:
    texte = lire_texte(fichier)
    if not texte.strip():
        raise ErreurDonnees(
            f"{fichier.name} : fichier vide. Exportez la table {table} avec sa ligne d'en-tête "
            "(voir data/README.md)."
        )
    separateur = separateur_csv(texte)
    lecteur = csv.reader(io.StringIO(texte, newline=""), delimiter=separateur, quotechar='"', strict=False)
    lignes: list[tuple[int, list[str]]] = []
    fin_precedente = 0
    try:
        for champs in lecteur:
            debut, fin_precedente = fin_precedente + 1, lecteur.line_num
            if any(champ.strip() for champ in champs):
                lignes.append((debut, champs))
    except csv.Error as erreur:
        raise ErreurDonnees(
            f"{fichier.name}, ligne {lecteur.line_num} : CSV illisible ({erreur}). Vérifiez les guillemets "
            "de cette ligne."
        ) from erreur
    return _table_depuis_lignes(lignes, table, fichier.name, problemes)


_EN_TETE_MAX = 10  # lignes parcourues pour trouver un en-tête placé sous un titre


def _cle_colonne(nom: object) -> str:
    texte = unicodedata.normalize("NFKD", str(nom).replace("\ufeff", "")).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", texte.strip().lower())


def _table_depuis_lignes(
    lignes: list[tuple[int, list[str]]], table: str, fichier: str, problemes: list[dict]
):
    """Table de chaînes (index = ligne vue dans Excel − 2) depuis des lignes numérotées.

    L'en-tête est la première ligne non vide ; ses noms sont comparés au contrat sans casse, sans
    accents et sans espaces autour. Une ligne qui n'a pas le nombre de champs de l'en-tête est une
    erreur à sa ligne (ses champs vides en trop sont tolérés : Excel en ajoute).
    """
    if not lignes:
        raise ErreurDonnees(
            f"{fichier} : aucune ligne (ni en-tête). Exportez la table {table} avec sa ligne d'en-tête."
        )
    attendues = {_cle_colonne(c.nom): c.nom for c in CONTRAT[table]}
    requises = {c.nom for c in CONTRAT[table] if c.requise}
    ligne_en_tete, en_tete = lignes[0]
    noms = [attendues.get(_cle_colonne(nom), str(nom).strip().replace("\ufeff", "")) for nom in en_tete]
    if not requises <= set(noms):
        for numero, champs in lignes[1:_EN_TETE_MAX]:
            candidats = {attendues.get(_cle_colonne(c)) for c in champs}
            if len(requises & candidats) >= max(2, len(requises) // 2):
                raise ErreurDonnees(
                    f"{fichier} : l'en-tête semble être en ligne {numero}, pas en ligne {ligne_en_tete}. Supprimez "
                    "les lignes de titre au-dessus des noms de colonnes."
                )
    doubles = sorted({n for n in noms if n and noms.count(n) > 1})
    if doubles:
        raise ErreurDonnees(
            f"{fichier}, ligne {ligne_en_tete} : colonne(s) en double : {', '.join(doubles)}. Gardez une seule "
            "colonne de chaque nom."
        )
    largeur = len(noms)
    numeros, valeurs = [], []
    for numero, champs in lignes[1:]:
        if len(champs) > largeur and any(c.strip() for c in champs[largeur:]):
            problemes.append(
                _probleme(
                    table, fichier, numero, None, "", "erreur",
                    f"{len(champs)} champs au lieu de {largeur} (un séparateur de trop, ou une valeur décalée)",
                    "Vérifiez cette ligne : un « ; » ou une « , » dans un texte doit être entre guillemets.",
                )
            )  # fmt: skip
        elif len(champs) < largeur:
            problemes.append(
                _probleme(
                    table, fichier, numero, None, "", "erreur",
                    f"{len(champs)} champs au lieu de {largeur} (valeurs manquantes en fin de ligne)",
                    "Complétez la ligne ou vérifiez qu'elle n'a pas été coupée en deux.",
                )
            )  # fmt: skip
        numeros.append(numero)
        valeurs.append((champs + [""] * largeur)[:largeur])
    donnees = pd.DataFrame(valeurs, columns=noms, index=pd.Index(numeros, dtype="int64") - 2, dtype=object)
    if donnees.empty:
        donnees = pd.DataFrame(columns=noms, index=pd.Index([], dtype="int64"), dtype=object)
    return donnees.fillna("").astype(str)


EXCEL_ERREURS = (
    "#N/A",
    "#VALEUR!",
    "#VALUE!",
    "#REF!",
    "#DIV/0!",
    "#NOM?",
    "#NAME?",
    "#NUM!",
    "#NUL!",
    "#NULL!",
)


def _lire_classeur(chemin: Path, problemes: list[dict]) -> dict[str, _Brute]:
    from openpyxl import load_workbook

    try:
        classeur = load_workbook(chemin, read_only=True, data_only=True)
    except Exception as erreur:  # openpyxl : fichiers corrompus de formes variées
        raise ErreurDonnees(
            f"Classeur illisible : {chemin.name} ({type(erreur).__name__}). Rouvrez-le dans Excel ou "
            "LibreOffice et réenregistrez-le au format .xlsx."
        ) from erreur
    feuilles = {nom.strip(): nom for nom in classeur.sheetnames}
    absentes = [t for t in TABLES if t not in feuilles]
    if absentes:
        raise ErreurDonnees(
            f"Feuille(s) absente(s) dans {chemin.name} : {', '.join(absentes)}. Le classeur doit "
            f"avoir les feuilles {', '.join(TABLES)} (feuilles présentes : {', '.join(feuilles)})."
        )
    for nom in feuilles:
        if nom not in TABLES and not nom.startswith("_"):
            problemes.append(
                _probleme(
                    "classeur",
                    chemin.name,
                    None,
                    None,
                    nom,
                    "avertissement",
                    f"feuille « {nom} » hors contrat ignorée",
                    "Renommez-la avec un « _ » initial pour la garder sans avertissement.",
                )
            )
    brutes = {}
    for table in TABLES:
        lignes = [
            (numero, [_texte_cellule(v) for v in valeurs])
            for numero, valeurs in enumerate(classeur[feuilles[table]].iter_rows(values_only=True), start=1)
            if any(v is not None and str(v).strip() for v in valeurs)
        ]
        fichier = f"{chemin.name}, feuille {table}"
        if not lignes:
            raise ErreurDonnees(
                f"{fichier} : feuille vide. Elle doit avoir sa ligne d'en-tête (voir data/README.md)."
            )
        brutes[table] = _Brute(table, fichier, _table_depuis_lignes(lignes, table, fichier, problemes))
    classeur.close()
    return brutes


def _texte_cellule(valeur: object) -> str:
    """Valeur de cellule en texte : dates ISO, entiers sans « .0 », erreurs Excel telles quelles."""
    if valeur is None:
        return ""
    if isinstance(valeur, dt.datetime):
        return valeur.strftime("%Y-%m-%d") if valeur.time() == dt.time() else valeur.isoformat(sep=" ")
    if isinstance(valeur, dt.date):
        return valeur.isoformat()
    if isinstance(valeur, float) and valeur.is_integer() and abs(valeur) < 1e15:
        return str(int(valeur))
    return str(valeur)


def _controler_structure(brutes: dict[str, _Brute], problemes: list[dict]) -> None:
    structure: list[dict] = []
    for table, brute in brutes.items():
        attendues = {c.nom for c in CONTRAT[table]}
        for colonne in CONTRAT[table]:
            if colonne.requise and colonne.nom not in brute.donnees.columns:
                structure.append(
                    _probleme(
                        table,
                        brute.fichier,
                        1,
                        colonne.nom,
                        "",
                        "erreur",
                        f"colonne requise « {colonne.nom} » absente",
                        f"Ajoutez la colonne « {colonne.nom} » (nom exact) à la ligne d'en-tête.",
                    )
                )
        for colonne in brute.donnees.columns:
            if colonne not in attendues:
                problemes.append(
                    _probleme(
                        table,
                        brute.fichier,
                        1,
                        colonne,
                        "",
                        "avertissement",
                        f"colonne « {colonne} » hors contrat ignorée (jamais copiée dans les sorties)",
                        "Rien à faire, ou retirez la colonne de l'export.",
                    )
                )
        vides = brute.donnees.apply(lambda s: s.str.strip() == "").all(axis=1)
        brute.donnees = brute.donnees[~vides]
    for table, brute in brutes.items():
        if brute.donnees.empty and table != "demandes":
            structure.append(
                _probleme(
                    table, brute.fichier, 2, None, "", "erreur",
                    f"table {table} sans aucune ligne de données",
                    "Exportez les lignes de l'année sous l'en-tête ; une année sans activité ne fait pas de rapport.",
                )
            )  # fmt: skip
    if structure:
        tableau = _tableau_problemes(structure + problemes)
        raise ErreurDonnees("Structure des données non conforme au contrat :\n" + _apercu(tableau), tableau)


# --------------------------------------------------------------------------- normalisation


def _normaliser(table: str, brute: _Brute, referentiel: Referentiel, problemes) -> pd.DataFrame:
    donnees = pd.DataFrame(index=brute.donnees.index)
    for colonne in CONTRAT[table]:
        if colonne.nom in brute.donnees.columns:
            valeurs = brute.donnees[colonne.nom].astype(str).str.strip()
            _signaler_erreurs_excel(valeurs, brute, colonne.nom, problemes)
        else:
            valeurs = pd.Series(colonne.defaut, index=brute.donnees.index, dtype=object)
        if colonne.format == "commune":
            valeurs = _reparer_communes(valeurs, brute, colonne.nom, referentiel, problemes)
        elif colonne.format == "departement":
            valeurs = valeurs.map(_normaliser_code_departement)
        donnees[colonne.nom] = valeurs.astype(object)
    return donnees


def _signaler_erreurs_excel(valeurs: pd.Series, brute: _Brute, colonne: str, problemes: list[dict]) -> None:
    erreurs = valeurs.str.upper().isin(EXCEL_ERREURS)
    for index in valeurs.index[erreurs]:
        problemes.append(
            _probleme(
                brute.table,
                brute.fichier,
                index + 2,
                colonne,
                valeurs[index],
                "erreur",
                f"valeur d'erreur Excel « {valeurs[index]} » (formule en échec)",
                "Corrigez la formule dans le classeur source, ou remplacez la cellule par sa valeur.",
            )
        )


def _normaliser_code_departement(valeur: str) -> str:
    texte = valeur.strip()
    if texte.lower() in ("autre", "autres", "hors territoire"):
        return "autre"
    if texte.isdigit() and len(texte) == 1:
        return "0" + texte
    if texte.isdigit() and len(texte) == 3 and texte.startswith("0"):
        return texte[1:]
    return texte.upper()


def _motif_ancien_code(code: str, ancien: dict, millesime_cog: int) -> str:
    actuel = f"{ancien['nom_com']} ({ancien['insee_com']})"
    if ancien["type_lien"] == "arrondissement_municipal":
        return f"arrondissement municipal {ancien['nom_ancien']} : compté dans sa commune, {actuel}"
    depuis = f" le {ancien['date_effet']}" if ancien["date_effet"] else ""
    libelles = {
        "commune_deleguee": "devenue commune déléguée de",
        "commune_associee": "devenue commune associée de",
        "changement_code": "a changé de code :",
    }
    lien = libelles.get(ancien["type_lien"], "fusionnée dans")
    return f"ancien code de {ancien['nom_ancien']}, {lien} {actuel}{depuis} (COG {millesime_cog})"


def _reparer_communes(valeurs: pd.Series, brute: _Brute, colonne: str, referentiel, problemes):
    reparations: dict[str, tuple[str, str]] = {}
    anciens, connus = referentiel.anciens_codes, referentiel.codes_france
    for valeur in pd.unique(valeurs):
        code = valeur.upper().removesuffix(".0")
        motif = ""
        if re.fullmatch(r"\d{4}", code):
            # Seul un code 0XXXX (départements 01 à 09) perd un chiffre : la réparation est sûre.
            code, motif = "0" + code, "zéro initial perdu (Excel) : code complété"
        ancien = anciens.get(code) if code not in connus else None
        if ancien is not None and "," not in ancien["insee_com"]:
            code, motif = ancien["insee_com"], _motif_ancien_code(code, ancien, referentiel.millesime_cog)
        if code != valeur:
            reparations[valeur] = (code, motif)
    if not reparations:
        return valeurs
    nouvelles = valeurs.map(lambda v: reparations[v][0] if v in reparations else v)
    for valeur, (code, motif) in reparations.items():
        if not motif:
            continue
        for index in valeurs.index[valeurs == valeur]:
            problemes.append(
                _probleme(
                    brute.table,
                    brute.fichier,
                    index + 2,
                    colonne,
                    valeur,
                    "avertissement",
                    f"{motif} ({valeur} → {code})",
                    "Corrigez la cellule (format Texte dans Excel) pour faire disparaître l'avertissement."
                    if motif.startswith("zéro")
                    else f"Remplacez l'ancien code par le code actuel {code} pour faire disparaître l'avertissement.",
                )
            )
    return nouvelles


def _message_commune_inconnue(code: str, referentiel: Referentiel) -> tuple[str, str]:
    """Message d'un code inconnu : ancien code ambigu, ou le code valide le plus proche."""
    cog = f"COG {referentiel.millesime_cog}"
    ancien = referentiel.anciens_codes.get(code)
    if ancien is not None:  # seul reste ici un code partagé entre plusieurs communes
        return (
            f"commune « {code} » ({ancien['nom_ancien']}) supprimée le {ancien['date_effet']}, son territoire "
            f"partagé entre {ancien['insee_com'].replace(',', ', ')}",
            "Choisissez la commune actuelle où la séance ou la personne se trouve.",
        )
    table = referentiel.communes_france
    meme_departement = table.loc[table["insee_dep"] == departement_de_commune(pd.Series([code])).iloc[0]]
    proches = difflib.get_close_matches(code, meme_departement["insee_com"].tolist(), n=1, cutoff=0.6)
    conseil = ""
    if proches:
        nom = meme_departement.set_index("insee_com").at[proches[0], "nom_com"]
        conseil = f" Code valide le plus proche : {proches[0]} ({nom}) ?"
    return (
        f"commune « {code} » inconnue du {cog} (ni commune actuelle ni ancien code)",
        f"Vérifiez le code INSEE (et non postal) de la commune dans le {cog}.{conseil}",
    )


# --------------------------------------------------------------------------- validation (pandera)


def _valider_colonnes(table, normalisees, brute: _Brute, referentiel, problemes) -> None:
    donnees = normalisees[table]
    schema = _schema(table, normalisees, referentiel)
    try:
        schema.validate(donnees, lazy=True)
    except pa.errors.SchemaErrors as erreurs:
        cas = erreurs.failure_cases
        cas = cas[cas["index"].notna()]
        for colonne, controle, index in zip(cas["column"], cas["check"], cas["index"], strict=True):
            index = int(index)
            valeur_brute = brute.donnees.at[index, colonne] if colonne in brute.donnees.columns else ""
            message, correction = _message(
                table, colonne, controle, donnees.at[index, colonne], donnees, index, referentiel
            )
            problemes.append(
                _probleme(
                    table, brute.fichier, index + 2, colonne, valeur_brute, "erreur", message, correction
                )
            )


def _schema(table: str, normalisees: dict, referentiel: Referentiel) -> pa.DataFrameSchema:
    colonnes = {}
    for colonne in CONTRAT[table]:
        controles = []
        if colonne.obligatoire:
            controles.append(pa.Check(lambda s: s != "", name="obligatoire"))
        controles += _controles_format(colonne, normalisees, referentiel)
        colonnes[colonne.nom] = pa.Column(
            checks=controles, unique=colonne.unique, nullable=False, coerce=False
        )
    return pa.DataFrameSchema(colonnes, strict=False, name=table)


def _controles_format(colonne: _Colonne, normalisees, referentiel) -> list[pa.Check]:
    vide = lambda s: s == ""  # noqa: E731 - utilisé par chaque contrôle
    f = colonne.format
    if f == "vocabulaire":
        nom = colonne.vocabulaire or ""
        return [pa.Check(lambda s: vide(s) | normaliser_vocabulaire(s, nom).notna(), name="vocabulaire")]
    if f == "date":
        return [
            pa.Check(lambda s: vide(s) | _dates(s).notna(), name="date"),
            pa.Check(
                lambda s: _dates(s).isna() | _dates(s).dt.year.between(ANNEE_MIN, ANNEE_MAX),
                name="date_plausible",
            ),
        ]
    if f == "entier":
        maximum = colonne.maximum if colonne.maximum is not None else np.inf
        return [
            pa.Check(lambda s: vide(s) | _decimaux(s).notna(), name="nombre"),
            pa.Check(lambda s: ~(_decimaux(s) < 0), name="negatif"),
            pa.Check(lambda s: ~((_decimaux(s) % 1).fillna(0) != 0), name="entier"),
            pa.Check(lambda s: ~(_decimaux(s) > maximum), name=f"borne_{maximum:.0f}"),
        ]
    if f == "decimal":
        return [pa.Check(lambda s: vide(s) | _decimaux(s).notna(), name="nombre")]
    if f == "booleen":
        return [pa.Check(lambda s: s.str.lower().isin(_VRAI | _FAUX), name="booleen")]
    if f == "commune":
        connues = referentiel.codes_france
        departements = set(referentiel.noms_departements_france)

        def departement_existe(s: pd.Series) -> pd.Series:
            return departement_de_commune(s).isin(departements)

        return [
            pa.Check(lambda s: vide(s) | s.str.fullmatch(_MOTIF_COMMUNE.pattern), name="format_commune"),
            pa.Check(
                lambda s: vide(s) | ~s.str.fullmatch(_MOTIF_COMMUNE.pattern) | departement_existe(s),
                name="departement_inexistant",
            ),
            pa.Check(
                lambda s: vide(s) | s.isin(connues) | ~departement_existe(s),
                name="commune_inconnue",
            ),
        ]
    if f == "departement":
        return [pa.Check(lambda s: vide(s) | s.str.fullmatch(_MOTIF_DEPARTEMENT.pattern), name="departement")]
    if f == "siren":
        return [pa.Check(lambda s: vide(s) | s.str.fullmatch(r"\d{9}"), name="siren")]
    if colonne.reference:
        table_ref, colonne_ref = colonne.reference
        connus = set(normalisees[table_ref][colonne_ref])
        return [pa.Check(lambda s: vide(s) | s.isin(connus), name="reference")]
    return []


def _message(table, colonne, controle, valeur, donnees, index, referentiel) -> tuple[str, str]:
    valeur = str(valeur)
    if len(valeur) > LONGUEUR_VALEUR_MAX:
        valeur = valeur[: LONGUEUR_VALEUR_MAX - 1] + "…"
    if controle == "obligatoire":
        return "valeur manquante", f"Remplissez « {colonne} »."
    if controle == "field_uniqueness":
        return (
            f"identifiant « {valeur} » en double",
            "Chaque ligne doit avoir un identifiant unique : renumérotez ou supprimez le doublon.",
        )
    if controle == "vocabulaire":
        nom = next(c.vocabulaire or "" for c in CONTRAT[table] if c.nom == colonne)
        proche = suggerer(valeur, nom)
        conseil = f" Vouliez-vous dire « {proche} » ?" if proche else ""
        return (
            f"valeur « {valeur} » hors du vocabulaire « {nom} »",
            f"Utilisez un code ou un libellé de la liste (data/README.md).{conseil}",
        )
    if controle == "date":
        conseil = ""
        if re.fullmatch(r"\d{4,6}", str(valeur).strip()):
            conseil = (
                " Ce nombre ressemble à un numéro de série de date Excel hors de 1990-2100 : mettez la "
                "colonne au format Date dans Excel."
            )
        return f"date illisible « {valeur} »", "Écrivez la date JJ/MM/AAAA ou AAAA-MM-JJ." + conseil
    if controle == "date_plausible":
        return (
            f"date invraisemblable « {valeur} »",
            f"Les dates vont de {ANNEE_MIN} à {ANNEE_MAX} : vérifiez l'année saisie.",
        )
    if controle.startswith("borne_"):
        return (
            f"nombre « {valeur} » au-delà du maximum plausible ({controle.removeprefix('borne_')} par ligne)",
            "Vérifiez la saisie (un effectif par ligne, un nombre de demi-journées par séance).",
        )
    if controle == "departement_inexistant":
        return (
            f"code commune « {valeur} » : aucun département n'a ce code",
            "Un code INSEE commence par le code du département (01 à 95, 2A, 2B, 971 à 976) ; "
            "vérifiez qu'il ne s'agit pas d'un code postal ou d'une faute de frappe.",
        )
    if controle == "nombre":
        return f"nombre illisible « {valeur} »", "Écrivez un nombre (virgule ou point décimal)."
    if controle == "negatif":
        return f"nombre négatif « {valeur} »", "Un effectif ou un nombre de demi-journées est ≥ 0."
    if controle == "entier":
        return f"nombre non entier « {valeur} »", "Écrivez un nombre entier (personnes, demi-journées)."
    if controle == "booleen":
        return f"valeur « {valeur} » non reconnue (oui/non attendu)", "Écrivez oui ou non."
    if controle == "format_commune":
        return (
            f"code commune INSEE invalide « {valeur} »",
            "Un code INSEE a 5 caractères (ex. 95018, 2A004) ; ce n'est pas le code postal.",
        )
    if controle == "commune_inconnue":
        return _message_commune_inconnue(valeur, referentiel)
    if controle == "departement":
        return (
            f"département « {valeur} » invalide",
            "Écrivez un code de département (78, 92, 95, 2A…) ou « autre ».",
        )
    if controle == "siren":
        return f"SIREN « {valeur} » invalide", "Un SIREN d'EPCI a 9 chiffres."
    if controle == "reference":
        cible = next(c.reference or ("?", "?") for c in CONTRAT[table] if c.nom == colonne)
        return (
            f"« {valeur} » absent de {cible[0]}.{cible[1]}",
            f"Ajoutez la ligne correspondante dans {cible[0]} ou corrigez l'identifiant.",
        )
    return f"contrôle « {controle} » en échec", "Corrigez la valeur."


def _dates(valeurs: pd.Series) -> pd.Series:
    """Dates JJ/MM/AAAA, AAAA-MM-JJ, ou numéro de série Excel plausible (1990 à 2100)."""
    texte = valeurs.astype(str).str.strip()
    francaises = pd.to_datetime(texte, format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(texte.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return francaises.fillna(iso).fillna(_series_excel(texte))


def _series_excel(texte: pd.Series) -> pd.Series:
    nombres = pd.to_numeric(texte.where(texte.str.fullmatch(r"\d{5}")), errors="coerce")
    plausibles = nombres.where(nombres.between(SERIE_EXCEL_MIN, SERIE_EXCEL_MAX))
    return pd.to_datetime(plausibles, unit="D", origin="1899-12-30", errors="coerce")


def _decimaux(valeurs: pd.Series) -> pd.Series:
    texte = valeurs.astype(str).str.strip().str.replace("\u202f", "").str.replace(" ", "")
    texte = texte.str.replace(",", ".", regex=False)
    return pd.to_numeric(texte.where(texte != ""), errors="coerce")


def _booleens(valeurs: pd.Series) -> pd.Series:
    return valeurs.astype(str).str.strip().str.lower().isin(_VRAI)


# --------------------------------------------------------------------------- contrôles croisés


def _controles_croises(normalisees, brutes, referentiel, annee, problemes) -> None:
    seances = normalisees["seances"]
    fichier = brutes["seances"].fichier
    distanciel = _booleens(seances["distanciel"])
    sans_commune = (seances["code_commune"] == "") & ~distanciel
    for index in seances.index[sans_commune]:
        problemes.append(
            _probleme(
                "seances",
                fichier,
                index + 2,
                "code_commune",
                "",
                "erreur",
                "commune du lieu manquante pour une séance en présentiel",
                "Indiquez le code INSEE de la commune du lieu, ou distanciel = oui.",
            )
        )
    _controler_coordonnees(seances, fichier, referentiel, problemes)

    participations = normalisees["participations"]
    sans_origine = (participations["code_commune_origine"] == "") & (
        participations["departement_origine"] == ""
    )
    for index in participations.index[sans_origine]:
        problemes.append(
            _probleme(
                "participations",
                brutes["participations"].fichier,
                index + 2,
                "departement_origine",
                "",
                "erreur",
                "origine inconnue (ni commune ni département)",
                "Indiquez code_commune_origine, ou departement_origine (code ou « autre »).",
            )
        )
    for table in ("seances", "demandes"):
        texte = normalisees[table]["date"].astype(str).str.strip()
        series = _series_excel(texte).notna()
        for index in normalisees[table].index[series]:
            converti = _series_excel(texte[[index]]).iloc[0]
            problemes.append(
                _probleme(
                    table, brutes[table].fichier, index + 2, "date", texte[index], "avertissement",
                    f"date saisie comme numéro de série Excel, lue {converti:%d/%m/%Y}",
                    "Mettez la colonne au format Date (JJ/MM/AAAA) dans Excel pour lever le doute.",
                )
            )  # fmt: skip
        if annee is None:
            continue
        dates = _dates(normalisees[table]["date"])
        ecart = (dates.dt.year - int(annee)).abs()
        for index in normalisees[table].index[dates.notna() & (ecart == 1)]:
            problemes.append(
                _probleme(
                    table, brutes[table].fichier, index + 2, "date", texte[index], "avertissement",
                    f"date hors de l'année {annee}",
                    "Vérifiez l'année de la date ou le fichier de l'année.",
                )
            )  # fmt: skip
        plausible = dates.dt.year.between(ANNEE_MIN, ANNEE_MAX)
        for index in normalisees[table].index[dates.notna() & (ecart > 1) & plausible]:
            problemes.append(
                _probleme(
                    table, brutes[table].fichier, index + 2, "date", texte[index], "erreur",
                    f"date à plus d'un an de l'année {annee}",
                    f"Les données de {annee} vont de {int(annee) - 1} à {int(annee) + 1} : corrigez l'année, "
                    "ou rangez la ligne dans le fichier de son année.",
                )
            )  # fmt: skip


def _controler_coordonnees(seances, fichier, referentiel, problemes) -> None:
    latitude, longitude = _decimaux(seances["latitude"]), _decimaux(seances["longitude"])
    une_seule = (seances["latitude"] == "") ^ (seances["longitude"] == "")
    for index in seances.index[une_seule]:
        problemes.append(
            _probleme(
                "seances",
                fichier,
                index + 2,
                "latitude",
                seances.at[index, "latitude"],
                "erreur",
                "coordonnées incomplètes (latitude et longitude vont ensemble)",
                "Remplissez les deux colonnes, ou videz-les (la séance sera placée à la commune).",
            )
        )
    departement = departement_de_commune(seances["code_commune"])
    a_controler = latitude.notna() & longitude.notna() & departement.isin(referentiel.departements_demandes)
    if not a_controler.any():
        return
    contours = referentiel.departements.set_index("insee_dep").geometry.buffer(1000)
    geometries = contours.reindex(departement[a_controler]).to_numpy()
    vers_l93 = Transformer.from_crs("EPSG:4326", CRS_CALCUL, always_xy=True)
    x, y = vers_l93.transform(longitude[a_controler].to_numpy(), latitude[a_controler].to_numpy())
    dedans = shapely.contains_xy(geometries, x, y)
    xi, yi = vers_l93.transform(latitude[a_controler].to_numpy(), longitude[a_controler].to_numpy())
    inverse = shapely.contains_xy(geometries, xi, yi)
    for index, ok, inv in zip(seances.index[a_controler], dedans, inverse, strict=True):
        if ok:
            continue
        valeur = f"{seances.at[index, 'latitude']} ; {seances.at[index, 'longitude']}"
        if inv:
            message = "latitude et longitude inversées"
            correction = "Échangez les deux colonnes (latitude ≈ 48-49, longitude ≈ 1-3 en Île-de-France)."
        else:
            message = f"coordonnées hors du département {departement[index]} du lieu"
            correction = "Vérifiez les coordonnées (WGS84, degrés décimaux) ou le code commune."
        problemes.append(
            _probleme("seances", fichier, index + 2, "latitude", valeur, "erreur", message, correction)
        )
    _controler_commune_du_lieu(seances, fichier, referentiel, problemes, x, y, a_controler, dedans)


def _controler_commune_du_lieu(seances, fichier, referentiel, problemes, x, y, a_controler, dedans) -> None:
    """Avertit quand un lieu est à plus de ``ECART_COMMUNE_M`` de la commune qu'il déclare."""
    contours = referentiel.communes.set_index("insee_com").geometry
    indices = seances.index[a_controler][dedans]
    codes = seances.loc[indices, "code_commune"]
    connus = codes.isin(contours.index).to_numpy()
    if not connus.any():
        return
    points = shapely.points(np.asarray(x)[dedans][connus], np.asarray(y)[dedans][connus])
    distances = shapely.distance(contours.reindex(codes[connus]).to_numpy(), points) / echelle_lambert93(
        points
    )
    for index, code, distance in zip(indices[connus], codes[connus], distances, strict=True):
        if distance > ECART_COMMUNE_M:
            problemes.append(
                _probleme(
                    "seances", fichier, index + 2, "latitude",
                    f"{seances.at[index, 'latitude']} ; {seances.at[index, 'longitude']}", "avertissement",
                    f"séance {seances.at[index, 'id_seance']} : lieu à {distance:.0f} m hors de sa commune {code}",
                    "Vérifiez les coordonnées ou le code commune du lieu (la séance est comptée à ses coordonnées).",
                )
            )  # fmt: skip


# --------------------------------------------------------------------------- rejets et typage


def _ecarter(normalisees, brutes, erreurs: pd.DataFrame):
    lignes_en_erreur = {
        table: set(erreurs.loc[erreurs["table"] == table, "ligne"].dropna().astype(int) - 2)
        for table in TABLES
    }
    motifs = erreurs.groupby(["table", "ligne"])["message"].agg(" ; ".join)
    gardees: dict[str, pd.DataFrame] = {}
    rejets = []
    for table in TABLES:
        donnees = normalisees[table]
        ecartees = donnees.index.isin(list(lignes_en_erreur[table]))
        motif = pd.Series("", index=donnees.index, dtype=object)
        for index in donnees.index[ecartees]:
            motif[index] = motifs.get((table, index + 2), "")
        cascade = _cascade(table, donnees, gardees) & ~ecartees
        motif[cascade] = _motif_cascade(table)
        ecartees = ecartees | cascade
        gardees[table] = donnees[~ecartees]
        if ecartees.any():
            partie = pd.DataFrame(
                {
                    "table": table,
                    "fichier": brutes[table].fichier,
                    "ligne": donnees.index[ecartees] + 2,
                    "identifiant": _identifiant(table, donnees[ecartees]),
                    "nombre": _decimaux(donnees.loc[ecartees, "nombre"])
                    if table == "participations"
                    else np.nan,
                    "motif": motif[ecartees].to_numpy(),
                }
            )
            rejets.append(partie)
    colonnes = ["table", "fichier", "ligne", "identifiant", "nombre", "motif"]
    tableau = pd.concat(rejets, ignore_index=True) if rejets else pd.DataFrame(columns=colonnes)
    return gardees, tableau[colonnes]


def _cascade(table, donnees, gardees) -> np.ndarray:
    if table == "seances":
        return ~donnees["id_action"].isin(set(gardees["actions"]["id_action"])).to_numpy()
    if table == "participations":
        return ~donnees["id_seance"].isin(set(gardees["seances"]["id_seance"])).to_numpy()
    return np.zeros(len(donnees), dtype=bool)


def _motif_cascade(table) -> str:
    return {"seances": "action écartée", "participations": "séance écartée"}.get(table, "")


def _identifiant(table, donnees) -> np.ndarray:
    colonne = {
        "actions": "id_action",
        "seances": "id_seance",
        "participations": "id_seance",
        "demandes": "id_demande",
    }[table]
    return donnees[colonne].to_numpy()


def _typer(table: str, donnees: pd.DataFrame) -> pd.DataFrame:
    typees = pd.DataFrame(index=donnees.index)
    for colonne in CONTRAT[table]:
        valeurs = donnees[colonne.nom]
        if colonne.nom in COLONNES_PRIVEES.get(table, ()):
            continue
        if colonne.format == "vocabulaire":
            typees[colonne.nom] = normaliser_vocabulaire(valeurs, colonne.vocabulaire or "")
        elif colonne.format == "date":
            typees[colonne.nom] = _dates(valeurs)
        elif colonne.format == "entier":
            typees[colonne.nom] = _decimaux(valeurs.replace("", colonne.defaut or "0")).astype("int64")
        elif colonne.format == "decimal":
            typees[colonne.nom] = _decimaux(valeurs).astype(float)
        elif colonne.format == "booleen":
            typees[colonne.nom] = _booleens(valeurs)
        else:
            typees[colonne.nom] = valeurs.astype(object)
    typees["ligne_source"] = donnees.index + 2
    return typees.reset_index(drop=True)


def _bilan(normalisees, gardees, rejets) -> pd.DataFrame:
    lignes = []
    for table in TABLES:
        lues = len(normalisees[table])
        lignes.append(
            {
                "table": table,
                "lignes_lues": lues,
                "lignes_gardees": len(gardees[table]),
                "lignes_ecartees": int((rejets["table"] == table).sum()),
            }
        )
    bilan = pd.DataFrame(lignes)
    nombres = _decimaux(normalisees["participations"]["nombre"])
    lisibles = nombres.where(nombres.notna() & (nombres >= 0) & (nombres % 1 == 0))
    ecartees = rejets.loc[rejets["table"] == "participations", "ligne"] - 2
    bilan["participations_lues"] = np.where(bilan["table"] == "participations", int(lisibles.sum()), 0)
    bilan["participations_gardees"] = np.where(
        bilan["table"] == "participations", int(lisibles.drop(index=ecartees.to_numpy()).sum()), 0
    )
    bilan["participations_ecartees"] = np.where(
        bilan["table"] == "participations", int(lisibles.reindex(ecartees.to_numpy()).sum()), 0
    )
    bilan["nombres_illisibles"] = np.where(
        bilan["table"] == "participations",
        int((nombres.notna() & lisibles.isna()).sum() + nombres.isna().sum()),
        0,
    )
    return bilan


# --------------------------------------------------------------------------- utilitaires


LONGUEUR_VALEUR_MAX = 80  # au-delà, une valeur citée dans un message est abrégée par « … »


def _probleme(table, fichier, ligne, colonne, valeur, gravite, message, correction) -> dict:
    """Un problème ; la valeur citée est abrégée, et le texte libre privé n'est jamais repris."""
    if colonne in COLONNES_PRIVEES.get(table, ()):
        valeur = "(texte libre non repris)"
    else:
        valeur = str(valeur if valeur is not None else "")
        if len(valeur) > LONGUEUR_VALEUR_MAX:
            valeur = valeur[: LONGUEUR_VALEUR_MAX - 1] + "…"
    return {
        "table": table,
        "fichier": fichier,
        "ligne": ligne,
        "colonne": colonne,
        "valeur": valeur,
        "gravite": gravite,
        "message": message,
        "correction": correction,
    }


def _tableau_problemes(problemes: list[dict]) -> pd.DataFrame:
    tableau = pd.DataFrame(problemes, columns=COLONNES_PROBLEMES)
    tableau["ligne"] = tableau["ligne"].astype("Int64")
    ordre = {t: i for i, t in enumerate(("classeur", *TABLES))}
    return tableau.sort_values(
        ["gravite", "table", "ligne", "colonne"],
        key=lambda s: s.map(ordre) if s.name == "table" else s,
        kind="stable",
    ).reset_index(drop=True)


def _apercu(problemes: pd.DataFrame, maximum: int = 30) -> str:
    lignes = [
        f"  {p.fichier}, ligne {p.ligne}, colonne {p.colonne} : {p.message} (valeur « {p.valeur} »). "
        f"{p.correction}"
        for p in problemes.head(maximum).itertuples()
    ]
    if len(problemes) > maximum:
        lignes.append(f"  … et {len(problemes) - maximum} autre(s) : voir la liste complète.")
    return "\n".join(lignes)


def _est_demonstration(chemin: Path) -> bool:
    for dossier in (chemin if chemin.is_dir() else chemin.parent, chemin.parent):
        drapeau = dossier / FICHIER_DEMONSTRATION
        if drapeau.is_file():
            try:
                return bool(json.loads(drapeau.read_text(encoding="utf-8")).get("demonstration"))
            except json.JSONDecodeError:
                warnings.warn(f"{drapeau} illisible : ignoré", stacklevel=2)
    return False
