"""Rapports à partager : lisibles par tous, sans chemin local, stables, sûrs dans Excel, PDF.

Chaque lot est lancé comme un utilisateur le ferait, dans un autre processus
(``python -m observatoire rapports``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from observatoire.commun.fichiers import marquer_dossier
from observatoire.publication.exports import normaliser_notebook, page_a_imprimer

from .conftest import DEMO, RACINE, copier_demo_piegee, lisible

TERRITOIRES = ["78", "92", "95", "synthese"]
STABLES = ["rapport.html", "rapport.ipynb", "carte.html", "indicateurs.csv"]


def _lancer(*arguments, attendre=True, **options):
    commande = [sys.executable, "-m", "observatoire", "rapports", *map(str, arguments)]
    if not attendre:
        return subprocess.Popen(
            commande, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options
        )
    return subprocess.run(commande, capture_output=True, text=True, timeout=900, **options)


@pytest.fixture(scope="module")
def deux_lots(lot, tmp_path_factory):
    """Deux lots sur les mêmes entrées : l'un lancé par la ligne de commande dans un processus à
    lui, l'autre (le lot partagé de la suite) produit dans le processus des tests, chacun sur sa
    copie des données et vers sa sortie."""
    racine = tmp_path_factory.mktemp("deux_lots")
    donnees = copier_demo_piegee(racine / "donnees")
    resultat = _lancer(
        "--donnees", donnees, "--sortie", racine / "reports", "--departements", "78", "92", "95", "--jobs", 2
    )
    assert resultat.returncode == 0, resultat.stderr[-3000:]
    bilan, _ = lot
    return [racine / "reports" / "2023", bilan["dossier"]], racine


@pytest.mark.lent
def test_memes_entrees_memes_octets(deux_lots):
    (un, deux), _ = deux_lots
    differents = []
    # Le PDF aussi : Chromium y inscrit l'heure d'impression, effacée après coup.
    imprimes = [f"{t}/rapport.pdf" for t in TERRITOIRES if (un / t / "rapport.pdf").is_file()]
    for nom in ["index.html", "manifest.json", "rejets.csv", *imprimes] + [
        f"{t}/{f}" for t in TERRITOIRES for f in STABLES
    ]:
        if (un / nom).read_bytes() != (deux / nom).read_bytes():
            differents.append(nom)
    assert not differents, f"fichiers qui changent d'un lot à l'autre : {differents}"
    assert (un / "execution.json").read_bytes() != b""  # la date et les durées sont à part


@pytest.mark.lent
def test_droits_lisibles_par_tous(deux_lots):
    (un, _), _ = deux_lots
    for chemin in [un, *un.rglob("*")]:
        mode = stat.S_IMODE(chemin.stat().st_mode)
        attendu = 0o755 if chemin.is_dir() else 0o644
        assert mode == attendu & ~_umask(), f"{chemin}: {oct(mode)}"


def _umask() -> int:
    masque = os.umask(0o022)
    os.umask(masque)
    return masque


@pytest.mark.lent
def test_aucun_chemin_de_la_machine(deux_lots):
    (un, _), racine = deux_lots
    interdits = [
        str(racine).encode(),
        str(RACINE).encode(),
        b".publication-",
        b".travail-",
        b"/tmp/",
        b"/root/",
    ]
    for chemin in un.rglob("*"):
        if chemin.is_file():
            octets = chemin.read_bytes()
            for motif in interdits:
                assert motif not in octets, f"{motif!r} dans {chemin.relative_to(un)}"


@pytest.mark.lent
def test_notebook_publie_sans_adresse_memoire_ni_horodatage(deux_lots):
    (un, _), _ = deux_lots
    texte = (un / "95" / "rapport.ipynb").read_text(encoding="utf-8")
    assert " at 0x" not in texte
    carnet = json.loads(texte)
    assert "start_time" not in texte and "papermill" not in carnet["metadata"]
    injectee = next(c for c in carnet["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    source = "".join(injectee["source"])
    assert 'departement = "95"' in source and 'donnees = "donnees"' in source
    assert 'ensemble = ""' in source and 'sortie = ""' in source, "rejouable seul, sans fichier du lot"


@pytest.mark.lent
def test_aucun_message_du_noyau_dans_les_rapports(deux_lots):
    """Deux noyaux en parallèle se disputaient l'historique SQLite d'IPython : « database is
    locked » s'imprimait dans la cellule en cours, donc dans un rapport sur deux lots."""
    for dossier in deux_lots[0]:
        for territoire in TERRITOIRES:
            carnet = json.loads((dossier / territoire / "rapport.ipynb").read_text(encoding="utf-8"))
            flux = [o for c in carnet["cells"] for o in c.get("outputs", []) if o["output_type"] == "stream"]
            assert not flux, (territoire, flux)
            page = (dossier / territoire / "rapport.html").read_text(encoding="utf-8")
            assert "output_stream" not in page and "History" not in page
        execution = json.loads((dossier / "execution.json").read_text(encoding="utf-8"))
        assert execution["messages_ecartes"] == {}, execution["messages_ecartes"]


def test_flux_retires_du_notebook_et_rendus(tmp_path):
    """Une sortie de flux (avertissement, message du noyau) n'est pas publiée, mais elle est
    rendue à l'appelant pour le journal, pas perdue."""
    cellule = nbformat.v4.new_code_cell("1", execution_count=4)
    cellule.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="database is locked\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=4),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: attention"),
    ]
    chemin = tmp_path / "carnet.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cellule]), chemin)
    ecartes = normaliser_notebook(chemin)
    assert ecartes == [
        "cellule 2 (stdout) : database is locked",
        "cellule 2 (stderr) : UserWarning: attention",
    ]
    relu = nbformat.read(chemin, as_version=4)
    assert [o["output_type"] for o in relu.cells[1].outputs] == ["execute_result"]


@pytest.mark.lent
def test_pdf_a4_avec_chiffres_et_carte(deux_lots):
    if not shutil.which("pdftotext") or not (deux_lots[0][0] / "95" / "rapport.pdf").exists():
        pytest.skip("pdftotext (poppler-utils) ou Chromium absent : PDF non vérifiable ici")
    (un, _), _ = deux_lots
    pdf = un / "95" / "rapport.pdf"
    infos = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(ligne.split()[-1] for ligne in infos.splitlines() if ligne.startswith("Pages:")))
    assert pages > 1
    assert "(A4)" in infos, "format A4"
    texte = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    texte = texte.replace("\u202f", " ")
    assert "Val-d'Oise (95)" in texte or "Val-d’Oise (95)" in texte
    indicateurs = (un / "95" / "indicateurs.csv").read_text(encoding="utf-8-sig")
    participations = next(
        ligne for ligne in indicateurs.splitlines() if ligne.startswith("95;participations;total")
    )
    nombre = int(float(participations.split(";")[4]))
    assert f"{nombre:,}".replace(",", " ") in texte
    assert "Quartiers prioritaires non atteints" in texte and "Méthode" in texte
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert max(int(ligne.split()[3]) for ligne in images.splitlines()[2:]) >= 900, "la carte statique"
    index = (un / "index.html").read_text(encoding="utf-8")
    assert 'href="95/rapport.pdf"' in index
    assert b"file://" not in pdf.read_bytes()
    assert "CreationDate" not in infos and b"/ModDate" not in pdf.read_bytes(), "aucune heure"
    assert subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stderr == ""


def test_page_imprimee_sans_carte_interactive_ni_liens():
    """Imprimée, la page perd la carte interactive (masquée à l'impression, la statique la
    remplace : Chromium n'a pas à y exécuter Leaflet), ses liens, et ouvre ses blocs repliés ;
    un « </iframe> » dans les données du cadre (échappé dans srcdoc) ne coupe rien d'autre."""
    page = (
        '<h2>Carte</h2><iframe class="obs-carte-interactive" style="height:620px" title="Carte" '
        'srcdoc="&lt;p&gt;&amp;lt;/iframe&amp;gt;&lt;/p&gt;&lt;script&gt;L.map()&lt;/script&gt;"></iframe>'
        '<img class="obs-carte-statique" src="data:image/png;base64,AA" alt="Carte statique">'
        '<p><a href="carte.html">Ouvrir la carte seule</a></p><details><summary>Légende</summary>x</details>'
        '<iframe class="obs-carte-interactive" src="carte.html"></iframe><h2>Couverture</h2>'
    )
    imprimee = page_a_imprimer(page)
    assert "iframe" not in imprimee and "L.map" not in imprimee
    assert imprimee == (
        '<h2>Carte</h2><img class="obs-carte-statique" src="data:image/png;base64,AA" alt="Carte statique">'
        "<p><a>Ouvrir la carte seule</a></p><details open><summary>Légende</summary>x</details>"
        "<h2>Couverture</h2>"
    )


@pytest.mark.lent
def test_page_imprimee_du_lot_garde_tout_sauf_la_carte_interactive(lot):
    """Sur une vraie page publiée : seule la carte interactive part ; titres, tableaux, images et
    carte statique restent tous."""
    bilan, _ = lot
    page = (bilan["dossier"] / "95" / "rapport.html").read_text(encoding="utf-8")
    imprimee = page_a_imprimer(page)
    assert '<iframe class="obs-carte-interactive"' in page and "<iframe" not in imprimee
    for balise in ("<h2", "<table", "<img", 'class="obs-carte-statique'):
        assert imprimee.count(balise) == page.count(balise), balise


@pytest.mark.lent
def test_deuxieme_lot_arrete_par_le_verrou(tmp_path):
    sortie = tmp_path / "reports"
    sortie.mkdir()
    verrou = sortie / ".observatoire.verrou"
    verrou.write_text(
        json.dumps({"pid": os.getpid(), "hote": os.uname().nodename, "debut": "2026-01-01T00:00:00"})
    )
    debut = time.perf_counter()
    resultat = _lancer("--donnees", DEMO, "--sortie", sortie, "--departements", "95")
    assert resultat.returncode == 2
    assert time.perf_counter() - debut < 30, "arrêt immédiat"
    assert "Un autre lot écrit déjà dans ce dossier de sortie" in resultat.stderr
    assert "Traceback" not in resultat.stderr
    assert not (sortie / "2023").exists()
    # Un verrou périmé (processus disparu) est repris, puis rendu même si le lot échoue ensuite
    # (ici sur ses données, lues après la prise du verrou). Un lot qui reprend le verrou d'un lot
    # tué et va à son terme : test_kill_9_puis_relance.
    verrou.write_text(json.dumps({"pid": 2**22 + 12345, "hote": os.uname().nodename, "debut": "2026-01-01"}))
    donnees = tmp_path / "donnees"
    shutil.copytree(DEMO / "2023", donnees / "2023")
    (donnees / "2023" / "seances.csv").write_text("id_seance;id_action\n", encoding="utf-8")
    resultat = _lancer("--donnees", donnees, "--sortie", sortie, "--departements", "95", "--sans-pdf")
    assert resultat.returncode == 1, resultat.stderr[-2000:]
    assert "Un autre lot" not in resultat.stderr and "seances.csv" in resultat.stderr
    assert not verrou.exists() and not (sortie / "2023").exists()


def test_sortie_refusee_avant_d_importer_le_lot(tmp_path):
    """Un autre lot en cours, une sortie où l'on ne peut écrire, un département hors du centre :
    la commande le dit avant d'importer le lot, de lire les données et de démarrer ses noyaux."""
    sortie = tmp_path / "reports"
    sortie.mkdir()
    (sortie / ".observatoire.verrou").write_text(
        json.dumps({"pid": os.getpid(), "hote": os.uname().nodename, "debut": "2026-01-01T00:00:00"})
    )
    script = (
        "import sys\nfrom observatoire.cli import main\n"
        f"code = main(['rapports', '--donnees', {str(DEMO)!r}, '--sortie', sys.argv[1]])\n"
        "print(code, 'observatoire.publication.lot' in sys.modules, 'observatoire.ensemble' in sys.modules,"
        " 'papermill' in sys.modules)"
    )
    refus = {
        sortie: "Un autre lot écrit déjà dans ce dossier de sortie",
        "/proc/observatoire-interdit": "Impossible d'écrire dans le dossier de sortie",
    }
    for refusee, message in refus.items():
        resultat = subprocess.run(
            [sys.executable, "-c", script, str(refusee)], capture_output=True, text=True, timeout=120
        )
        assert resultat.stdout.split() == ["2", "False", "False", "False"], (
            resultat.stdout + resultat.stderr[-2000:]
        )
        assert message in lisible(resultat.stderr) and "Traceback" not in resultat.stderr
    # Sortie libre, département hors du territoire du centre (data/demo/observatoire.toml).
    hors_du_centre = script.replace(
        "'--sortie', sys.argv[1]", "'--sortie', sys.argv[1], '--departements', '13'"
    )
    resultat = subprocess.run(
        [sys.executable, "-c", hors_du_centre, str(tmp_path / "libre")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resultat.stdout.split() == ["2", "False", "False", "False"], (
        resultat.stdout + resultat.stderr[-2000:]
    )
    for message in ("hors du territoire du centre : 13", "Codes disponibles : 78, 92, 95"):
        assert message in lisible(resultat.stderr) and "Traceback" not in resultat.stderr


@pytest.mark.lent
def test_kill_9_puis_relance(tmp_path):
    sortie = tmp_path / "reports"
    processus = _lancer(
        "--donnees", DEMO, "--sortie", sortie, "--departements", "95", "--sans-pdf", attendre=False
    )
    limite = time.monotonic() + 300
    while time.monotonic() < limite and not list(sortie.glob(".publication-*/95/*")):
        time.sleep(0.2)
    os.kill(processus.pid, signal.SIGKILL)
    processus.wait(timeout=60)
    assert not (sortie / "2023").exists(), "rien de publié par un lot tué"
    assert list(sortie.glob(".publication-*")), "le lot tué laisse ses dossiers temporaires…"
    resultat = _lancer("--donnees", DEMO, "--sortie", sortie, "--departements", "95", "--sans-pdf")
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    assert sorted(p.name for p in sortie.iterdir()) == ["2023"], "…que le lot suivant efface"


@pytest.mark.lent
def test_lien_symbolique_a_un_nom_temporaire_jamais_suivi(tmp_path):
    sortie = tmp_path / "reports"
    (sortie / "2023").mkdir(parents=True)
    marquer_dossier(sortie / "2023", "annee")
    cible = tmp_path / "precieux.txt"
    cible.write_text("à ne pas écraser")
    for nom in (".rejets.csv.tmp", ".index.html.tmp", ".manifest.json.tmp"):
        (sortie / "2023" / nom).symlink_to(cible)
        (sortie / nom).symlink_to(cible)
    resultat = _lancer("--donnees", DEMO, "--sortie", sortie, "--departements", "95", "--sans-pdf")
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    assert cible.read_text() == "à ne pas écraser"


def test_sortie_impossible_message_francais(tmp_path):
    resultat = _lancer("--donnees", DEMO, "--sortie", "/proc/observatoire-interdit", "--departements", "95")
    assert resultat.returncode == 2
    assert "Impossible d'écrire dans le dossier de sortie" in lisible(resultat.stderr)
    assert "Traceback" not in resultat.stderr


def _cellules_formules_excel(chemin: Path) -> list[str]:
    """Ouvre un CSV comme Excel (toute cellule « =… » devient une formule) avec openpyxl."""
    from openpyxl import Workbook

    classeur = Workbook()
    feuille = classeur.active
    with open(chemin, encoding="utf-8-sig", newline="") as flux:
        for ligne in csv.reader(flux, delimiter=";"):
            feuille.append(ligne)
    formules = []
    for ligne in feuille.iter_rows():
        for cellule in ligne:
            valeur = cellule.value
            if cellule.data_type == "f" or (
                isinstance(valeur, str) and valeur[:1] in ("=", "+", "-", "@", "\t", "\r")
            ):
                try:
                    float(str(valeur).replace(",", "."))
                except ValueError:
                    formules.append(str(valeur))
    return formules


def test_csv_sans_formule_executable(ecrire_jeu, tmp_path):
    from observatoire.cli import main

    piege = '=HYPERLINK("http://x","clic")'
    dossier = ecrire_jeu(
        participations=(
            "id_seance;public;code_commune_origine;departement_origine;nombre\n"
            "S1;professionnel_collectivite;95018;95;12\n"
            f"S1;{piege};;autre;3\n"
            "S2;association;78361;;5\n"
            "S3;elu;92050;;4\n"
            "S3;@SUM(1+1);92050;;-2\n"
        )
    )
    sortie = tmp_path / "validation"
    main(["valider", str(dossier), "--tolerant", "--sortie", str(sortie)])
    for nom in ("problemes_validation.csv", "rejets.csv"):
        texte = (sortie / nom).read_text(encoding="utf-8-sig")
        assert "HYPERLINK" in texte, "la valeur reste lisible…"
        assert _cellules_formules_excel(sortie / nom) == [], f"…mais n'est plus une formule dans {nom}"


def test_neutralisation_garde_les_nombres():
    import pandas as pd

    from observatoire.commun.fichiers import neutraliser_formules

    table = pd.DataFrame(
        {"a": ["=1+1", "-3", "+4,5", "@x", "\tx", "texte", None], "b": [1, -2, 3, 4, 5, 6, 7]}
    )
    neutre = neutraliser_formules(table)
    assert neutre["a"].tolist()[:6] == ["'=1+1", "-3", "+4,5", "'@x", "'\tx", "texte"]
    assert neutre["b"].tolist() == table["b"].tolist()
    assert table["a"].iloc[0] == "=1+1", "l'entrée n'est pas modifiée"


def test_indicateurs_csv_neutralise(tmp_path):
    import pandas as pd

    from observatoire import ecrire_indicateurs

    table = pd.DataFrame(
        [
            {
                "territoire": "95",
                "indicateur": "x",
                "modalite": "=cmd|' /C calc'!A0",
                "libelle": "-a",
                "valeur": -1.0,
                "part": 0.5,
            }
        ]
    )
    chemin = ecrire_indicateurs(table, tmp_path / "indicateurs.csv")
    assert _cellules_formules_excel(chemin) == []
    relu = pd.read_csv(io.StringIO(chemin.read_text(encoding="utf-8-sig")), sep=";")
    assert relu["valeur"].iloc[0] == -1.0
