"""Gabarits Jinja2 du paquet (``modeles/``), avec échappement automatique.

Une seule source pour les pages, l'index et les sections des rapports : toute valeur venue des
données est échappée, sauf un ``markupsafe.Markup`` construit avec échappement (un lien, une
image déjà encodée, un fragment rendu par un autre gabarit).
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["macro", "paragraphe", "rendre", "rendre_page"]


@lru_cache(maxsize=1)
def _environnement():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("observatoire", "modeles"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def rendre(nom: str, **valeurs) -> str:
    """Fragment HTML d'un gabarit (``modeles/<nom>``) ; renvoyé en ``Markup``."""
    from markupsafe import Markup

    return Markup(_environnement().get_template(nom).render(**valeurs))


def rendre_page(titre: str, corps_html: str) -> str:
    """Page HTML complète (``lang="fr"``) autour d'un corps déjà en HTML sûr."""
    from markupsafe import Markup

    return str(rendre("page.html.j2", titre=titre, corps=Markup(corps_html)))


def macro(nom: str, macro: str):
    """Une macro d'un gabarit (``modeles/<nom>``) : l'appeler rend un fragment échappé."""
    return getattr(_environnement().get_template(nom).module, macro)


def paragraphe(texte: str, classe: str | None = None, role: str | None = None) -> str:
    """Un paragraphe ``<p>`` au texte échappé (macro ``paragraphe`` de ``modeles/rapport.html.j2``)."""
    return str(macro("rapport.html.j2", "paragraphe")(texte, classe=classe, role=role))
