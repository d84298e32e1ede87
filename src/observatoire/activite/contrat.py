"""Contrat des données d'activité : tables, colonnes, formats, bornes (défini une seule fois ici).

``data/README.md`` documente ce contrat ; un test vérifie qu'ils disent la même chose.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ANNEE_MAX",
    "ANNEE_MIN",
    "COLONNES_PRIVEES",
    "COLONNES_TEXTE_LIBRE",
    "CONTRAT",
    "DEMI_JOURNEES_MAX",
    "ECART_COMMUNE_M",
    "NOMBRE_MAX",
    "TABLES",
    "Colonne",
    "colonne",
]

TABLES = ("actions", "seances", "participations", "demandes")
NOMBRE_MAX = 100_000  # participations sur une ligne : au-delà, une saisie erronée
DEMI_JOURNEES_MAX = 20  # demi-journées d'une séance (deux semaines)
ANNEE_MIN, ANNEE_MAX = 1990, 2100
ECART_COMMUNE_M = 100.0  # un lieu plus loin que cela de sa commune déclarée est signalé


@dataclass(frozen=True)
class Colonne:
    """Une colonne du contrat.

    Attributes
    ----------
    nom : str
        Nom exact (comparé sans casse ni accents à l'en-tête).
    format : str
        ``identifiant``, ``texte``, ``vocabulaire``, ``date``, ``entier``, ``decimal``,
        ``booleen``, ``commune``, ``departement`` ou ``siren``.
    requise : bool
        La colonne doit figurer dans l'en-tête.
    obligatoire : bool
        Chaque ligne doit la remplir.
    unique : bool
        Deux lignes ne peuvent avoir la même valeur.
    vocabulaire : str, optional
        Vocabulaire contrôlé (``activite.vocabulaires``).
    reference : tuple, optional
        (table, colonne) où la valeur doit exister.
    defaut : str
        Valeur d'une colonne facultative absente ou vide.
    maximum : int, optional
        Borne haute plausible d'un entier (au-delà : erreur).
    """

    nom: str
    format: str
    requise: bool = True
    obligatoire: bool = False
    unique: bool = False
    vocabulaire: str | None = None
    reference: tuple[str, str] | None = None
    defaut: str = ""
    maximum: int | None = None


CONTRAT: dict[str, tuple[Colonne, ...]] = {
    "actions": (
        Colonne("id_action", "identifiant", obligatoire=True, unique=True),
        Colonne("intitule", "texte", obligatoire=True),
        Colonne("axe", "vocabulaire", obligatoire=True, vocabulaire="axe"),
        Colonne("thematique", "vocabulaire", obligatoire=True, vocabulaire="thematique"),
        Colonne("format", "vocabulaire", obligatoire=True, vocabulaire="format"),
        Colonne("partenaires", "texte", requise=False),
    ),
    "seances": (
        Colonne("id_seance", "identifiant", obligatoire=True, unique=True),
        Colonne("id_action", "identifiant", obligatoire=True, reference=("actions", "id_action")),
        Colonne("date", "date", obligatoire=True),
        Colonne("demi_journees", "entier", requise=False, defaut="1", maximum=DEMI_JOURNEES_MAX),
        Colonne("code_commune", "commune"),
        Colonne("lieu", "texte", requise=False),
        Colonne("adresse", "texte", requise=False),
        Colonne("id_lieu", "texte", requise=False),
        Colonne("latitude", "decimal", requise=False),
        Colonne("longitude", "decimal", requise=False),
        Colonne("distanciel", "booleen", requise=False, defaut="non"),
    ),
    "participations": (
        Colonne("id_seance", "identifiant", obligatoire=True, reference=("seances", "id_seance")),
        Colonne("public", "vocabulaire", obligatoire=True, vocabulaire="public"),
        Colonne("code_commune_origine", "commune", requise=False),
        Colonne("departement_origine", "departement", requise=False),
        Colonne("nombre", "entier", obligatoire=True, maximum=NOMBRE_MAX),
    ),
    "demandes": (
        Colonne("id_demande", "identifiant", obligatoire=True, unique=True),
        Colonne("date", "date", obligatoire=True),
        Colonne("type_demandeur", "vocabulaire", obligatoire=True, vocabulaire="type_demandeur"),
        Colonne("code_commune", "commune", requise=False),
        Colonne("siren_epci", "siren", requise=False),
        Colonne("departement", "departement", requise=False),
        Colonne("thematique", "vocabulaire", obligatoire=True, vocabulaire="thematique"),
        Colonne("objet", "texte", requise=False),
    ),
}
# Colonnes lues mais jamais copiées dans une sortie, ni citées dans un message.
COLONNES_PRIVEES = {"demandes": ("objet",)}
# Colonnes de texte où un retour à la ligne (entre guillemets) est permis.
COLONNES_TEXTE_LIBRE = {
    table: tuple(c.nom for c in colonnes if c.format == "texte" and c.nom != "id_lieu")
    for table, colonnes in CONTRAT.items()
}


def colonne(table: str, nom: str) -> Colonne:
    """La colonne ``nom`` de ``table`` dans le contrat."""
    return next(c for c in CONTRAT[table] if c.nom == nom)
