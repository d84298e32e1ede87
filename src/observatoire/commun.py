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
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from .erreurs import ErreurDonnees

__all__ = [
    "appliquer_droits",
    "chemin_affichable",
    "ecrire_atomique",
    "ecrire_csv",
    "lire_table",
    "lire_texte",
    "neutraliser_formules",
    "racine_projet",
    "remplacer_dossier",
    "separateur_csv",
    "sha256_fichier",
    "version_observatoire",
]

DEBUTS_DE_FORMULE = ("=", "+", "-", "@", "\t", "\r")
_MULTIOCTET_UTF8 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def racine_projet() -> Path:
    """Dossier du projet (celui qui contient ``pyproject.toml`` et ``src/observatoire``).

    Cherché depuis le paquet installé en mode éditable, puis depuis le répertoire courant ;
    à défaut, le répertoire courant.
    """
    for depart in (Path(__file__).resolve().parent, Path.cwd()):
        for dossier in (depart, *depart.parents):
            if (dossier / "pyproject.toml").is_file() and (dossier / "src" / "observatoire").is_dir():
                return dossier
    return Path.cwd()


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


def remplacer_dossier(nouveau: Path, cible: Path) -> None:
    """Met ``nouveau`` à la place de ``cible`` : deux renommages, l'ancien effacé ensuite."""
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
    try:
        commit = subprocess.run(
            ["git", "-C", str(racine_projet()), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "inconnu"
    return f"{version}, commit {commit}"


def lire_texte(fichier: str | Path) -> str:
    """Texte d'un export : UTF-8 (avec ou sans BOM), sinon cp1252 si tout le fichier l'est.

    Jamais de remplacement : un fichier UTF-8 qui contient un octet invalide n'est pas relu en
    cp1252 (ce qui changerait chaque « é » en « Ã© ») ; l'erreur dit la ligne et l'octet fautifs.

    Raises
    ------
    ErreurDonnees
        Encodages mélangés ou octet invalide, avec le fichier, la ligne et l'octet.
    """
    fichier = Path(fichier)
    octets = fichier.read_bytes()
    try:
        return octets.decode("utf-8-sig")
    except UnicodeDecodeError as erreur:
        if _MULTIOCTET_UTF8.search(octets) or octets.startswith(b"\xef\xbb\xbf"):
            raise _erreur_encodage(fichier, octets, erreur.start, "UTF-8") from None
    try:
        return octets.decode("cp1252")
    except UnicodeDecodeError as erreur:
        raise _erreur_encodage(fichier, octets, erreur.start, "cp1252 (Windows)") from None


def _erreur_encodage(fichier: Path, octets: bytes, position: int, encodage: str) -> ErreurDonnees:
    ligne = octets.count(b"\n", 0, position) + 1
    colonne = position - (octets.rfind(b"\n", 0, position) + 1) + 1
    return ErreurDonnees(
        f"{fichier.name}, ligne {ligne}, octet {colonne} (0x{octets[position]:02X}) : caractère invalide en "
        f"{encodage}. Le fichier mélange des encodages : réenregistrez-le en « CSV UTF-8 » depuis Excel ou "
        "LibreOffice, puis vérifiez les accents de cette ligne."
    )


def separateur_csv(texte: str) -> str:
    """Le séparateur d'un CSV d'après sa première ligne non vide : ``;``, ``,`` ou tabulation."""
    premiere = next((ligne for ligne in texte.splitlines() if ligne.strip()), "")
    return max((";", ",", "\t"), key=premiere.count)


def lire_table(fichier: str | Path) -> pd.DataFrame:
    """Une table annexe (registre, cache) : décodage strict, séparateur détecté, tout en texte."""
    texte = lire_texte(fichier)
    return pd.read_csv(io.StringIO(texte), sep=separateur_csv(texte), dtype=str, keep_default_na=False)
