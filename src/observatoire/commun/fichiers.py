"""Outils de fichiers partagés par les modules : racine du projet, empreintes, écritures sûres.

Un seul endroit pour : trouver la racine du projet, calculer un sha256, écrire un fichier de
façon atomique (fichier temporaire créé en ``O_EXCL`` à côté, jamais à un nom fixe, puis
``os.replace``), remplacer un dossier d'un coup, donner des droits lisibles par tous
(0644/0755 sous le umask), écrire un CSV pour Excel sans formule exécutable, et afficher un
chemin sans dévoiler la machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from .erreurs import ErreurParametre

__all__ = [
    "classeur_reproductible",
    "MARQUEUR",
    "marquer_dossier",
    "usage_du_dossier",
    "appliquer_droits",
    "chemin_affichable",
    "chemin_pour_message",
    "ecrire_atomique",
    "ecrire_csv",
    "neutraliser_formules",
    "dossier_referentiel_par_defaut",
    "racine_projet",
    "remplacer_dossier",
    "sha256_fichier",
    "version_observatoire",
]

DEBUTS_DE_FORMULE = ("=", "+", "-", "@", "\t", "\r")


def racine_projet() -> Path:
    """Dossier du projet (celui qui contient ``pyproject.toml`` et ``src/observatoire``).

    Cherché depuis le paquet installé en mode éditable, puis depuis le répertoire courant ;
    à défaut (paquet installé ailleurs, lancé hors d'un projet), le répertoire courant.
    """
    return _depot_du_paquet() or _projet_depuis(Path.cwd()) or Path.cwd()


def dossier_referentiel_par_defaut() -> Path:
    """Dossier où le référentiel est installé.

    ``$OBSERVATOIRE_REFERENTIEL`` s'il est défini, sinon ``data/reference`` du projet
    (``racine_projet``).
    """
    if os.environ.get("OBSERVATOIRE_REFERENTIEL"):
        return Path(os.environ["OBSERVATOIRE_REFERENTIEL"]).expanduser().resolve()
    return racine_projet() / "data" / "reference"


def _projet_depuis(depart: Path) -> Path | None:
    for dossier in (depart, *depart.parents):
        if (dossier / "pyproject.toml").is_file() and (dossier / "src" / "observatoire").is_dir():
            return dossier
    return None


@lru_cache(maxsize=1)
def _depot_du_paquet() -> Path | None:
    """Le dépôt d'où le paquet est importé (installation éditable), sinon ``None``."""
    return _projet_depuis(Path(__file__).resolve().parent)


def chemin_affichable(chemin: str | Path) -> str:
    """Chemin à publier : relatif au projet s'il y est, sinon le seul nom du fichier ou dossier.

    Aucun chemin absolu de la machine (nom d'utilisateur, dossier temporaire) ne sort ainsi dans
    un fichier partagé.
    """
    chemin = Path(chemin)
    try:
        return chemin.resolve().relative_to(racine_projet()).as_posix()
    except ValueError:
        return chemin.name


def chemin_pour_message(chemin: str | Path) -> str:
    """Chemin à montrer dans un message du terminal : relatif au dossier courant s'il y est,
    sinon tel quel (absolu) — l'utilisateur doit pouvoir le retrouver."""
    chemin = Path(chemin)
    try:
        return chemin.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(chemin.absolute())


def sha256_fichier(chemin: str | Path) -> str:
    """Empreinte sha256 d'un fichier, lue par blocs."""
    empreinte = hashlib.sha256()
    with open(chemin, "rb") as flux:
        for bloc in iter(lambda: flux.read(1 << 20), b""):
            empreinte.update(bloc)
    return empreinte.hexdigest()


def _umask() -> int:
    masque = os.umask(0o022)
    os.umask(masque)
    return masque


def ecrire_atomique(chemin: str | Path, contenu: bytes) -> Path:
    """Écrit ``contenu`` dans ``chemin`` d'un coup, droits 0644 (sous le umask).

    Le fichier temporaire est créé par ``tempfile`` (``O_EXCL``, nom aléatoire) dans le même
    dossier : un lien symbolique posé à l'avance n'est jamais suivi.
    """
    chemin = Path(chemin)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    descripteur, temporaire = tempfile.mkstemp(prefix=f".{chemin.name}.", suffix=".tmp", dir=chemin.parent)
    try:
        with os.fdopen(descripteur, "wb") as flux:
            flux.write(contenu)
        os.chmod(temporaire, 0o666 & ~_umask())
        os.replace(temporaire, chemin)
    except BaseException:
        Path(temporaire).unlink(missing_ok=True)
        raise
    return chemin


def neutraliser_formules(table: pd.DataFrame) -> pd.DataFrame:
    """Copie où toute cellule texte qu'Excel lirait comme une formule est préfixée de ``'``.

    Règle OWASP (injection CSV) : cellules commençant par ``=``, ``+``, ``-``, ``@``,
    tabulation ou retour chariot ; les nombres (``-3``, ``+4,5``) restent des nombres.
    """
    copie = table.copy()
    for colonne in copie.columns:
        if copie[colonne].dtype != object and not isinstance(copie[colonne].dtype, pd.StringDtype):
            continue
        valeurs = copie[colonne]
        texte = valeurs.astype("string")
        suspect = texte.str.startswith(DEBUTS_DE_FORMULE).fillna(False)
        nombre = pd.to_numeric(texte.str.replace(",", ".", regex=False).str.strip(), errors="coerce").notna()
        a_neutraliser = suspect & ~nombre
        if a_neutraliser.any():
            copie[colonne] = valeurs.where(~a_neutraliser, "'" + texte)
    return copie


def ecrire_csv(table: pd.DataFrame, chemin: str | Path, **options) -> Path:
    """CSV pour Excel : UTF-8 avec BOM, séparateur ``;``, formules neutralisées, écrit d'un coup."""
    texte = neutraliser_formules(table).to_csv(sep=";", index=False, **options)
    return ecrire_atomique(chemin, texte.encode("utf-8-sig"))


def appliquer_droits(dossier: str | Path) -> None:
    """Dossiers 0755 et fichiers 0644 (sous le umask) dans tout l'arbre : lisible par tous.

    ``tempfile.mkdtemp`` crée ses dossiers en 0700 ; publiés tels quels, ils donnent des liens
    morts à tout autre utilisateur (serveur web, archive décompressée ailleurs).
    """
    masque = _umask()
    racine = Path(dossier)
    os.chmod(racine, 0o777 & ~masque)
    for parent, dossiers, fichiers in os.walk(racine):
        for nom in dossiers:
            os.chmod(Path(parent) / nom, 0o777 & ~masque)
        for nom in fichiers:
            os.chmod(Path(parent) / nom, 0o666 & ~masque)


MARQUEUR = ".observatoire"


def marquer_dossier(dossier: str | Path, usage: str) -> Path:
    """Écrit le marqueur d'un dossier créé par l'outil (``annee``, ``fiches``, ``referentiel``,
    ``demo``) : seul un dossier marqué pour cet usage peut être remplacé."""
    contenu = json.dumps({"cree_par": "observatoire", "usage": usage}, ensure_ascii=False) + "\n"
    return ecrire_atomique(Path(dossier) / MARQUEUR, contenu.encode("utf-8"))


def usage_du_dossier(dossier: str | Path) -> str | None:
    """L'usage inscrit dans le marqueur d'un dossier créé par l'outil, sinon ``None``."""
    chemin = Path(dossier) / MARQUEUR
    try:
        contenu = json.loads(chemin.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        contenu.get("usage")
        if isinstance(contenu, dict) and contenu.get("cree_par") == "observatoire"
        else None
    )


def remplacer_dossier(nouveau: Path, cible: Path, usage: str) -> None:
    """Met ``nouveau`` à la place de ``cible`` : deux renommages, l'ancien effacé ensuite.

    ``cible`` n'est remplacée que si elle n'existe pas, est vide, ou porte le marqueur de
    ``usage`` (``marquer_dossier``) : un dossier que l'outil n'a pas créé n'est jamais effacé.
    ``nouveau`` reçoit ce marqueur.

    Raises
    ------
    ErreurParametre
        ``cible`` existe, n'est pas vide et n'a pas été créée par l'outil pour cet usage.
    """
    if cible.is_symlink() or (cible.exists() and not cible.is_dir()):
        raise ErreurParametre(f"{chemin_pour_message(cible)} n'est pas un dossier : rien n'a été remplacé.")
    if cible.is_dir() and any(cible.iterdir()) and usage_du_dossier(cible) != usage:
        raise ErreurParametre(
            f"Le dossier {chemin_pour_message(cible)} existe et n'a pas été créé par l'observatoire "
            f"(pas de marqueur {MARQUEUR}) : il n'est jamais remplacé. Choisissez un dossier vide ou "
            "nouveau, ou videz celui-ci vous-même."
        )
    marquer_dossier(nouveau, usage)
    ancien = None
    if cible.exists():
        ancien = Path(tempfile.mkdtemp(prefix=f".ancien-{cible.name}-", dir=cible.parent))
        os.replace(cible, ancien / cible.name)
    os.replace(nouveau, cible)
    if ancien is not None:
        shutil.rmtree(ancien, ignore_errors=True)


@lru_cache(maxsize=1)
def version_observatoire() -> str:
    """Version du paquet (métadonnées d'installation) et commit git s'il est connu."""
    try:
        version = metadata.version("observatoire")
    except metadata.PackageNotFoundError:
        version = "inconnue"
    depot = _depot_du_paquet()
    if depot is None:  # paquet installé : pas de dépôt à interroger
        return version
    try:
        commit = subprocess.run(
            ["git", "-C", str(depot), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "inconnu"
    return f"{version}, commit {commit}"


def classeur_reproductible(octets: bytes) -> bytes:
    """Un classeur ``.xlsx`` aux mêmes octets pour le même contenu : openpyxl date le fichier et
    chaque membre de l'archive de l'heure courante, ramenées ici à une date fixe."""
    entree = io.BytesIO(octets)
    sortie = io.BytesIO()
    with zipfile.ZipFile(entree) as archive, zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as neuve:
        for info in archive.infolist():
            donnees = archive.read(info.filename)
            if info.filename == "docProps/core.xml":
                donnees = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-01-01T00:00:00Z", donnees)
            membre = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            membre.compress_type = zipfile.ZIP_DEFLATED
            neuve.writestr(membre, donnees)
    return sortie.getvalue()
