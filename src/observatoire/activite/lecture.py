"""Données d'activité du centre : lecture des exports, validation, rejets comptés.

Contrat (``contrat.py``, ``data/README.md``) : un dossier de CSV ou un classeur ``.xlsx`` avec
les tables ``actions``, ``seances``, ``participations`` et ``demandes``. Les lignes sont
numérotées comme l'utilisateur les voit (en-tête = ligne 1). ``lire_activite`` enchaîne :
lecture (``sources``), structure, normalisation et contrôles (``validation``), registre des
lieux (``lieux``), puis rejets (mode tolérant), typage et placement des séances.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..commun.erreurs import ErreurDonnees
from ..commun.lecture import COLONNES_PROBLEMES, TableBrute
from ..commun.typographie import format_nombre, nombre_de
from ..referentiel.chargement import Referentiel, charger_referentiel
from .contrat import COLONNES_PRIVEES, CONTRAT, TABLES
from .donnees import Activite
from .lieux import Registre, chemin_registre, lire_registre, placer_seances
from .sources import lire_sources
from .valeurs import booleens, dates, decimaux
from .validation import controler_structure, controles_croises, normaliser, valider_colonnes
from .vocabulaires import normaliser_vocabulaire

__all__ = [
    "FICHIER_DEMONSTRATION",
    "decrire_probleme",
    "lire_activite",
]

FICHIER_DEMONSTRATION = "demonstration.json"
APERCU_MAX = 30
TABLES_ET_ANNEXES = ("classeur", *TABLES, "lieux")


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
    brutes, problemes = lire_sources(chemin)
    structure = controler_structure(brutes, problemes)
    if structure:
        tableau = _tableau_problemes(structure + problemes, brutes)
        raise ErreurDonnees("Structure des données non conforme au contrat :\n" + _apercu(tableau), tableau)
    normalisees = {t: normaliser(t, brutes[t], referentiel, problemes) for t in TABLES}
    for table in TABLES:
        valider_colonnes(table, normalisees, brutes[table], referentiel, problemes)
    controles_croises(normalisees, brutes, referentiel, annee, problemes)
    registre = lire_registre(chemin_registre(chemin), referentiel)
    tableau_problemes = _tableau_problemes(problemes + registre.problemes, brutes)

    erreurs = tableau_problemes[tableau_problemes["gravite"] == "erreur"]
    if len(erreurs) and not tolerant:
        raise ErreurDonnees(
            f"{nombre_de(len(erreurs), 'erreur')} dans {chemin.name}. Corrigez-les, ou relancez en mode tolérant "
            "(--tolerant) pour écarter les lignes en erreur :\n" + _apercu(erreurs),
            tableau_problemes,
        )
    gardees, rejets = _ecarter(normalisees, brutes, erreurs, registre)
    typees = {t: _typer(t, gardees[t]) for t in TABLES}
    lieux = registre.lieux.drop(index=list(registre.lignes_en_erreur), errors="ignore")
    typees["seances"] = placer_seances(typees["seances"], lieux)
    return Activite(
        **typees,
        problemes=tableau_problemes,
        rejets=rejets,
        bilan=_bilan(normalisees, gardees, rejets),
        source=str(chemin),
        demonstration=_est_demonstration(chemin),
        lieux=lieux,
        annee=int(annee) if annee is not None else None,
        registre=str(registre.chemin) if registre.brute is not None else "",
    )


# --------------------------------------------------------------------------- problèmes


def _tableau_problemes(problemes: list[dict], brutes: dict[str, TableBrute]) -> pd.DataFrame:
    """Un problème au plus par cellule ; rien d'autre sur une ligne aux champs décalés ; aucune
    valeur d'une colonne privée."""
    tableau = pd.DataFrame(problemes, columns=COLONNES_PROBLEMES)
    tableau["ligne"] = tableau["ligne"].astype("Int64")
    douteuses = {(t, i + 2) for t, b in brutes.items() for i in b.lignes_douteuses}
    if douteuses:
        sur_douteuse = (
            pd.Series(list(zip(tableau["table"], tableau["ligne"], strict=True))).isin(douteuses).to_numpy()
        )
        structurelle = tableau["colonne"].isna().to_numpy()
        tableau = tableau[~sur_douteuse | structurelle]
    for table, colonnes in COLONNES_PRIVEES.items():
        if table not in brutes:
            continue
        noms = {brutes[table].nom_colonne(c) for c in colonnes}
        privee = (tableau["table"] == table) & tableau["colonne"].isin(noms)
        tableau.loc[privee, "valeur"] = "(texte libre non repris)"
    erreurs_d_abord = tableau["gravite"].map({"erreur": 0}).fillna(1)
    tableau = tableau.assign(_ordre=erreurs_d_abord)
    tableau = tableau.drop_duplicates(["table", "fichier", "ligne", "colonne", "_ordre"], keep="first")
    ordre = {t: i for i, t in enumerate(TABLES_ET_ANNEXES)}
    return (
        tableau.sort_values(
            ["gravite", "table", "ligne", "colonne"],
            key=lambda s: s.map(ordre) if s.name == "table" else s,
            kind="stable",
        )
        .drop(columns="_ordre")
        .reset_index(drop=True)
    )


def decrire_probleme(probleme) -> str:
    """Un problème en une ligne : où (fichier, ligne, colonne), quoi, puis comment corriger."""
    lieu = str(probleme.fichier)
    if not pd.isna(probleme.ligne):
        lieu += f", ligne {format_nombre(int(probleme.ligne))}"
    if isinstance(probleme.colonne, str) and probleme.colonne:
        lieu += f", colonne « {probleme.colonne} »"
    valeur = (
        f" Valeur lue : « {probleme.valeur} »."
        if probleme.valeur and probleme.valeur not in str(probleme.message)
        else ""
    )
    message = str(probleme.message)
    return f"{lieu} : {message[:1].upper() + message[1:]}{valeur} {probleme.correction}".rstrip()


def _apercu(problemes: pd.DataFrame, maximum: int = APERCU_MAX) -> str:
    lignes = [f"  - {decrire_probleme(p)}" for p in problemes.head(maximum).itertuples()]
    if len(problemes) > maximum:
        lignes.append(
            f"  … et {nombre_de(len(problemes) - maximum, 'autre')} : voir la liste complète (valider --sortie)."
        )
    return "\n".join(lignes)


# --------------------------------------------------------------------------- rejets et typage


def _ecarter(normalisees, brutes, erreurs: pd.DataFrame, registre: Registre):
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
            rejets.append(
                pd.DataFrame(
                    {
                        "table": table,
                        "fichier": brutes[table].fichier,
                        "ligne": donnees.index[ecartees] + 2,
                        "identifiant": _identifiant(table, donnees[ecartees]),
                        "nombre": decimaux(donnees.loc[ecartees, "nombre"])
                        if table == "participations"
                        else np.nan,
                        "motif": motif[ecartees].to_numpy(),
                    }
                )
            )
    en_erreur = sorted(registre.lignes_en_erreur)
    if en_erreur:
        rejets.append(
            pd.DataFrame(
                {
                    "table": "lieux",
                    "fichier": registre.chemin.name,
                    "ligne": [i + 2 for i in en_erreur],
                    "identifiant": registre.lieux.loc[en_erreur, "id_lieu"].to_numpy(),
                    "nombre": np.nan,
                    "motif": [motifs.get(("lieux", i + 2), "") for i in en_erreur],
                }
            )
        )
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
    }
    return donnees[colonne[table]].to_numpy()


def _typer(table: str, donnees: pd.DataFrame) -> pd.DataFrame:
    typees = pd.DataFrame(index=donnees.index)
    for colonne in CONTRAT[table]:
        valeurs = donnees[colonne.nom]
        if colonne.nom in COLONNES_PRIVEES.get(table, ()):
            continue
        if colonne.format == "vocabulaire":
            typees[colonne.nom] = normaliser_vocabulaire(valeurs, colonne.vocabulaire or "")
        elif colonne.format == "date":
            typees[colonne.nom] = dates(valeurs)
        elif colonne.format == "entier":
            typees[colonne.nom] = decimaux(valeurs.replace("", colonne.defaut or "0")).astype("int64")
        elif colonne.format == "decimal":
            typees[colonne.nom] = decimaux(valeurs).astype(float)
        elif colonne.format == "booleen":
            typees[colonne.nom] = booleens(valeurs)
        else:
            typees[colonne.nom] = valeurs.astype(object)
    typees["ligne_source"] = donnees.index + 2
    return typees.reset_index(drop=True)


def _bilan(normalisees, gardees, rejets) -> pd.DataFrame:
    lignes = []
    for table in TABLES:
        lignes.append(
            {
                "table": table,
                "lignes_lues": len(normalisees[table]),
                "lignes_gardees": len(gardees[table]),
                "lignes_ecartees": int((rejets["table"] == table).sum()),
            }
        )
    bilan = pd.DataFrame(lignes)
    nombres = decimaux(normalisees["participations"]["nombre"])
    lisibles = nombres.where(nombres.notna() & (nombres >= 0) & (nombres % 1 == 0))
    ecartees = rejets.loc[rejets["table"] == "participations", "ligne"] - 2
    est_participations = bilan["table"] == "participations"
    bilan["participations_lues"] = np.where(est_participations, int(lisibles.sum()), 0)
    bilan["participations_gardees"] = np.where(
        est_participations, int(lisibles.drop(index=ecartees.to_numpy()).sum()), 0
    )
    bilan["participations_ecartees"] = np.where(
        est_participations, int(lisibles.reindex(ecartees.to_numpy()).sum()), 0
    )
    bilan["nombres_illisibles"] = np.where(
        est_participations, int((nombres.notna() & lisibles.isna()).sum() + nombres.isna().sum()), 0
    )
    return bilan


def _est_demonstration(chemin: Path) -> bool:
    for dossier in (chemin if chemin.is_dir() else chemin.parent, chemin.parent):
        drapeau = dossier / FICHIER_DEMONSTRATION
        if drapeau.is_file():
            try:
                return bool(json.loads(drapeau.read_text(encoding="utf-8")).get("demonstration"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                return False
    return False
