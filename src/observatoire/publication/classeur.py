"""``indicateurs.xlsx`` : les indicateurs d'un territoire pour qui calcule dans un tableur.

Écrit avec openpyxl depuis ``indicateurs.csv`` (qui reste l'interface des programmes) : de vrais
nombres (entiers et décimaux formatés, parts en pourcentage), les codes et les mois en texte
(« 01053 » ne perd pas son zéro, « 2023-01 » ne devient pas une date), une feuille par famille
du catalogue, et une première feuille qui explique. Aucune cellule n'est une formule : un texte
qui commence par « = » est écrit comme texte. Mêmes indicateurs, mêmes octets.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..commun.fichiers import classeur_reproductible, ecrire_atomique
from ..commun.typographie import typographier
from ..indicateurs.calcul import lire_indicateurs
from ..indicateurs.catalogue import FAMILLES, indicateur

__all__ = ["ecrire_classeur"]

_ENTETE = Font(bold=True, color="FFFFFF")
_FOND_ENTETE = PatternFill("solid", fgColor="0B4F8A")
_TITRE = Font(bold=True, size=14)
FORMAT_ENTIER = "#,##0"
FORMAT_DECIMAL = "#,##0.0"
FORMAT_PART = "0%"
_LARGEURS = {"Indicateur": 38, "Modalité (code)": 16, "Libellé": 46, "Valeur": 14, "Part": 10}


def ecrire_classeur(chemin_csv: str | Path, chemin_xlsx: str | Path, titre: str | None = None) -> Path:
    """Écrit le classeur des indicateurs d'un territoire.

    Parameters
    ----------
    chemin_csv : str or Path
        ``indicateurs.csv`` du territoire.
    chemin_xlsx : str or Path
        Le classeur à écrire (d'un coup).
    titre : str, optional
        Titre de la première feuille ; par défaut « Indicateurs — <territoire> ».

    Returns
    -------
    Path
    """
    indicateurs = lire_indicateurs(chemin_csv)
    territoire = indicateurs["territoire"].iloc[0] if len(indicateurs) else ""
    classeur = Workbook()
    _feuille_a_lire(classeur.active, titre or f"Indicateurs — {territoire}", indicateurs)
    familles = indicateurs["indicateur"].map(lambda cle: indicateur(cle).famille)
    for famille, nom in FAMILLES.items():
        lignes = indicateurs[familles == famille]
        if len(lignes):
            _feuille_famille(classeur.create_sheet(nom[:31]), lignes)
    tampon = io.BytesIO()
    classeur.save(tampon)
    return ecrire_atomique(chemin_xlsx, classeur_reproductible(tampon.getvalue()))


def _feuille_a_lire(feuille, titre: str, indicateurs: pd.DataFrame) -> None:
    feuille.title = "À lire"
    feuille["A1"] = typographier(titre)
    feuille["A1"].font = _TITRE
    textes = [
        "Une ligne par chiffre, comme indicateurs.csv (l'interface des programmes) : ce classeur est fait pour "
        "calculer dans un tableur.",
        "Colonnes : Indicateur (la clé publique, stable d'une année à l'autre), Modalité (le code : commune "
        "INSEE, SIREN, code du QPV, mois AAAA-MM, écrits en texte), Libellé (le nom lisible), Valeur (un "
        "nombre), Part (la part exacte, en pourcentage, sur le dénominateur de l'indicateur).",
        "Les participations et les demandes sont des présences cumulées, pas des personnes distinctes.",
        "Chaque feuille est une famille d'indicateurs ; la définition de chaque clé et son dénominateur sont "
        "ci-dessous et dans data/README.md.",
    ]
    for rang, texte in enumerate(textes, start=3):
        cellule = feuille.cell(row=rang, column=1, value=typographier(texte))
        cellule.alignment = Alignment(wrap_text=True, vertical="top")
        cellule.data_type = "s"
    depart = len(textes) + 4
    for colonne, entete in enumerate(
        ("Indicateur", "Feuille", "Ce que compte la valeur", "Dénominateur de la part"), 1
    ):
        _entete(feuille.cell(row=depart, column=colonne, value=entete))
    vues = list(dict.fromkeys(indicateurs["indicateur"]))
    for rang, cle in enumerate(vues, start=depart + 1):
        entree = indicateur(cle)
        for colonne, valeur in enumerate(
            (cle, FAMILLES[entree.famille], _sans_balises(entree.valeur), _sans_balises(entree.denominateur)),
            1,
        ):
            cellule = feuille.cell(row=rang, column=colonne, value=valeur)
            cellule.data_type = "s"
            cellule.alignment = Alignment(wrap_text=True, vertical="top")
    for colonne, largeur in enumerate((42, 16, 70, 40), 1):
        feuille.column_dimensions[get_column_letter(colonne)].width = largeur
    feuille.column_dimensions["A"].width = 42


def _sans_balises(texte: str) -> str:
    return typographier(texte.replace("**", "").replace("`", ""))


def _entete(cellule) -> None:
    cellule.font = _ENTETE
    cellule.fill = _FOND_ENTETE
    cellule.alignment = Alignment(vertical="center")


def _feuille_famille(feuille, lignes: pd.DataFrame) -> None:
    entetes = list(_LARGEURS)
    for colonne, entete in enumerate(entetes, 1):
        _entete(feuille.cell(row=1, column=colonne, value=entete))
        feuille.column_dimensions[get_column_letter(colonne)].width = _LARGEURS[entete]
    for rang, ligne in enumerate(lignes.itertuples(index=False), start=2):
        textes = (str(ligne.indicateur), str(ligne.modalite), typographier(str(ligne.libelle)))
        for colonne, valeur in enumerate(textes, 1):
            cellule = feuille.cell(row=rang, column=colonne, value=valeur)
            cellule.data_type = "s"  # un code reste un texte, un « = » initial n'est pas une formule
            cellule.number_format = "@"
        nombre = feuille.cell(row=rang, column=4)
        if pd.notna(ligne.valeur):
            entier = float(ligne.valeur).is_integer()
            nombre.value = int(ligne.valeur) if entier else float(ligne.valeur)
            nombre.number_format = FORMAT_ENTIER if entier else FORMAT_DECIMAL
        part = feuille.cell(row=rang, column=5)
        if pd.notna(ligne.part):
            part.value = float(ligne.part)
            part.number_format = FORMAT_PART
    feuille.freeze_panes = "A2"
    feuille.auto_filter.ref = f"A1:E{max(len(lignes) + 1, 2)}"
