"""Les exports d'un rapport exécuté : notebook publiable, page HTML, PDF A4, classeur Excel.

``EXPORTEURS`` est le registre : chaque format dit son fichier, son nom dans l'index, s'il est
toujours produit, s'il est possible sur cette machine et comment le produire. Le lot, l'index,
``execution.json`` et l'option ``--formats`` le lisent ; ajouter un format, c'est une entrée ici.

- ``normaliser_notebook`` rend le notebook exécuté reproductible et sans trace de la machine ;
- ``exporter_html`` produit la page (gabarit Jinja2, échappement automatique) sans code ;
- ``exporter_pdf`` l'imprime en A4 avec Chromium sans interface (déjà requis par les tests dans
  un vrai navigateur ; un seul Chromium par lot, ``impression.Imprimante``) : même rendu que
  l'écran, feuille de style d'impression (titre courant, numéros de page, blocs dépliés) ;
  WeasyPrint aurait demandé Pango et ne rend pas le même CSS ;
- le classeur (``indicateurs.xlsx``) est écrit depuis ``indicateurs.csv`` (``classeur``).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup, Tag
from nbconvert import HTMLExporter
from traitlets.config import Config

from ..commun.erreurs import ErreurParametre
from ..commun.typographie import accord
from ..presentation.gabarits import rendre_page
from .classeur import ecrire_classeur
from .impression import Imprimante

__all__ = [
    "ETIQUETTE_MASQUEE",
    "EXPORTEURS",
    "Contexte",
    "Exporteur",
    "chromium_disponible",
    "exporter_html",
    "exporter_pdf",
    "formats_demandes",
    "normaliser_notebook",
]

ETIQUETTE_MASQUEE = "masquer-export"
EXECUTABLES_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_STYLE_DES_SECTIONS = re.compile(r'<style class="obs-style">.*?</style>', re.S)


@dataclass(frozen=True)
class Contexte:
    """Ce qu'un exporteur reçoit : le dossier du territoire et de quoi titrer ses pages."""

    dossier: Path
    entete: str
    navigation: tuple[tuple[str, str], ...]
    imprimante: Imprimante | None = None


@dataclass(frozen=True)
class Exporteur:
    """Un format de publication.

    Attributes
    ----------
    nom : str
        Nom du format (``--formats``).
    fichier : str
        Fichier produit dans le dossier du territoire.
    libelle : str
        Texte du lien dans l'index.
    requis : bool
        Toujours produit (la page HTML, le CSV lu par l'index) ; sinon au choix.
    produire : callable, optional
        ``produire(contexte)`` écrit le fichier ; ``None`` quand le notebook l'écrit lui-même.
    indisponible : callable
        ``indisponible()`` : pourquoi le format est impossible sur cette machine, ou ``None``.
    """

    nom: str
    fichier: str
    libelle: str
    requis: bool
    produire: Callable[[Contexte], object] | None = None
    indisponible: Callable[[], str | None] = lambda: None


def normaliser_notebook(chemin: str | Path, remplacements: dict[str, str] | None = None) -> list[str]:
    """Rend un notebook exécuté reproductible et publiable, en place.

    Les sorties de flux (``stdout``, ``stderr`` : avertissements d'une bibliothèque, messages du
    noyau) ne sont pas le rapport, dont chaque section est un affichage : elles sont retirées du
    notebook publié et rendues à l'appelant, qui les écrit dans le journal d'exécution.

    Parameters
    ----------
    chemin : str or Path
        Notebook exécuté par papermill.
    remplacements : dict, optional
        Texte à remplacer dans les sources des cellules (chemin absolu → forme publiable).

    Returns
    -------
    list of str
        Les sorties de flux retirées, chacune « cellule N (stdout) : texte ».
    """
    carnet = nbformat.read(str(chemin), as_version=4)
    ecartees: list[str] = []
    carnet.metadata.pop("papermill", None)
    executees = 0
    for rang, cellule in enumerate(carnet.cells, start=1):
        cellule["id"] = f"cellule-{rang:03d}"
        if cellule.get("execution_count") is not None:
            # Numérotées 1, 2, 3… : le noyau du lot a pu servir à un autre notebook avant.
            executees += 1
            cellule["execution_count"] = executees
            for sortie in cellule.get("outputs", []):
                if "execution_count" in sortie:
                    sortie["execution_count"] = executees
        cellule.metadata.pop("papermill", None)
        cellule.metadata.pop("execution", None)
        if cellule.get("cell_type") == "code":
            ecartees += _flux_ecartes(cellule, rang)
        for ancien, nouveau in (remplacements or {}).items():
            cellule["source"] = cellule["source"].replace(ancien, nouveau)
        for sortie in cellule.get("outputs", []):
            sortie.get("metadata", {}).pop("papermill", None)
    nbformat.write(carnet, str(chemin))
    return ecartees


def _flux_ecartes(cellule, rang: int) -> list[str]:
    """Retire d'une cellule ses sorties de flux ; les rend en texte."""
    flux = [o for o in cellule.get("outputs", []) if o.get("output_type") == "stream"]
    cellule["outputs"] = [o for o in cellule.get("outputs", []) if o.get("output_type") != "stream"]
    return [f"cellule {rang} ({o.get('name', 'flux')}) : {str(o.get('text', '')).strip()}" for o in flux]


def _titres_avec_leur_suite(corps: str) -> str:
    """Chaque cellule de texte (intertitre et chapeau) rejoint le premier bloc de la section qui la
    suit, dans un même ``div.obs-garder`` : imprimé, un intertitre n'est jamais seul en bas de page.

    Chromium n'applique pas ``break-after: avoid`` d'une cellule du notebook à la suivante ; un
    bloc insécable qui les contient tous deux, si."""
    page = BeautifulSoup(corps, "html.parser")
    for texte in page.select("div.text_cell"):
        suivante = texte.find_next_sibling("div")
        if suivante is None or "code_cell" not in (suivante.get("class") or []):
            continue
        zone = suivante.select_one("div.output_subarea")
        elements = [e for e in zone.children if isinstance(e, Tag)] if zone else []
        # Les paragraphes de tête (phrase de la section) et le premier bloc qui les suit.
        rang = next((i for i, e in enumerate(elements) if e.name != "p"), len(elements) - 1)
        gardes = elements[: rang + 1]
        if not gardes:
            continue
        bloc = page.new_tag("div", attrs={"class": "obs-garder obs-intertitre"})
        gardes[0].insert_before(bloc)
        bloc.append(texte.extract())
        for element in gardes:
            bloc.append(element.extract())
    return str(page)


def exporter_html(
    notebook: str | Path,
    chemin_html: str | Path,
    *,
    entete: str = "",
    navigation: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
) -> Path:
    """Exporte un notebook exécuté en page HTML autonome, sans code, ``lang="fr"``.

    Les cellules étiquetées ``masquer-export`` et les sorties d'erreur standard sont retirées ;
    la feuille de style, que chaque section porte pour JupyterLab, n'est écrite qu'une fois ;
    le titre de la page est celui du premier ``<h1>``.

    Parameters
    ----------
    notebook, chemin_html : str or Path
        Le notebook exécuté, la page à écrire.
    entete : str
        Titre courant de la page imprimée.
    navigation : sequence of (str, str)
        Liens de tête (index de l'année, fiches).
    """
    carnet = nbformat.read(str(notebook), as_version=4)
    configuration = Config()
    configuration.TagRemovePreprocessor.enabled = True
    configuration.TagRemovePreprocessor.remove_cell_tags = {ETIQUETTE_MASQUEE}
    exportateur = HTMLExporter(config=configuration, template_name="basic")
    exportateur.exclude_input = True
    exportateur.exclude_input_prompt = True
    exportateur.exclude_output_prompt = True
    corps, _ = exportateur.from_notebook_node(carnet)
    corps = _titres_avec_leur_suite(_STYLE_DES_SECTIONS.sub("", corps))
    titre = re.search(r"<h1[^>]*>(.*?)</h1>", corps, re.S)
    texte_titre = html.unescape(re.sub(r"<[^>]+>", "", titre[1]).strip()) if titre else "Rapport"
    chemin = Path(chemin_html)
    chemin.write_text(
        rendre_page(texte_titre, corps, entete=entete, navigation=list(navigation)), encoding="utf-8"
    )
    return chemin


def chromium_disponible() -> str | None:
    """Chemin de Chromium (``$OBSERVATOIRE_CHROMIUM`` ou le premier trouvé), sinon ``None``."""
    choisi = os.environ.get("OBSERVATOIRE_CHROMIUM")
    if choisi:
        return choisi if Path(choisi).is_file() else None
    for nom in EXECUTABLES_CHROMIUM:
        trouve = shutil.which(nom)
        if trouve:
            return trouve
    return None


def _sans_chromium() -> str | None:
    if chromium_disponible() is None:
        return "Chromium est introuvable sur la machine qui a fait le lot (paquet Debian « chromium »)"
    return None


def page_a_imprimer(page: str) -> str:
    """La page telle qu'imprimée : sans liens (Chromium en ferait des adresses de la machine,
    mortes dans un PDF envoyé par courriel), blocs repliés ouverts, sans la carte interactive.

    La carte interactive est masquée à l'impression (la carte statique la remplace), mais
    Chromium chargerait quand même son cadre et y exécuterait Leaflet : retirée, le PDF est le
    même, octet pour octet, pour un cinquième de calcul en moins dans Chromium.
    """
    # Le contenu d'un srcdoc est échappé (« < » y est « &lt; ») : la première balise fermante
    # qui suit est celle du cadre.
    page = re.sub(r'<iframe class="obs-carte-interactive".*?</iframe>', "", page, flags=re.S)
    page = re.sub(r'(<a\b[^>]*?)\s+href="[^"]*"', r"\1", page)
    return re.sub(r"<details(?![^>]*\bopen\b)", "<details open", page)


def exporter_pdf(
    chemin_html: str | Path, chemin_pdf: str | Path, imprimante: Imprimante | None = None
) -> Path:
    """Imprime la page en PDF A4 avec Chromium sans interface, hors réseau.

    Parameters
    ----------
    chemin_html, chemin_pdf : str or Path
        La page, le PDF à écrire.
    imprimante : Imprimante, optional
        Le Chromium du lot ; sinon un Chromium démarré pour cette page seule.

    Raises
    ------
    RuntimeError
        Si Chromium est absent ou échoue (message en français).
    """
    # Le Chromium du lot est déjà trouvé et démarré ; hors d'un lot, un Chromium pour cette page.
    chromium = contextlib.nullcontext(imprimante) if imprimante else Imprimante(_executable_chromium())
    chemin_pdf = Path(chemin_pdf)
    chemin_html = Path(chemin_html)
    imprimee = Path(tempfile.mkstemp(prefix=".impression-", suffix=".html", dir=chemin_html.parent)[1])
    try:
        imprimee.write_text(page_a_imprimer(chemin_html.read_text(encoding="utf-8")), encoding="utf-8")
        with chromium as imprimante_de_la_page:
            imprimante_de_la_page.imprimer(imprimee, chemin_pdf)
    finally:
        imprimee.unlink(missing_ok=True)
    if not chemin_pdf.is_file() or chemin_pdf.stat().st_size == 0:
        raise RuntimeError("Chromium n'a pas produit le PDF (fichier vide).")
    _imprime_reproductible(chemin_pdf)
    return chemin_pdf


# Ce qui change d'une impression à l'autre des mêmes entrées : l'heure (dictionnaire
# d'informations) et la numérotation des nœuds du DOM de Chromium, décalée d'un nœud ou deux
# selon l'ordre où il les crée, qui nomme les éléments de la structure balisée (``/ID``).
_DATES_PDF = re.compile(rb"/(?:CreationDate|ModDate) ?\(D:[0-9+\-Z']{4,30}\)")
_NOEUDS_PDF = re.compile(rb"\(node(\d{8})\)")


def _executable_chromium() -> str:
    executable = chromium_disponible()
    if executable is None:
        raise RuntimeError(
            "Chromium est introuvable : le PDF n'est pas produit. Installez le paquet Debian "
            "« chromium » (ou indiquez son chemin dans OBSERVATOIRE_CHROMIUM)."
        )
    return executable


def _imprime_reproductible(chemin_pdf: Path) -> None:
    """Rend le PDF de Chromium reproductible : mêmes entrées, mêmes octets.

    Chaque date est remplacée par autant d'espaces (blanc permis entre deux entrées d'un
    dictionnaire) ; les nœuds sont renumérotés 1, 2, 3… dans leur ordre, sur autant de
    chiffres (l'arbre des noms reste trié). Aucune longueur ne change : la table des
    références croisées reste juste.
    """
    contenu = chemin_pdf.read_bytes()
    rangs = {n: r for r, n in enumerate(sorted(set(_NOEUDS_PDF.findall(contenu))), start=1)}
    nettoye = _DATES_PDF.sub(lambda m: b" " * len(m[0]), contenu)
    nettoye = _NOEUDS_PDF.sub(lambda m: b"(node%08d)" % rangs[m[1]], nettoye)
    if nettoye != contenu:
        chemin_pdf.write_bytes(nettoye)


EXPORTEURS: dict[str, Exporteur] = {
    exporteur.nom: exporteur
    for exporteur in (
        Exporteur("html", "rapport.html", "rapport", requis=True),
        Exporteur(
            "pdf",
            "rapport.pdf",
            "PDF",
            requis=False,
            produire=lambda c: exporter_pdf(
                c.dossier / "rapport.html", c.dossier / "rapport.pdf", c.imprimante
            ),
            indisponible=_sans_chromium,
        ),
        Exporteur("carte", "carte.html", "carte", requis=True),
        Exporteur(
            "xlsx",
            "indicateurs.xlsx",
            "Excel",
            requis=False,
            produire=lambda c: ecrire_classeur(c.dossier / "indicateurs.csv", c.dossier / "indicateurs.xlsx"),
        ),
        Exporteur("csv", "indicateurs.csv", "CSV", requis=True),
    )
}


def formats_demandes(formats: list[str] | tuple[str, ...] | None, sans_pdf: bool = False) -> tuple[str, ...]:
    """Les formats d'un lot : ceux demandés (``--formats``) plus les formats requis ; tous par
    défaut ; ``--sans-pdf`` retire le PDF.

    Raises
    ------
    ErreurParametre
        Format inconnu (le message liste les formats).
    """
    demandes = list(EXPORTEURS) if not formats else [str(f).strip().lower() for f in formats]
    inconnus = [f for f in demandes if f not in EXPORTEURS]
    if inconnus:
        raise ErreurParametre(
            f"{accord(len(inconnus), 'Format inconnu', 'Formats inconnus')} : {', '.join(inconnus)}. "
            f"Formats possibles : {', '.join(EXPORTEURS)}."
        )
    if sans_pdf:
        demandes = [f for f in demandes if f != "pdf"]
    return tuple(nom for nom, e in EXPORTEURS.items() if e.requis or nom in demandes)
