"""Les données d'activité d'une année : les tables lues et validées (``Activite``) et où les
trouver dans un dossier de données (``annees_disponibles``, ``chemin_donnees_annee``).

Module léger (ni pandera ni openpyxl) : les noyaux d'un lot reçoivent une ``Activite`` déjà
lue sans charger de quoi la lire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..commun.typographie import format_nombre, nombre_de, tableau_texte

__all__ = ["Activite", "annees_disponibles", "chemin_donnees_annee"]


@dataclass(frozen=True)
class Activite:
    """Tables d'activité validées et typées, avec les problèmes et les rejets.

    Attributes
    ----------
    actions, seances, participations, demandes : pandas.DataFrame
        Tables typées (codes INSEE en chaînes, dates en ``datetime64``, vocabulaires en codes).
    problemes : pandas.DataFrame
        Tous les problèmes (erreurs et avertissements) : table, fichier, ligne, colonne (telle que
        l'utilisateur l'a écrite), valeur, gravité, message, correction.
    rejets : pandas.DataFrame
        Lignes écartées en mode tolérant, avec leur motif (vide en mode strict).
    bilan : pandas.DataFrame
        Par table : lignes lues, gardées, écartées ; participations lues, gardées, écartées.
    source : str
        Chemin lu.
    demonstration : bool
        Vrai pour le jeu de démonstration (données illustratives).
    lieux : pandas.DataFrame
        Registre des lieux utilisé (sans les lieux écartés).
    annee : int, optional
        Année des données.
    registre : str
        Le fichier du registre des lieux lu (vide s'il n'y en a pas).
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
    annee: int | None = None
    registre: str = ""

    @property
    def nombre_erreurs(self) -> int:
        """Nombre de problèmes de gravité « erreur »."""
        return int((self.problemes["gravite"] == "erreur").sum())

    @property
    def nombre_avertissements(self) -> int:
        """Nombre de problèmes de gravité « avertissement »."""
        return int((self.problemes["gravite"] == "avertissement").sum())

    def ecartees(self) -> dict[str, int]:
        """Lignes et participations lues et écartées (mode tolérant) : ``lignes``,
        ``lignes_lues``, ``participations``, ``participations_lues``."""
        participations = self.bilan.set_index("table").loc["participations"]
        return {
            "lignes": int(self.bilan["lignes_ecartees"].sum()),
            "lignes_lues": int(self.bilan["lignes_lues"].sum()),
            "participations": int(participations["participations_ecartees"]),
            "participations_lues": int(participations["participations_lues"]),
        }

    def resume(self) -> str:
        """Résumé en français : bilan par table et problèmes par type, en tableaux lisibles."""
        lignes = [
            f"Données : {Path(self.source).name}" + (" (jeu de démonstration)" if self.demonstration else "")
        ]
        lignes.append(
            tableau_texte(
                ["Table", "Lignes lues", "Gardées", "Écartées"],
                [
                    [t, format_nombre(lues), format_nombre(gardees), format_nombre(ecartees)]
                    for t, lues, gardees, ecartees in self.bilan[
                        ["table", "lignes_lues", "lignes_gardees", "lignes_ecartees"]
                    ].itertuples(index=False)
                ],
            )
        )
        if len(self.problemes):
            comptes = (
                self.problemes.groupby(["gravite", "table", "message"], sort=True)
                .size()
                .rename("nombre")
                .reset_index()
            )
            lignes.append("Problèmes par type :")
            lignes.append(
                tableau_texte(
                    ["Gravité", "Table", "Problème", "Lignes"],
                    [
                        [g, t, re.sub(r"« [^»]*»", "« … »", m)[:70], format_nombre(n)]
                        for g, t, m, n in comptes.itertuples(index=False)
                    ],
                )
            )
        participations = self.bilan.set_index("table").loc["participations"]
        illisibles = int(participations["nombres_illisibles"])
        lignes.append(
            f"Participations : {format_nombre(participations['participations_lues'])} lues = "
            f"{format_nombre(participations['participations_gardees'])} gardées + "
            f"{format_nombre(participations['participations_ecartees'])} écartées"
            + (
                f" ({nombre_de(illisibles, 'ligne au nombre illisible, non comptée', 'lignes au nombre illisible, non comptées')})"
                if illisibles
                else ""
            )
            + "."
        )
        lignes.append(
            f"{nombre_de(self.nombre_erreurs, 'erreur')}, {nombre_de(self.nombre_avertissements, 'avertissement')}."
        )
        return "\n".join(lignes)


def annees_disponibles(donnees: str | Path) -> list[int]:
    """Les années présentes dans un dossier de données (``AAAA/`` ou ``activite_AAAA.xlsx``)."""
    racine = Path(donnees)
    if not racine.is_dir():
        return []
    annees = set()
    for chemin in racine.iterdir():
        nom = re.fullmatch(r"(?:activite_)?(\d{4})(?:\.xlsx)?", chemin.name)
        if nom and (chemin.is_dir() or chemin.suffix == ".xlsx"):
            annees.add(int(nom[1]))
    return sorted(annees)


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
