"""La garde des entrées : aucune commande n'écrit dans, ne remplace ni n'efface une entrée.

Chaque commande qui écrit (``rapports``, ``fiches``, ``demo``, ``valider --sortie``,
``geocoder``, ``centre``, ``referentiel installer``) déclare ses entrées (dossier de données,
dossiers d'année, classeurs, registre des lieux, cache du géocodage, configuration du centre,
référentiel, miroir) et ses sorties ; ``verifier_sorties`` refuse, avec un message français,
toute sortie qui **est** une entrée, qui en **contient** une ou qui se trouve **dans** l'une
d'elles. Les chemins sont comparés résolus (liens symboliques suivis, ``..`` retirés).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .erreurs import ErreurParametre
from .fichiers import chemin_pour_message, usage_du_dossier

__all__ = ["Entree", "entrees_des_donnees", "refuser_dans_un_dossier_protege", "verifier_sorties"]

NOMS_ANNEXES = {
    "lieux.csv": "registre des lieux",
    "geocodage_cache.csv": "cache du géocodage",
    "observatoire.toml": "fichier de configuration du centre",
    "demonstration.json": "marqueur de démonstration",
}


@dataclass(frozen=True)
class Entree:
    """Un chemin que la commande lit et ne doit jamais modifier, et ce qu'il est."""

    chemin: Path
    nature: str

    @property
    def resolu(self) -> Path:
        """Le chemin absolu, liens suivis."""
        return _resoudre(self.chemin)


def _resoudre(chemin: Path) -> Path:
    return Path(os.path.realpath(Path(chemin).expanduser()))


def entrees_des_donnees(
    donnees: str | Path,
    annees: Iterable[int] = (),
    *,
    dossier_entier: bool = True,
    referentiel: str | Path | None = None,
) -> list[Entree]:
    """Les entrées d'un dossier de données, d'un dossier d'année ou d'un classeur.

    Un dossier de données (qui contient les années) est une entrée tout entier
    (``dossier_entier``), avec chaque dossier d'année et classeur, le registre, le cache et la
    configuration ; un dossier d'année ou un classeur donné seul est une entrée avec les fichiers
    annexes posés à côté (registre, cache, configuration), pas le dossier qui les contient.

    Parameters
    ----------
    donnees : str or Path
        Dossier de données du centre, dossier d'une année ou classeur.
    annees : iterable of int
        Années lues (l'année et la précédente) ; toutes celles présentes sinon.
    dossier_entier : bool
        Compter le dossier de données entier comme une entrée (``rapports``, ``fiches``,
        ``valider``, ``demo``) ; ``geocoder`` et ``centre``, qui écrivent dans le dossier de
        données ses fichiers annexes, ne protègent que les années et les classeurs.
    referentiel : str or Path, optional
        Dossier du référentiel installé, lu par la commande.
    """
    racine = Path(donnees)
    entrees = []
    if racine.is_file() or (racine / "actions.csv").is_file():
        nature = "classeur d'activité" if racine.is_file() else "dossier de l'année"
        entrees.append(Entree(racine, nature))
        entrees += _annexes(racine.parent) if dossier_entier else []
    elif racine.is_dir() or dossier_entier:
        if dossier_entier:
            entrees.append(Entree(racine, "dossier de données"))
        entrees += _annees(racine, set(annees), tout=not dossier_entier or not annees)
        entrees += _annexes(racine) if dossier_entier else []
    if referentiel is not None:
        entrees.append(Entree(Path(referentiel), "référentiel installé"))
    return entrees


def _annees(racine: Path, annees: set[int], tout: bool) -> list[Entree]:
    if not racine.is_dir():
        return []
    trouvees = []
    for chemin in sorted(racine.iterdir()):
        annee = chemin.name.removeprefix("activite_").removesuffix(".xlsx")
        if annee.isdigit() and len(annee) == 4 and (tout or int(annee) in annees):
            nature = "dossier de l'année" if chemin.is_dir() else "classeur d'activité"
            trouvees.append(Entree(chemin, f"{nature} {annee}"))
    return trouvees


def _annexes(dossier: Path) -> list[Entree]:
    return [Entree(dossier / nom, nature) for nom, nature in NOMS_ANNEXES.items() if (dossier / nom).exists()]


def verifier_sorties(sorties: Iterable[tuple[str, str | Path]], entrees: Iterable[Entree]) -> None:
    """Refuse toute sortie qui est une entrée, en contient une ou se trouve dans l'une d'elles.

    Parameters
    ----------
    sorties : iterable of (str, path)
        Ce que la commande écrit, nommé pour le message (``"--sortie"``, ``"le registre"``).
    entrees : iterable of Entree
        Ce que la commande lit.

    Raises
    ------
    ErreurParametre
        Tous les conflits ensemble, chacun avec la sortie, l'entrée et la correction.
    """
    entrees = list(entrees)
    conflits = []
    for nom, sortie in sorties:
        cible = _resoudre(Path(sortie))
        for entree in entrees:
            lue = entree.resolu
            if cible == lue:
                relation = "est"
            elif cible in lue.parents:
                relation = "contient"
            elif lue in cible.parents:
                relation = "se trouve dans"
            else:
                continue
            conflits.append(f"{nom} ({sortie}) {relation} {_article(entree.nature)} ({entree.chemin})")
    if conflits:
        raise ErreurParametre(
            "Sortie refusée : l'observatoire n'écrit jamais dans ses entrées ni autour d'elles.\n- "
            + "\n- ".join(conflits)
            + "\nChoisissez un dossier de sortie à part (par exemple reports/), hors du dossier de données et "
            "du référentiel."
        )


def _article(nature: str) -> str:
    return "le " + nature


USAGES = {
    "referentiel": "le référentiel installé",
    "annee": "une année publiée",
    "fiches": "les fiches QPV",
    "demo": "une démonstration",
}


def refuser_dans_un_dossier_protege(
    chemin: str | Path, ce_qui_s_ecrit: str, permis: str | None = None
) -> None:
    """Refuse d'écrire ``ce_qui_s_ecrit`` dans ``chemin`` s'il est (ou se trouve dans) un dossier
    créé par l'outil (référentiel, année publiée, fiches ; sauf l'usage ``permis``) ou dans le
    dossier d'une année (qui contient ``actions.csv``).

    Raises
    ------
    ErreurParametre
        Le dossier protégé, nommé, et la correction.
    """
    lieu = _resoudre(Path(chemin))
    for dossier in (lieu, *lieu.parents):
        usage = usage_du_dossier(dossier)
        if usage is not None and usage != permis:
            raise ErreurParametre(
                f"{chemin_pour_message(chemin)} est dans un dossier de l'outil ({USAGES.get(usage, usage)}, "
                f"{chemin_pour_message(dossier)}) : {ce_qui_s_ecrit} ne s'y écrit pas. Choisissez un autre dossier."
            )
        if dossier != lieu and (dossier / "actions.csv").is_file():
            raise ErreurParametre(
                f"{chemin_pour_message(chemin)} est dans le dossier d'une année ({chemin_pour_message(dossier)}) : "
                f"{ce_qui_s_ecrit} ne s'y écrit pas. Choisissez un dossier hors des données d'une année."
            )
