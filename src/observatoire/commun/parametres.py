"""Paramètres d'un calcul, déclarés et validés une seule fois.

La ligne de commande, ``produire_rapports`` et ``preparer_rapport`` construisent un
``Parametres`` ; le lot le sérialise vers les notebooks (``pour_notebook``) et le manifeste
(``pour_manifeste``). Les valeurs par défaut sont ici et nulle part ailleurs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .codes import normaliser_departements
from .erreurs import ErreurParametre
from .fichiers import chemin_affichable, racine_projet

__all__ = [
    "ANNEE_PAR_DEFAUT",
    "DISTANCE_MAX_M",
    "DISTANCE_PROXIMITE_M",
    "DONNEES_PAR_DEFAUT",
    "JOBS_PAR_DEFAUT",
    "SORTIE_PAR_DEFAUT",
    "Parametres",
    "resoudre_chemin",
]

ANNEE_PAR_DEFAUT = 2023  # l'année du jeu de démonstration
DISTANCE_PROXIMITE_M = 300.0
DISTANCE_MAX_M = 5_000.0
DONNEES_PAR_DEFAUT = "data/demo"
SORTIE_PAR_DEFAUT = "reports"
JOBS_PAR_DEFAUT = 2
ANNEES_POSSIBLES = range(1990, 2101)


def resoudre_chemin(chemin: str | Path) -> Path:
    """Chemin absolu : tel quel s'il existe depuis le répertoire courant, sinon depuis le projet.

    Un notebook lancé depuis ``notebooks/``, depuis la racine ou par papermill avec ``--cwd``
    trouve ainsi ``data/demo`` sans ``../`` qui dépende de l'endroit où l'on se tient.
    """
    chemin = Path(chemin).expanduser()
    if chemin.is_absolute() or chemin.exists():
        return chemin.resolve()
    depuis_projet = racine_projet() / chemin
    return depuis_projet.resolve() if depuis_projet.exists() else chemin.resolve()


@dataclass(frozen=True)
class Parametres:
    """Paramètres d'un calcul, normalisés et validés à la construction.

    Parameters
    ----------
    annee : int
        Année des rapports (``"2023"`` accepté).
    departements : tuple of str
        Départements à produire ; ``95``, ``"095"`` et ``"95"`` donnent ``"95"`` ; une chaîne
        ``"13 83 84"`` est découpée. Vide (par défaut) : tout le territoire du centre
        (``DONNEES/observatoire.toml``, sinon le référentiel installé).
    donnees : str or Path
        Dossier de données : ``DONNEES/<annee>/`` (CSV) ou ``DONNEES/activite_<annee>.xlsx``.
    referentiel : str or Path, optional
        Dossier du référentiel installé ; vide : celui du projet.
    sortie : str or Path
        Dossier racine des rapports (``SORTIE/<annee>/``).
    tolerant : bool
        Écarter les lignes en erreur au lieu d'arrêter.
    distance_proximite_m : float
        Distance de proximité aux QPV, en mètres, finie, de 0 à 5 000.
    jobs : int
        Territoires produits en parallèle (au moins 1).

    Raises
    ------
    ErreurParametre
        Toutes les valeurs invalides, dites ensemble.
    """

    annee: int = ANNEE_PAR_DEFAUT
    departements: tuple[str, ...] = ()
    donnees: Path = field(default_factory=lambda: Path(DONNEES_PAR_DEFAUT))
    referentiel: Path | None = None
    sortie: Path = field(default_factory=lambda: Path(SORTIE_PAR_DEFAUT))
    tolerant: bool = False
    distance_proximite_m: float = DISTANCE_PROXIMITE_M
    jobs: int = JOBS_PAR_DEFAUT

    def __post_init__(self) -> None:
        erreurs: list[str] = []
        valeurs = {
            "annee": _annee(self.annee, erreurs),
            "departements": _departements(self.departements, erreurs),
            "donnees": Path(str(self.donnees)),
            "referentiel": Path(str(self.referentiel)) if self.referentiel not in (None, "") else None,
            "sortie": Path(str(self.sortie)),
            "tolerant": _booleen(self.tolerant, "tolerant", erreurs),
            "distance_proximite_m": _distance(self.distance_proximite_m, erreurs),
            "jobs": _jobs(self.jobs, erreurs),
        }
        if erreurs:
            raise ErreurParametre("Paramètres invalides :\n- " + "\n- ".join(erreurs))
        for nom, valeur in valeurs.items():
            object.__setattr__(self, nom, valeur)

    def avec(self, **changements) -> Parametres:
        """Copie avec des valeurs changées (revalidée)."""
        return replace(self, **changements)

    @property
    def chemin_donnees(self) -> Path:
        """Dossier de données, absolu (voir ``resoudre_chemin``)."""
        return resoudre_chemin(self.donnees)

    @property
    def chemin_referentiel(self) -> Path | None:
        """Dossier du référentiel, absolu, ou ``None`` pour celui du projet."""
        return resoudre_chemin(self.referentiel) if self.referentiel else None

    def pour_notebook(self) -> dict:
        """Valeurs des paramètres communs des notebooks (chemins absolus, codes en chaînes)."""
        return {
            "annee": self.annee,
            "donnees": str(self.chemin_donnees),
            "referentiel": str(self.chemin_referentiel or ""),
            "tolerant": self.tolerant,
            "distance_proximite_m": self.distance_proximite_m,
        }

    def pour_manifeste(self) -> dict:
        """Paramètres publiables : aucun chemin de la machine (relatifs au projet ou nom seul)."""
        return {
            "annee": self.annee,
            "departements": list(self.departements),
            "donnees": chemin_affichable(self.chemin_donnees),
            "referentiel": chemin_affichable(self.chemin_referentiel or "data/reference"),
            "tolerant": self.tolerant,
            "distance_proximite_m": self.distance_proximite_m,
        }


def _annee(valeur, erreurs: list[str]) -> int:
    try:
        annee = int(str(valeur).strip())
    except ValueError:
        erreurs.append(f"année illisible : {str(valeur)[:40]!r} (exemple : 2023).")
        return ANNEE_PAR_DEFAUT
    if annee not in ANNEES_POSSIBLES:
        erreurs.append(f"année hors limites : {annee} (attendue entre 1990 et 2100).")
    return annee


def _departements(valeur, erreurs: list[str]) -> tuple[str, ...]:
    if valeur in (None, "", (), []):
        return ()
    try:
        return normaliser_departements(valeur)
    except ErreurParametre as erreur:
        erreurs.append(str(erreur))
        return ()


def _booleen(valeur, nom: str, erreurs: list[str]) -> bool:
    if isinstance(valeur, bool):
        return valeur
    texte = str(valeur).strip().lower()
    if texte in ("true", "vrai", "oui", "1"):
        return True
    if texte in ("false", "faux", "non", "0", ""):
        return False
    erreurs.append(f"{nom} doit valoir oui ou non (reçu {str(valeur)[:40]!r}).")
    return False


def _distance(valeur, erreurs: list[str]) -> float:
    try:
        distance = float(str(valeur).replace(",", "."))
    except ValueError:
        erreurs.append(f"distance de proximité illisible : {str(valeur)[:40]!r} (exemple : 300).")
        return DISTANCE_PROXIMITE_M
    if not math.isfinite(distance) or not 0 <= distance <= DISTANCE_MAX_M:
        erreurs.append(
            f"distance de proximité hors limites : {valeur} (un nombre de mètres fini, de 0 à "
            f"{DISTANCE_MAX_M:.0f})."
        )
        return DISTANCE_PROXIMITE_M
    return distance


def _jobs(valeur, erreurs: list[str]) -> int:
    try:
        jobs = int(str(valeur))
    except ValueError:
        jobs = 0
    if jobs < 1:
        erreurs.append(f"--jobs doit être un entier au moins égal à 1 (reçu {str(valeur)[:20]}).")
        return 1
    return jobs
