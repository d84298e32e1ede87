"""Export des notebooks exécutés : notebook publiable, page HTML, PDF A4.

- ``normaliser_notebook`` rend le notebook exécuté reproductible et sans trace de la machine :
  identifiants de cellules stables, horodatages de papermill retirés, chemins absolus des
  paramètres injectés remplacés par leur forme publiable.
- ``exporter_html`` produit la page (modèle Jinja2 avec échappement automatique) sans code.
- ``exporter_pdf`` imprime la page en PDF A4 avec Chromium sans interface, déjà requis par le
  test dans un vrai navigateur : le rendu est celui que voit le lecteur (mêmes polices, mêmes
  tableaux, la carte statique à la place de la carte interactive). WeasyPrint aurait demandé
  Pango et ses polices et ne rend pas le même CSS ; sans Chromium, le PDF n'est pas produit
  et l'index le dit.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .gabarits import rendre_page

__all__ = [
    "ETIQUETTE_MASQUEE",
    "chromium_disponible",
    "exporter_html",
    "exporter_pdf",
    "normaliser_notebook",
]

ETIQUETTE_MASQUEE = "masquer-export"
EXECUTABLES_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DELAI_PDF_S = 120


def normaliser_notebook(chemin: str | Path, remplacements: dict[str, str] | None = None) -> Path:
    """Rend un notebook exécuté reproductible et publiable, en place.

    Parameters
    ----------
    chemin : str or Path
        Notebook exécuté par papermill.
    remplacements : dict, optional
        Texte à remplacer dans les sources des cellules (chemin absolu → forme publiable).

    Returns
    -------
    Path
        Le même chemin.
    """
    import nbformat

    carnet = nbformat.read(str(chemin), as_version=4)
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
        for ancien, nouveau in (remplacements or {}).items():
            cellule["source"] = cellule["source"].replace(ancien, nouveau)
        for sortie in cellule.get("outputs", []):
            sortie.get("metadata", {}).pop("papermill", None)
    nbformat.write(carnet, str(chemin))
    return Path(chemin)


def exporter_html(notebook: str | Path, chemin_html: str | Path) -> Path:
    """Exporte un notebook exécuté en page HTML autonome, sans code, ``lang="fr"``.

    Les cellules étiquetées ``masquer-export`` et les sorties d'erreur standard sont retirées ;
    le titre de la page est celui du premier ``<h1>``.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    carnet = nbformat.read(str(notebook), as_version=4)
    for cellule in carnet.cells:
        if cellule.get("cell_type") == "code":
            cellule["outputs"] = [
                o
                for o in cellule.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    configuration = Config()
    configuration.TagRemovePreprocessor.enabled = True
    configuration.TagRemovePreprocessor.remove_cell_tags = {ETIQUETTE_MASQUEE}
    exportateur = HTMLExporter(config=configuration, template_name="basic")
    exportateur.exclude_input = True
    exportateur.exclude_input_prompt = True
    exportateur.exclude_output_prompt = True
    corps, _ = exportateur.from_notebook_node(carnet)
    titre = re.search(r"<h1[^>]*>(.*?)</h1>", corps, re.S)
    texte_titre = html.unescape(re.sub(r"<[^>]+>", "", titre[1]).strip()) if titre else "Rapport"
    chemin = Path(chemin_html)
    chemin.write_text(rendre_page(texte_titre, corps), encoding="utf-8")
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


def exporter_pdf(chemin_html: str | Path, chemin_pdf: str | Path) -> Path:
    """Imprime la page en PDF A4 avec Chromium sans interface, hors réseau.

    Raises
    ------
    RuntimeError
        Si Chromium est absent ou échoue (message en français, sortie de Chromium abrégée).
    """
    executable = chromium_disponible()
    if executable is None:
        raise RuntimeError(
            "Chromium est introuvable : le PDF n'est pas produit. Installez le paquet Debian "
            "« chromium » (ou indiquez son chemin dans OBSERVATOIRE_CHROMIUM)."
        )
    chemin_pdf = Path(chemin_pdf)
    chemin_html = Path(chemin_html)
    # Chromium change chaque lien en adresse absolue (file:///…/95/carte.html) : une trace de la
    # machine, et un lien mort dans un PDF envoyé par courriel. La page imprimée n'a pas de liens.
    sans_liens = re.sub(r'(<a\b[^>]*?)\s+href="[^"]*"', r"\1", chemin_html.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="observatoire-chromium-") as profil:
        imprimee = Path(tempfile.mkstemp(prefix=".impression-", suffix=".html", dir=chemin_html.parent)[1])
        imprimee.write_text(sans_liens, encoding="utf-8")
        commande = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            f"--user-data-dir={profil}",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            f"--print-to-pdf={chemin_pdf}",
            imprimee.resolve().as_uri(),
        ]
        try:
            resultat = subprocess.run(commande, capture_output=True, text=True, timeout=DELAI_PDF_S)
        except subprocess.TimeoutExpired as erreur:
            raise RuntimeError(f"Chromium n'a pas produit le PDF en {DELAI_PDF_S} s.") from erreur
        finally:
            imprimee.unlink(missing_ok=True)
    if resultat.returncode != 0 or not chemin_pdf.is_file() or chemin_pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium n'a pas produit le PDF : {resultat.stderr.strip()[-300:]}")
    return chemin_pdf
