"""Vocabulaires contrôlés des données d'activité (définis une seule fois ici).

Chaque valeur s'écrit par son code (``sante``) ou son libellé français (``Santé``) ; la casse,
les accents, la ponctuation et les espaces sont ignorés. ``data/README.md`` reprend ces listes.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

import pandas as pd

__all__ = ["VOCABULAIRES", "libelle", "normaliser_vocabulaire", "suggerer"]

VOCABULAIRES: dict[str, dict[str, str]] = {
    "axe": {
        "developpement_social": "Développement social (coconstruction et coopérations)",
        "egalite_justice_sociale": "Promouvoir l'égalité et la justice sociale",
        "developpement_economique": "Soutenir un développement économique et territorial endogène",
        "parole_habitante": "Écouter et accompagner la parole habitante",
    },
    "thematique": {
        "education": "Éducation",
        "sante": "Santé",
        "famille": "Famille et parentalité",
        "logement": "Logement et habitat",
        "prevention_jeunesse": "Prévention et jeunesse",
        "transition_ecologique": "Transition écologique",
        "ingenierie_territoriale": "Ingénierie territoriale",
        "participation": "Participation des habitant·es",
        "egalite": "Promotion de l'égalité",
        "laicite": "Valeurs de la République et laïcité",
        "cohesion_sociale": "Cohésion sociale",
        "emploi_economie": "Emploi et développement économique",
    },
    "format": {
        "rencontre": "Rencontre ou journée",
        "formation": "Formation",
        "groupe_travail": "Groupe de travail ou réseau",
        "seminaire": "Séminaire",
        "atelier": "Atelier",
        "accompagnement": "Accompagnement de territoire",
        "webinaire": "Webinaire",
    },
    "public": {
        "professionnel_collectivite": "Professionnel·les des collectivités",
        "professionnel_etat": "Services de l'État",
        "institution": "Institutions et organismes (CAF, ARS, bailleurs…)",
        "association": "Associations",
        "habitant": "Habitant·es",
        "elu": "Élu·es",
        "autre": "Autres publics",
    },
    "type_demandeur": {
        "ville": "Villes",
        "intercommunalite": "EPCI ou EPT",
        "institution": "Institutions (préfectures, DDETS…)",
        "association": "Associations",
        "bailleur": "Bailleurs sociaux",
        "recherche": "Étudiant·es et chercheur·ses",
        "autre": "Autres demandeurs",
    },
}

_ALIAS: dict[str, dict[str, str]] = {
    "type_demandeur": {"epci": "intercommunalite", "ept": "intercommunalite", "commune": "ville"},
    "public": {"professionnel le de collectivite": "professionnel_collectivite"},
}


def _cle(texte: str) -> str:
    decompose = unicodedata.normalize("NFKD", str(texte))
    sans_accents = "".join(c for c in decompose if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", sans_accents.lower()).strip()


def _index(nom: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, etiquette in VOCABULAIRES[nom].items():
        index[_cle(code)] = code
        index[_cle(etiquette)] = code
    for alias, code in _ALIAS.get(nom, {}).items():
        index[_cle(alias)] = code
    return index


_INDEX = {nom: _index(nom) for nom in VOCABULAIRES}


def normaliser_vocabulaire(valeurs: pd.Series, nom: str) -> pd.Series:
    """Convertit codes ou libellés en codes ; ``NA`` pour une valeur inconnue ou vide.

    Parameters
    ----------
    valeurs : pandas.Series
        Valeurs saisies.
    nom : str
        Nom du vocabulaire (``axe``, ``thematique``, ``format``, ``public``, ``type_demandeur``).

    Returns
    -------
    pandas.Series
        Codes du vocabulaire (objet), ``None`` où la valeur n'est pas reconnue.
    """
    index = _INDEX[nom]
    uniques = pd.unique(valeurs.astype(str))
    correspondance = {valeur: index.get(_cle(valeur)) for valeur in uniques}
    return valeurs.astype(str).map(correspondance)


def suggerer(valeur: str, nom: str) -> str | None:
    """Propose le code le plus proche d'une valeur inconnue (« vouliez-vous dire … »)."""
    index = _INDEX[nom]
    proches = difflib.get_close_matches(_cle(valeur), list(index), n=1, cutoff=0.6)
    return index[proches[0]] if proches else None


def libelle(nom: str, code: str) -> str:
    """Libellé français d'un code de vocabulaire (le code lui-même s'il est inconnu)."""
    return VOCABULAIRES.get(nom, {}).get(code, code)
