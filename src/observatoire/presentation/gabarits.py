"""Gabarits Jinja2 (``modeles/``) avec échappement automatique, la feuille de style unique
(``style.css``) et ``Section``, ce qu'affichent les notebooks.

Une seule source pour les pages, l'index, les fiches et les sections des rapports : toute valeur
venue des données est échappée, sauf un ``markupsafe.Markup`` construit avec échappement (un
lien, une image déjà encodée, un fragment rendu par un autre gabarit). Tout texte de page passe
par ``typographier_html`` (typographie française) une fois, à la fin.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ..commun.typographie import typographier, typographier_html

__all__ = [
    "NAVIGATION_TERRITOIRE",
    "Section",
    "chaine_css",
    "feuille_de_style",
    "macro",
    "paragraphe",
    "rendre",
    "rendre_page",
]

# Les liens de tête des pages d'un territoire (rapport, carte seule), vus de son dossier.
NAVIGATION_TERRITOIRE = (
    ("../index.html", "← Tous les rapports de l'année"),
    ("../fiches/index.html", "Fiches des quartiers"),
)


@lru_cache(maxsize=1)
def _environnement() -> Environment:
    return Environment(
        loader=PackageLoader("observatoire.presentation", "modeles"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def feuille_de_style() -> str:
    """Le contenu de ``style.css``, la seule feuille de style du paquet."""
    return files("observatoire.presentation").joinpath("style.css").read_text(encoding="utf-8")


def chaine_css(texte: str) -> str:
    """Un texte sûr dans une chaîne CSS (``content: "…"``) : ni guillemet, ni barre, ni balise."""
    propre = re.sub(r"[\x00-\x1f\x7f<>]", " ", str(texte)).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{propre}"'


def rendre(nom: str, **valeurs) -> Markup:
    """Fragment HTML d'un gabarit (``modeles/<nom>``) ; renvoyé en ``Markup``."""
    return Markup(_environnement().get_template(nom).render(**valeurs))


def rendre_page(
    titre: str,
    corps_html: str,
    *,
    entete: str = "",
    navigation: list[tuple[str, str]] | None = None,
) -> str:
    """Page HTML complète (``lang="fr"``) autour d'un corps déjà en HTML sûr.

    Parameters
    ----------
    titre : str
        Titre de la page (onglet).
    corps_html : str
        Le corps, HTML sûr.
    entete : str
        Titre courant de l'impression (« CRPV Provence · Var (83) · 2024 »).
    navigation : list of (str, str)
        Liens (adresse relative, texte) en tête de page : index de l'année, fiches…
    """
    page = rendre(
        "page.html.j2",
        titre=titre,
        corps=Markup(corps_html),
        style=Markup(feuille_de_style()),
        entete=Markup(chaine_css(typographier(entete))) if entete else "",
        navigation=navigation or [],
    )
    return typographier_html(str(page))


def macro(nom: str, nom_macro: str):
    """Une macro d'un gabarit (``modeles/<nom>``) : l'appeler rend un fragment échappé."""
    return getattr(_environnement().get_template(nom).module, nom_macro)


def paragraphe(texte: str, classe: str | None = None, role: str | None = None) -> str:
    """Un paragraphe ``<p>`` au texte échappé (macro ``paragraphe`` de ``modeles/rapport.html.j2``)."""
    return str(macro("rapport.html.j2", "paragraphe")(texte, classe=classe, role=role))


class Section:
    """Section de rapport affichable par Jupyter, seule dans sa cellule ou dans un rapport.

    Affichée seule (JupyterLab), elle porte la feuille de style : la carte garde sa taille et les
    chiffres clés leur mise en page. Dans une page publiée, la feuille de style n'est écrite
    qu'une fois, dans l'en-tête (l'export retire celle des sections). Sa représentation texte est
    stable (aucune adresse mémoire dans le notebook exécuté).
    """

    def __init__(self, contenu: str):
        # Texte ordinaire : concaténer un ``Markup`` à du texte l'échapperait (« <style> » visible).
        self.contenu = typographier_html(str(contenu))

    def _repr_html_(self) -> str:
        return f'<style class="obs-style">{feuille_de_style()}</style>' + self.contenu

    def __str__(self) -> str:
        return self.contenu

    def __repr__(self) -> str:
        return "Section du rapport (HTML)"
