"""Le catalogue des indicateurs : chaque clé publique d'``indicateurs.csv``, ce qu'elle compte,
son dénominateur, sa famille (une feuille du classeur), et comment les départements
s'additionnent à la synthèse ; puis les chiffres clés (rapports, index, panneau) et les lignes
de l'évolution.

C'est la seule liste : le calcul vérifie qu'il ne produit que des clés du catalogue, le
tableau des indicateurs de ``data/README.md`` en est tiré (``tableau_markdown``, un test
vérifie qu'il est à jour), les rapports, l'index, le classeur et le panneau le lisent.

Ajouter un indicateur : une entrée ici, son calcul (``calcul.py``), son oracle
(``tests/test_oracle.py``), puis ``make documentation`` pour ``data/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CATALOGUE",
    "CHIFFRES_CLES",
    "EVOLUTION",
    "FAMILLES",
    "ChiffreCle",
    "Indicateur",
    "Reste",
    "indicateur",
    "readme_a_jour",
    "tableau_markdown",
]

# Familles, dans l'ordre des feuilles du classeur ``indicateurs.xlsx``.
FAMILLES = {
    "activite": "Activité",
    "repartitions": "Répartitions",
    "origines": "Origines",
    "lieux": "Lieux des séances",
    "couverture": "Couverture",
    "quartiers": "Quartiers",
    "adherents": "Adhérents",
    "demandes": "Demandes",
    "evolution": "Évolution",
}


@dataclass(frozen=True)
class Reste:
    """Ce que la synthèse compte en plus de la somme des départements : les lignes
    ``modalites`` de l'indicateur ``cle`` de la synthèse (``None`` : toutes celles qui ne sont
    pas un département du territoire)."""

    cle: str
    modalites: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Indicateur:
    """Une clé publique d'``indicateurs.csv``.

    Attributes
    ----------
    cle : str
        La clé (``qpv_atteints``) ; ``evolution_{…}`` et ``annee_precedente_{…}`` en portent
        plusieurs.
    famille : str
        Famille (``FAMILLES``) : la feuille du classeur.
    modalites : str
        Ce que porte la colonne ``modalite`` (texte de la documentation).
    valeur : str
        Ce que compte ``valeur``.
    denominateur : str
        Le dénominateur de ``part`` (vide : pas de part).
    unite : str
        Unité de ``valeur`` (participations, séances, QPV, habitants…).
    additif : bool
        Les départements s'additionnent à la synthèse, plus les ``restes``.
    restes : tuple of Reste
        Ce que la synthèse compte hors des départements (distanciel, hors territoire…).
    """

    cle: str
    famille: str
    modalites: str
    valeur: str
    denominateur: str = ""
    unite: str = ""
    additif: bool = False
    restes: tuple[Reste, ...] = ()


_TOUTES = "toutes les participations"
_HORS = Reste("participations_par_departement_origine", ("autre",))

CATALOGUE: tuple[Indicateur, ...] = (
    # ------------------------------------------------------------------ activité
    Indicateur(
        "actions",
        "activite",
        "`total`",
        "actions distinctes ayant au moins une séance dans le périmètre",
        unite="actions",
    ),
    Indicateur(
        "seances",
        "activite",
        "`total`",
        "séances tenues dans le périmètre (une séance à distance n'appartient à aucun département)",
        unite="séances",
        additif=True,
        restes=(Reste("seances_par_departement", ("hors_territoire", "distanciel")),),
    ),
    Indicateur(
        "demi_journees",
        "activite",
        "`total`",
        "demi-journées ou soirées",
        unite="demi-journées",
        additif=True,
        restes=(Reste("demi_journees_par_departement", ("hors_territoire", "distanciel")),),
    ),
    Indicateur(
        "participations",
        "activite",
        "`total`",
        "participations cumulées (présences)",
        unite="participations",
        additif=True,
        restes=(_HORS,),
    ),
    Indicateur(
        "seances_par_departement",
        "activite",
        "département du lieu ; restes `hors_territoire` (lieu hors du territoire du centre), `distanciel`",
        "séances",
        "toutes les séances",
        "séances",
    ),
    Indicateur(
        "demi_journees_par_departement",
        "activite",
        "département du lieu ; restes `hors_territoire`, `distanciel`",
        "demi-journées",
        "toutes les demi-journées",
        "demi-journées",
    ),
    # ------------------------------------------------------------------ répartitions
    Indicateur(
        "participations_par_public",
        "repartitions",
        "code `public`",
        "participations",
        _TOUTES,
        "participations",
    ),
    Indicateur(
        "participations_par_axe", "repartitions", "code `axe`", "participations", _TOUTES, "participations"
    ),
    Indicateur(
        "participations_par_thematique",
        "repartitions",
        "code `thematique`",
        "participations",
        _TOUTES,
        "participations",
    ),
    Indicateur(
        "participations_par_mois",
        "repartitions",
        "`AAAA-MM` : les douze mois de l'année du rapport (zéro compris), plus tout mois hors de l'année qui a des "
        "participations dans l'ensemble de l'activité ; la même liste pour chaque territoire",
        "participations",
        _TOUTES,
        "participations",
    ),
    # ------------------------------------------------------------------ origines
    Indicateur(
        "participations_par_departement_origine",
        "origines",
        "code du département, ou `autre` (synthèse)",
        "participations",
        "toutes les participations du périmètre",
        "participations",
    ),
    Indicateur(
        "participations_par_intercommunalite",
        "origines",
        "SIREN de l'EPCI ou code de l'EPT (Métropole du Grand Paris) d'origine ; restes `hors_territoire`, "
        "`non_renseigne` (origine connue au seul département)",
        "participations",
        _TOUTES,
        "participations",
    ),
    Indicateur(
        "participations_par_commune_origine",
        "origines",
        "code INSEE de la commune d'origine ; restes `hors_territoire`, `non_renseigne`",
        "participations",
        _TOUTES,
        "participations",
    ),
    Indicateur(
        "participations_communes_pv",
        "origines",
        "`total`",
        "participations venant d'une commune de France qui accueille au moins un QPV 2024 (table nationale du "
        "référentiel : Paris ou Toulon comptent aussi)",
        _TOUTES,
        "participations",
        additif=True,
        restes=(Reste("participations_hors_territoire_communes_pv", ("total",)),),
    ),
    Indicateur(
        "participations_hors_territoire_communes_pv",
        "origines",
        "`total` (synthèse)",
        "participations venues d'une commune PV hors du territoire",
        "les participations venues de l'extérieur du territoire",
        "participations",
    ),
    Indicateur(
        "participations_hors_territoire_par_departement",
        "origines",
        "code du département d'origine hors du territoire (libellé « Paris (75) ») ; reste `departement_inconnu` "
        "(`autre` sans commune)",
        "participations",
        "les participations venues de l'extérieur du territoire (synthèse)",
        "participations",
    ),
    Indicateur(
        "participations_hors_territoire_par_region",
        "origines",
        "code INSEE de la région ; reste `departement_inconnu`",
        "participations",
        "idem",
        "participations",
    ),
    # ------------------------------------------------------------------ lieux
    Indicateur(
        "seances_par_precision",
        "lieux",
        "`coordonnees`, `commune` (sans coordonnées), `distanciel`",
        "séances",
        "toutes les séances",
        "séances",
    ),
    Indicateur(
        "seances_par_placement",
        "lieux",
        "`coordonnees` (saisies), `numero`, `rue`, `lieu-dit` (registre géocodé), `commune` (centre ou à "
        "vérifier), `non_placee`, `distanciel`",
        "séances",
        "toutes les séances",
        "séances",
    ),
    Indicateur(
        "seances_par_situation_qpv",
        "lieux",
        "`dans_qpv`, `proximite_qpv`, `hors_qpv` ; puis `non_situee` et `distanciel`, comptées à part (part vide)",
        "séances",
        "les séances **placées** (avec coordonnées)",
        "séances",
    ),
    # ------------------------------------------------------------------ couverture
    Indicateur("qpv", "couverture", "`total`", "QPV 2024 du périmètre", unite="QPV", additif=True),
    Indicateur(
        "qpv_seance_dedans",
        "couverture",
        "`total`",
        "QPV ayant accueilli au moins une séance (point dans le périmètre ou sur sa limite)",
        "les QPV",
        "QPV",
        True,
    ),
    Indicateur(
        "qpv_seance_proximite",
        "couverture",
        "`total`",
        "QPV sans séance dedans mais à moins de D mètres (300 par défaut, borne comprise) d'au moins une séance, "
        "**y compris une séance située dans un QPV voisin**",
        "les QPV",
        "QPV",
        True,
    ),
    Indicateur("qpv_atteints", "couverture", "`total`", "les deux précédents", "les QPV", "QPV", True),
    Indicateur(
        "qpv_non_atteints",
        "couverture",
        "`total`, puis `code_qp` de chaque QPV non atteint (libellé : son nom)",
        "`total` : le nombre de QPV non atteints ; 0 pour chaque QPV",
        "`total` : les QPV",
        "QPV",
        True,
    ),
    Indicateur(
        "qpv_nouveaux",
        "couverture",
        "`total`",
        "QPV 2024 de statut NOUVEAU dans la table de correspondance de l'ANCT (jamais d'après la lettre du code)",
        unite="QPV",
        additif=True,
    ),
    Indicateur(
        "qpv_nouveaux_atteints",
        "couverture",
        "`total`",
        "QPV nouveaux atteints",
        "les QPV nouveaux",
        "QPV",
        True,
    ),
    Indicateur(
        "population_qpv",
        "couverture",
        "`total`",
        "population municipale des QPV du périmètre (INSEE, RP 2020 ; absente si le référentiel n'a pas la table "
        "de contexte)",
        unite="habitants",
        additif=True,
    ),
    Indicateur(
        "population_qpv_atteints",
        "couverture",
        "`total`",
        "population municipale des QPV atteints",
        "la population des QPV du périmètre",
        "habitants",
        True,
    ),
    Indicateur(
        "population_qpv_non_atteints",
        "couverture",
        "`total`, puis `code_qp` de chaque QPV non atteint, le plus peuplé d'abord (libellé : son nom)",
        "population municipale (la somme pour `total`)",
        "`total` : la population des QPV du périmètre",
        "habitants",
        True,
    ),
    Indicateur(
        "seances_qpv",
        "couverture",
        "`total`",
        "séances tenues dans un QPV du périmètre ou à moins de D mètres de l'un d'eux (chacune une fois)",
        unite="séances",
    ),
    Indicateur(
        "seances_qpv_pour_10000_habitants",
        "couverture",
        "`total`",
        "taux (décimal) : `seances_qpv` pour 10 000 habitants des QPV du périmètre",
        unite="séances pour 10 000 habitants",
    ),
    Indicateur(
        "communes_pv",
        "couverture",
        "`total`",
        "communes du périmètre accueillant au moins un QPV 2024",
        unite="communes",
        additif=True,
    ),
    Indicateur(
        "communes_pv_atteintes",
        "couverture",
        "`total`",
        "communes PV d'où vient au moins une participation",
        "les communes PV",
        "communes",
        True,
    ),
    Indicateur(
        "communes_pv_non_atteintes",
        "couverture",
        "`total`, puis code INSEE de chaque commune (libellé : nom)",
        "`total` : le nombre de communes PV non atteintes ; 0 pour chaque commune",
        "`total` : les communes PV",
        "communes",
        True,
    ),
    # ------------------------------------------------------------------ adhérents
    Indicateur(
        "adherents",
        "adherents",
        "`total`",
        "adhérents de `observatoire.toml` ayant une commune dans le département (tous pour la synthèse)",
        unite="adhérents",
    ),
    Indicateur(
        "adherents_atteints",
        "adherents",
        "`total`",
        "adhérents atteints : au moins une participation venue de leurs communes ou une séance tenue chez eux",
        "les adhérents",
        "adhérents",
    ),
    Indicateur(
        "adherents_non_atteints",
        "adherents",
        "`total`, puis code de chaque adhérent non atteint (libellé : nom)",
        "`total` : le nombre d'adhérents non atteints ; 0 pour chaque adhérent",
        "`total` : les adhérents",
        "adhérents",
    ),
    # ------------------------------------------------------------------ demandes
    Indicateur(
        "demandes",
        "demandes",
        "`total`",
        "demandes info-doc",
        unite="demandes",
        additif=True,
        restes=(Reste("demandes_par_origine", ("hors_territoire", "inconnue")),),
    ),
    Indicateur(
        "demandes_par_type_demandeur",
        "demandes",
        "code `type_demandeur`",
        "demandes",
        "toutes les demandes",
        "demandes",
    ),
    Indicateur(
        "demandes_par_thematique",
        "demandes",
        "code `thematique`",
        "demandes",
        "toutes les demandes",
        "demandes",
    ),
    Indicateur(
        "demandes_par_intercommunalite",
        "demandes",
        "SIREN de l'EPCI ou code de l'EPT ; restes `hors_territoire`, `non_renseigne`",
        "demandes",
        "les demandes **d'origine connue**",
        "demandes",
    ),
    Indicateur(
        "demandes_par_origine",
        "demandes",
        "`territoire`, `hors_territoire`, `inconnue`",
        "demandes",
        "toutes les demandes",
        "demandes",
    ),
    Indicateur(
        "demandes_hors_territoire",
        "demandes",
        "`total`",
        "demandes venant de l'extérieur du territoire",
        "les demandes d'origine connue",
        "demandes",
    ),
    Indicateur(
        "demandes_hors_territoire_par_departement",
        "demandes",
        "idem participations",
        "demandes",
        "les demandes d'origine connue venues de l'extérieur du territoire (synthèse)",
        "demandes",
    ),
    Indicateur("demandes_hors_territoire_par_region", "demandes", "idem", "demandes", "idem", "demandes"),
    # ------------------------------------------------------------------ évolution
    Indicateur(
        "annee_precedente_{participations,demandes,demi_journees,actions}",
        "evolution",
        "`total`",
        "valeur de l'année précédente",
    ),
    Indicateur(
        "evolution_{participations,demandes,demi_journees,actions}",
        "evolution",
        "`total`",
        "différence",
        "variation relative (0,65 = +65 %)",
    ),
    Indicateur(
        "annee_precedente_demandes_par_type_demandeur",
        "evolution",
        "code",
        "demandes de l'année précédente",
        "ces demandes",
        "demandes",
    ),
)

# Lignes du tableau d'évolution : (clé, libellé) ; la part des institutions suit.
EVOLUTION = (
    ("participations", "Participations"),
    ("actions", "Actions"),
    ("demi_journees", "Demi-journées"),
    ("demandes", "Demandes info-doc"),
)


@dataclass(frozen=True)
class ChiffreCle:
    """Un chiffre clé : une carte des rapports, une colonne de l'index, une carte du panneau.

    Attributes
    ----------
    cle : str
        Nom du chiffre (colonne de l'index).
    libelle : str
        Ce qui est écrit sous le chiffre.
    indicateur : str
        La clé dont il lit la valeur.
    sur : str, optional
        Clé du dénominateur : le chiffre s'écrit « n / N ».
    part : bool
        Écrire aussi la part (« 55 % »).
    territoires : str
        ``tous``, ``synthese`` ou ``departements``.
    entete : str
        Titre de sa colonne dans l'index.
    index, panneau : bool
        Montré dans l'index, dans le panneau d'exploration.
    modalite : str
        Modalité lue (``total`` d'ordinaire).
    """

    cle: str
    libelle: str
    indicateur: str
    sur: str | None = None
    part: bool = False
    territoires: str = "tous"
    entete: str = ""
    index: bool = True
    panneau: bool = True
    modalite: str = "total"


CHIFFRES_CLES: tuple[ChiffreCle, ...] = (
    ChiffreCle("participations", "participations cumulées", "participations", entete="Participations"),
    ChiffreCle(
        "hors_territoire",
        "des participations viennent d'autres territoires",
        "participations_par_departement_origine",
        part=True,
        territoires="synthese",
        index=False,
        panneau=False,
        modalite="autre",
    ),
    ChiffreCle("actions", "actions", "actions", entete="Actions", panneau=False),
    ChiffreCle("seances", "séances", "seances", entete="Séances", index=False),
    ChiffreCle(
        "demi_journees", "demi-journées ou soirées", "demi_journees", entete="Demi-journées", panneau=False
    ),
    ChiffreCle(
        "qpv_atteints",
        "QPV 2024 atteints (séance dedans ou à proximité)",
        "qpv_atteints",
        sur="qpv",
        part=True,
        entete="QPV atteints",
    ),
    ChiffreCle(
        "population_qpv_atteints",
        "habitants des QPV vivent dans un quartier atteint",
        "population_qpv_atteints",
        sur="population_qpv",
        part=True,
        entete="Habitants des QPV atteints",
    ),
    ChiffreCle(
        "communes_pv_atteintes",
        "communes en politique de la ville d'où viennent des participations",
        "communes_pv_atteintes",
        sur="communes_pv",
        entete="Communes PV atteintes",
        panneau=False,
    ),
    ChiffreCle("demandes", "demandes info-doc", "demandes", entete="Demandes info-doc", panneau=False),
)

_PAR_CLE = {i.cle: i for i in CATALOGUE}


def indicateur(cle: str) -> Indicateur:
    """L'entrée du catalogue d'une clé (``evolution_participations`` compris).

    Raises
    ------
    KeyError
        Clé absente du catalogue.
    """
    if cle in _PAR_CLE:
        return _PAR_CLE[cle]
    for entree in CATALOGUE:
        if "{" in entree.cle:
            debut, reste = entree.cle.split("{", 1)
            suffixes = reste.rstrip("}").split(",")
            if cle.startswith(debut) and cle[len(debut) :] in suffixes:
                return entree
    raise KeyError(cle)


def tableau_markdown() -> str:
    """Le tableau des indicateurs de ``data/README.md`` (entre ses marqueurs ``catalogue``)."""
    lignes = ["| indicateur | modalite | valeur | dénominateur de `part` |", "| --- | --- | --- | --- |"]
    for entree in CATALOGUE:
        lignes.append(f"| `{entree.cle}` | {entree.modalites} | {entree.valeur} | {entree.denominateur} |")
    return "\n".join(lignes)


DEBUT_README = "<!-- catalogue:debut (tiré de observatoire.indicateurs.catalogue : make documentation) -->"
FIN_README = "<!-- catalogue:fin -->"


def readme_a_jour(texte: str) -> str:
    """Le texte de ``data/README.md`` avec le tableau des indicateurs du catalogue entre ses marqueurs."""
    debut, fin = texte.index(DEBUT_README) + len(DEBUT_README), texte.index(FIN_README)
    return texte[:debut] + "\n" + tableau_markdown() + "\n" + texte[fin:]
