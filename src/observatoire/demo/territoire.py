"""Démonstration d'un autre centre : une année d'activité tirée au sort (graine fixe).

Le premier jeu de démonstration (``demo``) reproduit les chiffres publiés d'un centre réel ;
celui-ci prouve que rien ne dépend de ce territoire : autre région, pas d'EPT ni de
Métropole du Grand Paris. Les lieux sont tirés dans les QPV, à leur bord, dans les communes
ou à distance ; les origines mêlent communes du territoire, départements seuls, communes de
toute la France, arrondissements municipaux et anciens codes (comptés dans leur commune
actuelle, avec un avertissement). Même graine, mêmes fichiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..activite.centre import NOM_FICHIER_CENTRE, texte_du_centre
from ..activite.vocabulaires import VOCABULAIRES
from ..commun.fichiers import ecrire_atomique
from ..referentiel.chargement import Referentiel, charger_referentiel
from .dossier import dossier_de_demonstration, ecrire_drapeau, ecrire_table_demo

__all__ = ["TERRITOIRES_DEMO", "TerritoireDemo", "ecrire_demo_territoire", "generer_demo_territoire"]


@dataclass(frozen=True)
class TerritoireDemo:
    """Un centre fictif de démonstration et la taille de son année."""

    nom: str
    libelle: str
    departements: tuple[str, ...]
    adherents: tuple[str, ...]
    graine: int
    actions: int = 36
    seances: int = 220
    demandes: int = 140


TERRITOIRES_DEMO: dict[str, TerritoireDemo] = {
    "provence": TerritoireDemo(
        nom="Centre de ressources politique de la ville de Provence — centre fictif de démonstration",
        libelle="CRPV Provence (démonstration)",
        departements=("13", "83", "84"),
        # Marseille, Toulon, Avignon, Arles, La Seyne-sur-Mer, Carpentras ; Métropole
        # d'Aix-Marseille-Provence, CA Toulon Provence Méditerranée.
        adherents=("13055", "83137", "84007", "13004", "83126", "84031", "200054807", "248300543"),
        graine=2025,
    ),
}

# Communes hors du territoire d'où viennent des participants (codes actuels), puis des codes
# qui ne sont plus des communes : arrondissements de Marseille et de Paris, ancienne commune.
_ORIGINES_LOINTAINES = ("75056", "69123", "06088", "30189", "34172", "04070", "05061", "31555")
_CODES_ANCIENS = ("13201", "13208", "75111", "30157", "83024")


def generer_demo_territoire(
    territoire: str, annee: int, referentiel: Referentiel | None = None
) -> dict[str, pd.DataFrame]:
    """Les quatre tables d'une année tirée au sort pour un centre de démonstration.

    Parameters
    ----------
    territoire : str
        Clé de ``TERRITOIRES_DEMO`` (``"provence"``).
    annee : int
        Année des dates.
    referentiel : Referentiel, optional
        Référentiel de ses départements (défaut : celui du projet).

    Returns
    -------
    dict of pandas.DataFrame
        ``actions``, ``seances``, ``participations``, ``demandes`` au format du contrat.
    """
    centre = TERRITOIRES_DEMO[territoire]
    referentiel = referentiel or charger_referentiel(centre.departements)
    hasard = np.random.default_rng(centre.graine + annee)
    actions = _actions(hasard, centre.actions, annee)
    seances = _seances(hasard, centre.seances, actions, referentiel, annee)
    return {
        "actions": actions,
        "seances": seances,
        "participations": _participations(hasard, seances, referentiel),
        "demandes": _demandes(hasard, centre.demandes, referentiel, annee),
    }


def _actions(hasard, nombre: int, annee: int) -> pd.DataFrame:
    axes, thematiques, formats = (list(VOCABULAIRES[v]) for v in ("axe", "thematique", "format"))
    lignes = []
    for rang in range(1, nombre + 1):
        thematique = _tirer(hasard, thematiques)
        format_ = _tirer(hasard, formats)
        lignes.append(
            {
                "id_action": f"P{annee}-{rang:02d}",
                "intitule": f"{format_.replace('_', ' ').capitalize()} {thematique.replace('_', ' ')} n° {rang}",
                "axe": _tirer(hasard, axes),
                "thematique": thematique,
                "format": format_,
            }
        )
    return pd.DataFrame(lignes)


def _seances(
    hasard, nombre: int, actions: pd.DataFrame, referentiel: Referentiel, annee: int
) -> pd.DataFrame:
    qpv, communes = referentiel.qpv, referentiel.communes
    genres = hasard.choice(
        ["dans_qpv", "bord_qpv", "commune_point", "commune_seule", "distanciel"],
        size=nombre,
        p=[0.4, 0.15, 0.25, 0.1, 0.1],
    )
    points = []
    for genre in genres:
        if genre == "dans_qpv":
            points.append(qpv.geometry.iloc[hasard.integers(len(qpv))].representative_point())
        elif genre == "bord_qpv":
            perimetre = qpv.geometry.iloc[hasard.integers(len(qpv))]
            bord = perimetre.boundary.interpolate(hasard.random(), normalized=True)
            points.append(_eloigner(bord, perimetre.centroid, float(hasard.uniform(20, 250))))
        elif genre == "commune_point":
            points.append(communes.geometry.iloc[hasard.integers(len(communes))].representative_point())
        else:
            points.append(None)
    places = gpd.GeoDataFrame(
        {"genre": genres}, geometry=[p if p is not None else shapely.Point() for p in points], crs=qpv.crs
    )
    dans = gpd.sjoin(places[~places.geometry.is_empty], communes[["insee_com", "geometry"]], how="left")
    code_commune = dans[~dans.index.duplicated()]["insee_com"].reindex(places.index)
    sans_point = places["genre"] == "commune_seule"
    code_commune[sans_point] = (
        communes["insee_com"].iloc[hasard.integers(len(communes), size=int(sans_point.sum()))].to_numpy()
    )
    lonlat = places.to_crs("EPSG:4326").geometry
    dates = pd.Timestamp(f"{annee}-01-09") + pd.to_timedelta(
        np.sort(hasard.integers(0, 340, size=nombre)), unit="D"
    )
    id_actions = actions["id_action"].to_numpy()[np.sort(hasard.integers(len(actions), size=nombre))]
    return pd.DataFrame(
        {
            "id_seance": [f"PS{annee}-{rang:03d}" for rang in range(1, nombre + 1)],
            "id_action": id_actions,
            "date": dates.strftime("%Y-%m-%d"),
            "demi_journees": hasard.choice([1, 1, 1, 2], size=nombre),
            "code_commune": [
                c if isinstance(c, str) and g != "distanciel" else ""
                for c, g in zip(code_commune, genres, strict=True)
            ],
            "lieu": np.where(genres == "distanciel", "Visioconférence", "Salle de quartier"),
            "latitude": [f"{p.y:.5f}" if not p.is_empty else "" for p in lonlat],
            "longitude": [f"{p.x:.5f}" if not p.is_empty else "" for p in lonlat],
            "distanciel": np.where(genres == "distanciel", "oui", "non"),
        }
    )


def _tirer(hasard, valeurs):
    """Une valeur tirée au hasard dans une liste (un seul tirage du générateur)."""
    return valeurs[hasard.integers(len(valeurs))]


def _eloigner(point, centre, metres: float):
    """Le point déplacé de ``metres`` en s'éloignant du centre (hors du périmètre)."""
    dx, dy = point.x - centre.x, point.y - centre.y
    norme = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    return shapely.Point(point.x + dx / norme * metres, point.y + dy / norme * metres)


def _participations(hasard, seances: pd.DataFrame, referentiel: Referentiel) -> pd.DataFrame:
    communes = referentiel.communes
    poids = communes["population"].fillna(0).to_numpy(dtype=float) + 1
    poids /= poids.sum()
    publics = list(VOCABULAIRES["public"])
    territoire = list(referentiel.departements_demandes)
    lignes = []
    for id_seance in seances["id_seance"]:
        for _ in range(int(hasard.integers(1, 5))):
            tirage = hasard.random()
            commune, departement = "", ""
            if tirage < 0.7:
                commune = communes["insee_com"].iloc[hasard.choice(len(communes), p=poids)]
            elif tirage < 0.8:
                departement = _tirer(hasard, territoire)
            elif tirage < 0.92:
                commune = _tirer(hasard, _ORIGINES_LOINTAINES)
            elif tirage < 0.95:
                commune = _tirer(hasard, _CODES_ANCIENS)
            else:
                departement = "autre"
            lignes.append(
                {
                    "id_seance": id_seance,
                    "public": _tirer(hasard, publics),
                    "code_commune_origine": commune,
                    "departement_origine": departement,
                    "nombre": int(hasard.integers(1, 25)),
                }
            )
    return pd.DataFrame(lignes)


def _demandes(hasard, nombre: int, referentiel: Referentiel, annee: int) -> pd.DataFrame:
    communes = referentiel.communes
    epci = sorted(set(communes["siren_epci"]) - {""})
    types, thematiques = list(VOCABULAIRES["type_demandeur"]), list(VOCABULAIRES["thematique"])
    territoire = list(referentiel.departements_demandes)
    lignes = []
    for rang in range(1, nombre + 1):
        tirage = hasard.random()
        commune = siren = departement = ""
        if tirage < 0.5:
            commune = communes["insee_com"].iloc[hasard.integers(len(communes))]
        elif tirage < 0.65:
            siren = _tirer(hasard, epci)
        elif tirage < 0.8:
            commune = _tirer(hasard, _ORIGINES_LOINTAINES)
        elif tirage < 0.9:
            departement = _tirer(hasard, territoire)
        lignes.append(
            {
                "id_demande": f"PD{annee}-{rang:03d}",
                "date": (
                    pd.Timestamp(f"{annee}-01-02") + pd.Timedelta(days=int(hasard.integers(0, 360)))
                ).strftime("%d/%m/%Y"),
                "type_demandeur": _tirer(hasard, types),
                "code_commune": commune,
                "siren_epci": siren,
                "departement": departement,
                "thematique": _tirer(hasard, thematiques),
                "objet": "Demande documentaire (texte libre, jamais publié)",
            }
        )
    return pd.DataFrame(lignes)


def ecrire_demo_territoire(
    territoire: str,
    sortie: str | Path,
    annees: tuple[int, ...] = (2023, 2024),
    referentiel: Referentiel | str | Path | None = None,
) -> Path:
    """Écrit la démonstration d'un autre centre : ``observatoire.toml`` et un dossier CSV par année.

    Parameters
    ----------
    territoire : str
        Clé de ``TERRITOIRES_DEMO`` (``"provence"``).
    sortie : str or Path
        Dossier de données à écrire : vide, nouveau, ou une démonstration déjà écrite.
    annees : tuple of int
        Années à écrire.
    referentiel : Referentiel or path, optional
        Référentiel installé pour ces départements (ou son dossier).

    Returns
    -------
    Path
        Le dossier écrit.
    """
    centre = TERRITOIRES_DEMO[territoire]
    if not isinstance(referentiel, Referentiel):
        referentiel = charger_referentiel(centre.departements, referentiel)
    dossier = dossier_de_demonstration(sortie)
    texte_centre = texte_du_centre(
        centre.nom, centre.departements, libelle=centre.libelle, adherents=centre.adherents
    )
    ecrire_atomique(dossier / NOM_FICHIER_CENTRE, texte_centre.encode("utf-8"))
    drapeau = {
        "demonstration": True,
        "description": f"Données fictives tirées au sort (graine {centre.graine}).",
    }
    ecrire_drapeau(dossier, drapeau)
    for annee in annees:
        dossier_annee = dossier / str(annee)
        for nom, table in generer_demo_territoire(territoire, annee, referentiel).items():
            ecrire_table_demo(table, dossier_annee / f"{nom}.csv", pour_excel=True)
        ecrire_drapeau(dossier_annee, drapeau)
    return dossier
