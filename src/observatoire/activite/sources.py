"""Lecture des exports d'activité : un dossier de quatre CSV ou un classeur ``.xlsx``.

Chaque table devient une ``TableBrute`` (tout en texte, lignes numérotées comme l'utilisateur
les voit) avec les règles communes du lecteur (``commun.lecture``). Les pièges des classeurs
sont nommés : deux feuilles qui ne diffèrent que par la casse ou une espace, une formule dont le
classeur n'a pas gardé la valeur, une feuille trop grande pour être lue sans risque.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from openpyxl import load_workbook

from ..commun.erreurs import ErreurDonnees
from ..commun.lecture import (
    Enregistrement,
    TableBrute,
    caracteres_interdits,
    cle_colonne,
    decouper_csv,
    lire_texte,
    probleme,
    table_depuis_enregistrements,
)
from ..commun.typographie import accord, nombre_de
from .contrat import COLONNES_PRIVEES, COLONNES_TEXTE_LIBRE, CONTRAT, TABLES

__all__ = [
    "EXCEL_ERREURS",
    "LIGNES_MAX_FEUILLE",
    "OCTETS_MAX_FEUILLE",
    "lire_sources",
]

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
# Au-delà, une feuille est refusée avant d'être lue (mémoire bornée) : Excel s'arrête à
# 1 048 576 lignes ; le XML d'une feuille d'un million de lignes de participations pèse ~120 Mo.
LIGNES_MAX_FEUILLE = 1_048_576
OCTETS_MAX_FEUILLE = 1 << 30
_ESPACE_NOMS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ESPACE_RELATIONS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_FORMULE_SANS_VALEUR = re.compile(
    rb'<c\b[^>]*?\br="([A-Z]{1,3}\d+)"[^>]*>\s*<f\b[^>]*(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>'
)
_BLOC = 8 << 20


def lire_sources(chemin: Path) -> tuple[dict[str, TableBrute], list[dict]]:
    """Les quatre tables brutes d'une année et les problèmes trouvés en les lisant.

    Raises
    ------
    ErreurDonnees
        Dossier ou classeur introuvable, table absente, fichier vide ou illisible.
    """
    problemes: list[dict] = []
    if chemin.is_file() and chemin.suffix.lower() in (".xlsx", ".xlsm"):
        return _lire_classeur(chemin, problemes), problemes
    if not chemin.is_dir():
        raise ErreurDonnees(
            f"Données introuvables : {chemin.name}. Donnez un dossier de fichiers CSV (actions.csv, "
            "seances.csv, participations.csv, demandes.csv) ou un classeur .xlsx."
        )
    absentes = [f"{table}.csv" for table in TABLES if not (chemin / f"{table}.csv").is_file()]
    if absentes:
        raise ErreurDonnees(
            f"{accord(len(absentes), 'Fichier absent', 'Fichiers absents')} dans {chemin.name} : {', '.join(absentes)}. "
            "Le dossier doit contenir les "
            "quatre tables du contrat (voir data/README.md)."
        )
    return {table: _lire_csv(chemin / f"{table}.csv", table, problemes) for table in TABLES}, problemes


def _lire_csv(fichier: Path, table: str, problemes: list[dict]) -> TableBrute:
    texte = lire_texte(fichier)
    if not texte.strip():
        raise ErreurDonnees(
            f"{fichier.name} : fichier vide. Exportez la table {table} avec sa ligne d'en-tête "
            "(voir data/README.md)."
        )
    separateur, enregistrements = decouper_csv(texte, fichier.name)
    brute = table_depuis_enregistrements(
        enregistrements,
        table,
        fichier.name,
        [c.nom for c in CONTRAT[table]],
        [c.nom for c in CONTRAT[table] if c.requise],
        problemes,
        texte_libre=COLONNES_TEXTE_LIBRE[table],
        privees=COLONNES_PRIVEES.get(table, ()),
        separateur=separateur,
    )
    _signaler_interdits(texte, enregistrements, brute, problemes)
    return brute


def _signaler_interdits(texte, enregistrements, brute: TableBrute, problemes: list[dict]) -> None:
    """Chaque caractère de contrôle est une erreur à la ligne de son enregistrement."""
    trouves = caracteres_interdits(texte)
    if not trouves:
        return
    debuts = enregistrements.debuts
    for ligne, position, code in trouves:
        rang = bisect.bisect_right(debuts, ligne) - 1
        if rang <= 0:
            raise ErreurDonnees(
                f"{brute.fichier}, ligne {ligne}, caractère {position} : caractère de contrôle {code} dans "
                "l'en-tête. Retapez la ligne d'en-tête."
            )
        debut = enregistrements[rang].debut
        brute.lignes_douteuses.add(debut - 2)
        problemes.append(
            probleme(
                brute.table, brute.fichier, debut, None, "", "erreur",
                f"caractère de contrôle invisible {code} (ligne {ligne}, caractère {position}).",
                "Supprimez-le : il vient d'un copier-coller ou d'un export abîmé.",
            )
        )  # fmt: skip


# --------------------------------------------------------------------------- classeur


def _lire_classeur(chemin: Path, problemes: list[dict]) -> dict[str, TableBrute]:
    feuilles_xml = _feuilles_du_classeur(chemin)
    try:
        classeur = load_workbook(chemin, read_only=True, data_only=True)
    except Exception as erreur:  # openpyxl : fichiers corrompus de formes variées
        raise ErreurDonnees(
            f"Classeur illisible : {chemin.name} ({type(erreur).__name__}). Rouvrez-le dans Excel ou "
            "LibreOffice et réenregistrez-le au format .xlsx."
        ) from erreur
    try:
        feuilles = _feuilles_des_tables(chemin.name, classeur.sheetnames, problemes)
        brutes = {}
        for table in TABLES:
            nom = feuilles[table]
            fichier = f"{chemin.name}, feuille {table}"
            _verifier_feuille(chemin, fichier, feuilles_xml.get(nom))
            brutes[table] = _lire_feuille(classeur[nom], table, fichier, problemes)
    finally:
        classeur.close()
    return brutes


def _feuilles_des_tables(classeur: str, noms: list[str], problemes: list[dict]) -> dict[str, str]:
    """Table → nom de sa feuille ; deux feuilles qui ne diffèrent que par la casse, les accents
    ou une espace sont une erreur qui les nomme toutes deux."""
    par_table: dict[str, list[str]] = {}
    for nom in noms:
        par_table.setdefault(cle_colonne(nom), []).append(nom)
    absentes = [t for t in TABLES if t not in par_table]
    if absentes:
        raise ErreurDonnees(
            f"{accord(len(absentes), 'Feuille absente', 'Feuilles absentes')} dans {classeur} : {', '.join(absentes)}. "
            "Le classeur doit avoir les "
            f"feuilles {', '.join(TABLES)} (feuilles présentes : {', '.join(f'« {n} »' for n in noms)})."
        )
    doubles = [
        f"{table} : " + " et ".join(f"« {n} »" for n in par_table[table])
        for table in TABLES
        if len(par_table[table]) > 1
    ]
    if doubles:
        raise ErreurDonnees(
            f"{classeur} : plusieurs feuilles pour une même table ({' ; '.join(doubles)}). Les noms ne "
            "diffèrent que par la casse, les accents ou une espace (une feuille peut être masquée). Gardez "
            "une seule feuille par table, ou renommez l'autre avec un « _ » initial."
        )
    for cle, noms_cle in par_table.items():
        if cle not in TABLES and not noms_cle[0].startswith("_"):
            problemes.append(
                probleme(
                    "classeur", classeur, None, None, noms_cle[0], "avertissement",
                    f"feuille « {noms_cle[0]} » hors contrat, ignorée.",
                    "Renommez-la avec un « _ » initial pour la garder sans avertissement.",
                )
            )  # fmt: skip
    return {table: par_table[table][0] for table in TABLES}


def _feuilles_du_classeur(chemin: Path) -> dict[str, tuple[str, int]]:
    """Nom de chaque feuille → (membre XML dans l'archive, taille décompressée)."""
    try:
        with zipfile.ZipFile(chemin) as archive:
            classeur = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
            cibles = {r.get("Id"): r.get("Target", "") for r in relations}
            tailles = {info.filename: info.file_size for info in archive.infolist()}
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as erreur:
        raise ErreurDonnees(
            f"Classeur illisible : {chemin.name} ({type(erreur).__name__}). Rouvrez-le dans Excel ou "
            "LibreOffice et réenregistrez-le au format .xlsx."
        ) from erreur
    feuilles = {}
    for feuille in classeur.iter(f"{_ESPACE_NOMS}sheet"):
        cible = cibles.get(feuille.get(f"{_ESPACE_RELATIONS}id"), "")
        membre = cible.lstrip("/") if cible.startswith("/") else str(PurePosixPath("xl") / cible)
        feuilles[feuille.get("name", "")] = (membre, tailles.get(membre, 0))
    return feuilles


def _verifier_feuille(chemin: Path, fichier: str, xml: tuple[str, int] | None) -> None:
    """Taille bornée, et aucune formule sans valeur gardée (elle serait lue comme une case vide)."""
    if xml is None:
        return
    membre, taille = xml
    if taille > OCTETS_MAX_FEUILLE:
        raise ErreurDonnees(
            f"{fichier} : {taille / 2**20:,.0f} Mo une fois décompressée, au-delà de la limite de "
            f"{OCTETS_MAX_FEUILLE / 2**20:,.0f} Mo. Exportez-la en CSV (un fichier par table).".replace(
                ",", "\u202f"
            )
        )
    cellules: list[str] = []
    with zipfile.ZipFile(chemin) as archive, archive.open(membre) as flux:
        reste = b""
        while bloc := flux.read(_BLOC):
            morceau = reste + bloc
            if len(cellules) < 20:
                cellules += [m.decode() for m in _FORMULE_SANS_VALEUR.findall(morceau)]
            if not reste and bloc.find(b"<dimension") >= 0:
                _verifier_dimension(fichier, bloc)
            reste = morceau[-4096:]
    if cellules:
        uniques = list(dict.fromkeys(cellules))
        raise ErreurDonnees(
            f"{fichier} : {nombre_de(len(uniques), 'formule sans valeur enregistrée', 'formules sans valeur enregistrée')} "
            f"({accord(len(uniques), 'cellule')} "
            f"{', '.join(uniques[:10])}{'…' if len(uniques) > 10 else ''}). Le classeur a été écrit par un "
            "programme qui n'a pas calculé les formules : ouvrez-le dans Excel ou LibreOffice, puis "
            "enregistrez-le, ou remplacez les formules par leurs valeurs."
        )


def _verifier_dimension(fichier: str, debut: bytes) -> None:
    correspondance = re.search(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"', debut)
    if correspondance and int(correspondance[1]) > LIGNES_MAX_FEUILLE:
        raise ErreurDonnees(
            f"{fichier} : {int(correspondance[1]):,} lignes, au-delà de la limite de {LIGNES_MAX_FEUILLE:,} "
            "lignes d'une feuille. Exportez-la en CSV.".replace(",", "\u202f")
        )


def _lire_feuille(feuille, table: str, fichier: str, problemes: list[dict]) -> TableBrute:
    enregistrements = []
    for numero, valeurs in enumerate(feuille.iter_rows(values_only=True), start=1):
        if numero > LIGNES_MAX_FEUILLE + 1:
            raise ErreurDonnees(f"{fichier} : plus de {LIGNES_MAX_FEUILLE} lignes. Exportez-la en CSV.")
        if any(v is not None and str(v).strip() for v in valeurs):
            enregistrements.append(Enregistrement(numero, numero, [_texte_cellule(v) for v in valeurs]))
    if not enregistrements:
        raise ErreurDonnees(
            f"{fichier} : feuille vide. Elle doit avoir sa ligne d'en-tête (voir data/README.md)."
        )
    brute = table_depuis_enregistrements(
        enregistrements,
        table,
        fichier,
        [c.nom for c in CONTRAT[table]],
        [c.nom for c in CONTRAT[table] if c.requise],
        problemes,
        texte_libre=COLONNES_TEXTE_LIBRE[table],
        privees=COLONNES_PRIVEES.get(table, ()),
    )
    for enregistrement in enregistrements[1:]:
        texte = "\t".join(enregistrement.champs)
        for _ligne, position, code in caracteres_interdits(texte):
            brute.lignes_douteuses.add(enregistrement.debut - 2)
            problemes.append(
                probleme(
                    table, fichier, enregistrement.debut, None, "", "erreur",
                    f"caractère de contrôle invisible {code} (caractère {position} de la ligne).",
                    "Supprimez-le : il vient d'un copier-coller ou d'un export abîmé.",
                )
            )  # fmt: skip
    return brute


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
