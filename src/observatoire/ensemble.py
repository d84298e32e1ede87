"""L'année préparée une fois : lue, validée, rattachée, puis confiée à chaque rapport.

``Ensemble.preparer`` lit la configuration du centre, le référentiel, l'année et la précédente
si elle existe ; ``pour(departement)`` en donne la part qu'un rapport de département lit ;
``ecrire`` et ``lire`` la font passer du lot aux notebooks par des fichiers hors de l'arbre
publié (le référentiel n'y est écrit qu'une fois).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from . import activite as paquet_activite
from .activite.centre import Centre, refuser_hors_du_centre, trouver_centre
from .activite.donnees import Activite, annees_disponibles, chemin_donnees_annee
from .commun.codes import SYNTHESE, normaliser_territoire
from .commun.erreurs import ErreurParametre
from .commun.fichiers import chemin_affichable, dossier_referentiel_par_defaut
from .commun.parametres import Parametres
from .commun.typographie import accord
from .indicateurs.couverture import membres_adherents, restreindre
from .jointures import ActiviteSituee, situer_activite
from .referentiel.chargement import Referentiel, charger_referentiel

__all__ = ["FICHIER_REFERENTIEL", "Decoupage", "Ensemble"]

FICHIER_REFERENTIEL = "referentiel.pkl"
_VERSION = 1


@dataclass(frozen=True)
class Ensemble:
    """Ce qu'un rapport lit : paramètres, centre, référentiel, activité de l'année (et de la
    précédente), rattachées.

    Attributes
    ----------
    parametres : Parametres
        Paramètres du calcul (les départements du centre si aucun n'était demandé).
    centre : Centre
        Le centre (``observatoire.toml``), ou un centre sans nom couvrant le référentiel.
    referentiel : Referentiel
        Le référentiel du territoire du centre.
    activite : Activite
        Les données de l'année, validées.
    situee : ActiviteSituee
        L'activité rattachée aux QPV et aux territoires.
    precedente : ActiviteSituee, optional
        L'année précédente rattachée, si ses données sont là.
    source_precedente : str, optional
        D'où vient l'année précédente (chemin affichable).
    territoire : str
        ``synthese`` : l'activité entière ; un département : la part qu'il lit (``pour``).
    """

    parametres: Parametres
    centre: Centre
    referentiel: Referentiel
    activite: Activite
    situee: ActiviteSituee
    precedente: ActiviteSituee | None = None
    source_precedente: str | None = None
    territoire: str = SYNTHESE
    _decoupages: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def preparer(cls, parametres: Parametres) -> Ensemble:
        """Lit, valide et rattache une fois l'année (et la précédente si présente).

        Raises
        ------
        ErreurParametre
            Année absente des données (le message dit les années trouvées), département hors
            du centre, adhérent inconnu, référentiel qui ne couvre pas le centre.
        ErreurDonnees
            Données invalides (mode strict).
        """
        referentiel = charger_referentiel(None, parametres.chemin_referentiel)
        centre = trouver_centre(parametres.chemin_donnees) or Centre(
            "", "", referentiel.departements_demandes
        )
        parametres = _territoire_du_centre(parametres, centre, referentiel)
        chemin = chemin_donnees_annee(parametres.chemin_donnees, parametres.annee)
        if chemin is None:
            raise ErreurParametre(_message_annee_absente(parametres))
        activite = paquet_activite.lire_activite(
            chemin, annee=parametres.annee, tolerant=parametres.tolerant, referentiel=referentiel
        )
        situee = situer_activite(activite, referentiel, parametres.distance_proximite_m)
        precedente, source_precedente = None, None
        chemin_precedent = chemin_donnees_annee(parametres.chemin_donnees, parametres.annee - 1)
        if chemin_precedent is not None and chemin_precedent != chemin:
            anterieure = paquet_activite.lire_activite(
                chemin_precedent, annee=parametres.annee - 1, tolerant=True, referentiel=referentiel
            )
            precedente = situer_activite(anterieure, referentiel, parametres.distance_proximite_m)
            source_precedente = chemin_affichable(chemin_precedent)
        return cls(parametres, centre, referentiel, activite, situee, precedente, source_precedente)

    def decoupage(self, quelle: str = "situee") -> Decoupage:
        """Le découpage par département de l'activité (``situee``) ou de la précédente, calculé
        une fois et gardé (il voyage avec l'ensemble de la synthèse)."""
        if quelle not in self._decoupages:
            activite = self.situee if quelle == "situee" else self.precedente
            if activite is None:
                raise ValueError("pas d'année précédente")
            self._decoupages[quelle] = Decoupage(activite, self.referentiel, self.centre)
        return self._decoupages[quelle]

    def pour(self, territoire: str) -> Ensemble:
        """La part de l'ensemble qu'un rapport lit : tout pour la synthèse ; pour un département,
        les seules participations qui le concernent (mêmes chiffres, voir ``Decoupage``)."""
        code = normaliser_territoire(territoire)
        if code == SYNTHESE or self.territoire == code:
            return self
        situee = self.decoupage("situee").pour(self.situee, self.referentiel, code)
        precedente = (
            self.decoupage("precedente").pour(self.precedente, self.referentiel, code)
            if self.precedente is not None
            else None
        )
        return replace(
            self,
            activite=situee.activite,
            situee=situee,
            precedente=precedente,
            territoire=code,
            _decoupages={},
        )

    def ecrire(self, dossier: str | Path, territoires: list[str] | tuple[str, ...]) -> dict[str, Path]:
        """Écrit l'ensemble de chaque territoire pour que son notebook le relise sans recalcul.

        Le référentiel est écrit une fois (``referentiel.pkl``) ; chaque territoire reçoit son
        fichier (``<territoire>.pkl``).

        Returns
        -------
        dict
            Le fichier de chaque territoire, à passer en paramètre ``ensemble`` de son notebook.
        """
        dossier = Path(dossier)
        _ecrire_pickle(self.referentiel, dossier / FICHIER_REFERENTIEL)
        if self.precedente is not None:
            self.decoupage("precedente")
        self.decoupage("situee")
        fichiers = {}
        for territoire in territoires:
            part = self.pour(territoire)
            champs = {nom: getattr(part, nom) for nom in part.__dataclass_fields__ if nom != "referentiel"}
            contenu = {"version": _VERSION, "referentiel": FICHIER_REFERENTIEL, "champs": champs}
            fichiers[territoire] = _ecrire_pickle(contenu, dossier / f"{territoire}.pkl")
        return fichiers

    @classmethod
    def lire(cls, chemin: str | Path) -> Ensemble:
        """Relit un ensemble écrit par ``ecrire`` (et son référentiel, posé à côté).

        Raises
        ------
        ErreurParametre
            Fichier d'une autre version de l'observatoire, ou qui n'est pas un ensemble.
        """
        chemin = Path(chemin)
        with open(chemin, "rb") as flux:
            contenu = pickle.load(flux)  # noqa: S301 - fichier écrit par le lot, hors de l'arbre publié
        if not isinstance(contenu, dict) or contenu.get("version") != _VERSION:
            raise ErreurParametre(
                f"{chemin.name} n'est pas un ensemble préparé par ce lot : relancez « observatoire rapports »."
            )
        with open(chemin.parent / contenu["referentiel"], "rb") as flux:
            referentiel = pickle.load(flux)  # noqa: S301 - même origine
        return cls(referentiel=referentiel, **contenu["champs"])

    @property
    def dossier_referentiel(self) -> Path:
        """Le dossier du référentiel installé que l'ensemble a lu."""
        return self.parametres.chemin_referentiel or dossier_referentiel_par_defaut()

    @cached_property
    def annees_lues(self) -> tuple[int, ...]:
        """L'année du rapport et, si elle est lue, la précédente."""
        return (self.parametres.annee,) + (
            (self.parametres.annee - 1,) if self.precedente is not None else ()
        )


def _message_annee_absente(parametres: Parametres) -> str:
    trouvees = annees_disponibles(parametres.chemin_donnees)
    ou = chemin_affichable(parametres.chemin_donnees)
    if trouvees:
        return (
            f"Aucune donnée pour {parametres.annee} dans {ou}. Années trouvées : "
            f"{', '.join(map(str, trouvees))}. Donnez l'une d'elles (--annee), ou déposez les données de "
            f"{parametres.annee} dans {parametres.annee}/ (dossier de CSV) ou activite_{parametres.annee}.xlsx."
        )
    return (
        f"Aucune donnée d'activité dans {ou} : attendu un dossier {parametres.annee}/ (quatre CSV) ou un "
        f"classeur activite_{parametres.annee}.xlsx."
    )


def _territoire_du_centre(parametres: Parametres, centre: Centre, referentiel: Referentiel) -> Parametres:
    """Les départements à produire : ceux demandés, sinon tout le territoire du centre."""
    installes = referentiel.departements_demandes
    hors_referentiel = [c for c in centre.departements if c not in installes]
    if hors_referentiel:
        raise ErreurParametre(
            f"Le centre ({centre.fichier}) couvre {', '.join(centre.departements)} mais le référentiel "
            f"installé ne contient que {', '.join(installes)}. Installez celui du centre : "
            "« observatoire referentiel installer --depuis ../shared/reference --donnees DOSSIER »."
        )
    refuser_hors_du_centre(parametres.departements, centre)
    inconnus = membres_adherents(referentiel, centre.adherents).query("type == ''")["code"].tolist()
    if inconnus:
        raise ErreurParametre(
            f"{centre.fichier} : {accord(len(inconnus), 'adhérent inconnu', 'adhérents inconnus')} : {', '.join(inconnus)} "
            "(ni code INSEE de commune "
            f"du COG {referentiel.millesime_cog}, ni SIREN d'EPCI ou d'EPT). Corrigez la liste « adherents »."
        )
    return parametres if parametres.departements else parametres.avec(departements=centre.departements)


def _ecrire_pickle(objet, chemin: Path) -> Path:
    with open(chemin, "wb") as flux:
        pickle.dump(objet, flux, protocol=pickle.HIGHEST_PROTOCOL)
    return chemin


class Decoupage:
    """Découpe une activité par département : les seules participations qu'un rapport de
    département lit, calculées pour tous les départements à partir d'un seul passage.

    Un rapport de département lit les participations à ses séances (colonne ``departement``)
    et celles qui viennent de ses communes ou des communes de ses adhérents (couverture des
    communes en politique de la ville, adhérents atteints) ; séances, demandes et paires QPV
    restent entières (une séance voisine peut atteindre un de ses QPV). Les deux tables de
    participations (validée et rattachée) sont réduites aux mêmes lignes, dans leur ordre.

    Parameters
    ----------
    situee : ActiviteSituee
        L'activité entière.
    referentiel : Referentiel
        Pour les communes de chaque département.
    centre : Centre, optional
        Pour les communes de ses adhérents.
    """

    def __init__(self, situee: ActiviteSituee, referentiel: Referentiel, centre: Centre | None):
        participations = situee.participations
        if len(situee.activite.participations) != len(participations):
            raise RuntimeError("participations validées et rattachées désalignées")  # garde-fou interne
        self.adherents = list(membres_adherents(referentiel, centre.adherents if centre else ())["communes"])
        self.par_departement = participations.groupby("departement", sort=False).indices
        self.par_commune = participations.groupby("code_commune_origine", sort=False).indices

    def pour(self, situee: ActiviteSituee, referentiel: Referentiel, departement: str) -> ActiviteSituee:
        """L'activité d'un département : toutes ses séances, ses seules participations utiles."""
        communes = set(restreindre(referentiel.communes_france, "insee_dep", departement)["insee_com"])
        for membres in self.adherents:
            if communes.intersection(membres):
                communes.update(membres)
        morceaux = [self.par_departement.get(departement, np.empty(0, dtype=np.intp))]
        morceaux += [self.par_commune[c] for c in communes if c in self.par_commune]
        gardees = np.unique(np.concatenate(morceaux))
        activite = replace(situee.activite, participations=situee.activite.participations.iloc[gardees])
        return replace(situee, activite=activite, participations=situee.participations.iloc[gardees])
