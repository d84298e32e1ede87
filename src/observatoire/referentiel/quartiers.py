"""Ce que dit le référentiel d'un quartier prioritaire : sa population et ses indicateurs
(recensement, revenus, CAF), leur millésime — vérifié ou supposé, jamais présenté comme
certain — et ce qu'il faut en savoir pour les lire.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INDICATEURS_QUARTIER", "NON_DIFFUSE", "SOURCE_QUARTIERS", "IndicateurQuartier"]

NON_DIFFUSE = "non diffusé (secret statistique)"
SOURCE_QUARTIERS = (
    "INSEE (recensement de la population, FiLoSoFi) et CNAF, par la compilation du dépôt public "
    "RemiG1984/MaFrance (d'après SIG Ville) ; statut 2024 et QPV 2015 : table de correspondance de l'ANCT"
)


@dataclass(frozen=True)
class IndicateurQuartier:
    """Un indicateur de la table de contexte des QPV.

    Attributes
    ----------
    colonne : str
        Colonne de ``Referentiel.contexte_qpv``.
    libelle : str
        Nom affiché.
    forme : str
        ``nombre``, ``pourcentage`` (déjà en %) ou ``decimal``.
    millesime : str
        Millésime, avec « supposé » quand la source ne le dit pas.
    note : str
        Ce qu'il faut savoir pour le lire (vide sinon).
    """

    colonne: str
    libelle: str
    forme: str
    millesime: str
    note: str = ""


INDICATEURS_QUARTIER = (
    IndicateurQuartier("population_municipale", "Population municipale", "nombre", "recensement 2020"),
    IndicateurQuartier(
        "taux_pauvrete_seuil_60_pct",
        "Taux de pauvreté (seuil à 60 % du revenu médian)",
        "pourcentage",
        "FiLoSoFi 2021 (supposé)",
    ),
    IndicateurQuartier("taux_emploi_pct", "Taux d'emploi", "pourcentage", "recensement 2020 (supposé)"),
    IndicateurQuartier("nombre_menages", "Ménages", "nombre", "recensement 2020 (supposé)"),
    IndicateurQuartier("nombre_logements_sociaux", "Logements sociaux", "nombre", "millésime inconnu"),
    IndicateurQuartier(
        "logements_sociaux_pour_100_menages",
        "Logements sociaux pour 100 ménages",
        "decimal",
        "calcul de la compilation",
        "nombre de logements divisé par le nombre de ménages : ce n'est pas une part de logements sociaux "
        "(il peut dépasser 100)",
    ),
    IndicateurQuartier(
        "indice_jeunesse",
        "Indice de jeunesse (moins de 20 ans pour un de 60 ans ou plus)",
        "decimal",
        "recensement 2020 (supposé)",
    ),
    IndicateurQuartier("allocataires_caf", "Foyers allocataires de la CAF", "nombre", "fin 2023 (supposé)"),
    IndicateurQuartier("allocataires_rsa_socle", "Allocataires du RSA socle", "nombre", "fin 2023 (supposé)"),
)
