"""Le centre de ressources : son nom, ses départements et ses adhérents (``observatoire.toml``).

Le fichier se trouve dans le dossier de données du centre (``DONNEES/observatoire.toml``, à
côté des dossiers d'année) : un dossier de données porte ainsi son territoire. Il est lu avec
``tomllib`` (bibliothèque standard) et validé ici, toutes les erreurs dites ensemble.

Exemple ::

    [centre]
    nom = "Centre de ressources politique de la ville de Provence"
    libelle = "CRPV Provence"          # court, pour les titres
    departements = ["13", "83", "84"]
    adherents = ["13055", "200054807"]  # codes INSEE de communes ou SIREN d'EPCI / EPT
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..commun.codes import normaliser_departements
from ..commun.erreurs import ErreurDonnees, ErreurParametre, message_systeme
from ..commun.fichiers import (
    chemin_affichable,
    chemin_pour_message,
    dossier_referentiel_par_defaut,
    ecrire_atomique,
)
from ..commun.garde import entrees_des_donnees, refuser_dans_un_dossier_protege, verifier_sorties
from ..commun.lecture import caracteres_interdits, decoder
from ..commun.typographie import accord

__all__ = [
    "NOM_FICHIER_CENTRE",
    "Centre",
    "creer_centre",
    "lire_centre",
    "refuser_hors_du_centre",
    "texte_du_centre",
    "trouver_centre",
]

NOM_FICHIER_CENTRE = "observatoire.toml"
_CLES = {"nom", "libelle", "departements", "adherents"}
_MOTIF_ADHERENT = re.compile(r"^(?:\d[\dAB]\d{3}|\d{9})$")


@dataclass(frozen=True)
class Centre:
    """Un centre de ressources politique de la ville.

    Attributes
    ----------
    nom : str
        Nom complet (page d'index, méthode).
    libelle : str
        Nom court pour les titres.
    departements : tuple of str
        Départements de son territoire.
    adherents : tuple of str
        Communes (code INSEE) et intercommunalités (SIREN d'EPCI ou d'EPT) adhérentes.
    fichier : str
        D'où vient la configuration (chemin affichable, jamais absolu).
    """

    nom: str
    libelle: str
    departements: tuple[str, ...]
    adherents: tuple[str, ...] = ()
    fichier: str = ""


def trouver_centre(donnees: str | Path) -> Centre | None:
    """Le centre décrit dans ``DONNEES/observatoire.toml``, ou ``None`` s'il n'y en a pas.

    Parameters
    ----------
    donnees : str or Path
        Dossier de données du centre.

    Returns
    -------
    Centre or None
    """
    chemin = Path(donnees) / NOM_FICHIER_CENTRE
    return lire_centre(chemin) if chemin.is_file() else None


def refuser_hors_du_centre(departements: Iterable[str], centre: Centre) -> None:
    """Refuse des départements demandés qui ne sont pas du territoire du centre.

    Parameters
    ----------
    departements : iterable of str
        Codes demandés, normalisés (``Parametres.departements``).
    centre : Centre
        Le centre (``observatoire.toml``, ou le territoire du référentiel installé).

    Raises
    ------
    ErreurParametre
        Un ou plusieurs départements hors du territoire : le message les dit tous, et les codes
        disponibles.
    """
    inconnus = [c for c in departements if c not in centre.departements]
    if inconnus:
        raise ErreurParametre(
            f"{accord(len(inconnus), 'Département', 'Départements')} hors du territoire du centre : "
            f"{', '.join(inconnus)}. Codes disponibles : {', '.join(centre.departements)}."
        )


def lire_centre(chemin: str | Path) -> Centre:
    """Lit et valide un fichier ``observatoire.toml``.

    Parameters
    ----------
    chemin : str or Path
        Le fichier.

    Returns
    -------
    Centre

    Raises
    ------
    ErreurParametre
        Fichier illisible (avec la ligne et la colonne) ou valeurs invalides, toutes dites.
    """
    chemin = Path(chemin)
    affichable = chemin_affichable(chemin)
    try:
        texte = decoder(chemin.read_bytes(), affichable)
    except ErreurDonnees as erreur:
        raise ErreurParametre(str(erreur)) from None
    except OSError as erreur:
        raise ErreurParametre(message_systeme(erreur)) from None
    interdits = caracteres_interdits(texte)
    if interdits:
        ligne, colonne, code = interdits[0]
        raise ErreurParametre(
            f"{affichable}, ligne {ligne}, caractère {colonne} : caractère de contrôle {code} interdit "
            f"({len(interdits)} en tout). Retapez la ligne dans un éditeur de texte."
        )
    try:
        contenu = tomllib.loads(texte)
    except tomllib.TOMLDecodeError as erreur:
        raise ErreurParametre(
            f"{affichable} : syntaxe TOML invalide ({_position_toml(erreur)}). Les textes s'écrivent entre "
            'guillemets droits ("…"), les listes entre crochets. Modèle : « observatoire centre --donnees '
            "DOSSIER --nom … --departements … »."
        ) from None
    return _valider(contenu, affichable)


def _position_toml(erreur: tomllib.TOMLDecodeError) -> str:
    """« ligne 3, colonne 9 » (tomllib écrit « line 3, column 9 » en anglais)."""
    trouve = re.search(r"line (\d+), column (\d+)", str(erreur))
    return f"ligne {trouve[1]}, colonne {trouve[2]}" if trouve else "position inconnue"


def _valider(contenu: dict, affichable: str) -> Centre:
    erreurs: list[str] = []
    section = contenu.get("centre")
    if not isinstance(section, dict):
        raise ErreurParametre(
            f"{affichable} : section [centre] absente (nom, libelle, departements, adherents)."
        )
    for cle in sorted(set(section) - _CLES):
        proche = difflib.get_close_matches(cle, sorted(_CLES), n=1)
        conseil = f" Vouliez-vous dire « {proche[0]} » ?" if proche else ""
        erreurs.append(f"clé inconnue « {cle} » dans [centre].{conseil}")
    nom = section.get("nom", "")
    if not isinstance(nom, str) or not nom.strip():
        erreurs.append("« nom » manquant : le nom du centre, entre guillemets.")
        nom = ""
    libelle = section.get("libelle", nom)
    if not isinstance(libelle, str):
        erreurs.append("« libelle » doit être un texte entre guillemets.")
        libelle = str(nom)
    departements: tuple[str, ...] = ()
    brut = section.get("departements")
    if not isinstance(brut, list) or not brut:
        erreurs.append('« departements » manquant : une liste comme ["13", "83", "84"].')
    else:
        try:
            departements = normaliser_departements([str(d) for d in brut])
        except ErreurParametre as erreur:
            erreurs.append(f"« departements » : {erreur}")
    adherents = _adherents(section.get("adherents", []), erreurs)
    if erreurs:
        raise ErreurParametre(f"{affichable} : configuration du centre invalide :\n- " + "\n- ".join(erreurs))
    return Centre(nom.strip(), (libelle or nom).strip(), departements, adherents, affichable)


def _adherents(brut, erreurs: list[str]) -> tuple[str, ...]:
    if not isinstance(brut, list):
        erreurs.append('« adherents » doit être une liste : ["95018", "200058485"].')
        return ()
    codes: list[str] = []
    for position, valeur in enumerate(brut, start=1):
        code = str(valeur).strip().upper()
        if isinstance(valeur, int) and len(code) == 4:
            code = "0" + code
        if not _MOTIF_ADHERENT.match(code):
            erreurs.append(
                f"adhérent n° {position} « {str(valeur)[:20]} » : ni code INSEE de commune (5 caractères, "
                "entre guillemets) ni SIREN d'EPCI (9 chiffres)."
            )
        elif code not in codes:
            codes.append(code)
    return tuple(codes)


def creer_centre(
    donnees: str | Path,
    nom: str,
    departements: str | Iterable[object],
    *,
    libelle: str | None = None,
    adherents: Iterable[str] = (),
) -> Path:
    """Écrit ``DONNEES/observatoire.toml`` (commenté), relu et validé ; refuse d'écraser.

    Parameters
    ----------
    donnees : str or Path
        Dossier de données du centre (créé s'il manque).
    nom : str
        Nom du centre.
    departements : str or iterable
        Départements de son territoire.
    libelle : str, optional
        Nom court pour les titres (par défaut, le nom).
    adherents : iterable of str
        Codes INSEE de communes ou SIREN d'EPCI adhérents.

    Returns
    -------
    Path
        Le fichier écrit.
    """
    chemin = Path(donnees) / NOM_FICHIER_CENTRE
    if chemin.exists():
        raise ErreurParametre(
            f"{chemin_pour_message(chemin)} existe déjà : modifiez-le, ou supprimez-le pour le recréer."
        )
    refuser_dans_un_dossier_protege(donnees, "la configuration d'un centre")
    if (Path(donnees) / "actions.csv").is_file():
        raise ErreurParametre(
            f"{chemin_pour_message(donnees)} est le dossier d'une année (il contient actions.csv) : donnez le "
            "dossier de données du centre, celui qui contient les dossiers d'année (par exemple data/centre)."
        )
    verifier_sorties(
        [("la configuration", chemin)],
        entrees_des_donnees(donnees, dossier_entier=False, referentiel=dossier_referentiel_par_defaut()),
    )
    texte = texte_du_centre(nom, departements, libelle=libelle, adherents=adherents)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    ecrire_atomique(chemin, texte.encode("utf-8"))
    return chemin


def texte_du_centre(
    nom: str,
    departements: str | Iterable[object],
    *,
    libelle: str | None = None,
    adherents: Iterable[str] = (),
) -> str:
    """Le texte commenté d'``observatoire.toml``, relu et validé (``creer_centre`` l'écrit).

    Raises
    ------
    ErreurParametre
        Une valeur invalide (toutes dites ensemble).
    """
    texte = _texte_configuration(nom, normaliser_departements(departements), libelle or nom, tuple(adherents))
    _valider(tomllib.loads(texte), NOM_FICHIER_CENTRE)
    return texte


def _chaine_toml(texte: str) -> str:
    echappe = texte.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", " ", echappe) + '"'


def _texte_configuration(nom: str, departements, libelle: str, adherents) -> str:
    liste = ", ".join(_chaine_toml(d) for d in departements)
    membres = ", ".join(_chaine_toml(a) for a in adherents)
    return (
        "# Configuration du centre de ressources (lue par l'observatoire ; voir README.md).\n"
        "[centre]\n"
        f"nom = {_chaine_toml(nom)}\n"
        "# Nom court, pour les titres des rapports.\n"
        f"libelle = {_chaine_toml(libelle)}\n"
        "# Départements du territoire : codes INSEE entre guillemets.\n"
        f"departements = [{liste}]\n"
        "# Adhérents : codes INSEE de communes (« 95018 ») ou SIREN d'EPCI / EPT (« 200058485 »).\n"
        f"adherents = [{membres}]\n"
    )
