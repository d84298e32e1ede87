"""Lot de bout en bout sur la démonstration : fichiers, chiffres, HTML autonome, échappement."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from observatoire import (
    ErreurParametre,
    charger_referentiel,
    lire_activite,
    produire_rapports,
    situer_activite,
)
from observatoire.cli import main
from observatoire.presentation.cartes import carte_activite, ecrire_carte, html_carte
from observatoire.rapport import NAVIGATION_CARTE

from .conftest import CHARGE, DEMO, RACINE, leve, lisible, nom_canonique, versions_du_verrou

TERRITOIRES = ("78", "92", "95", "synthese")


@pytest.mark.lent
def test_tous_les_fichiers_sont_produits(lot):
    bilan, _ = lot
    assert bilan["echecs"] == []
    dossier = bilan["dossier"]
    for nom in ("index.html", "rejets.csv", "manifest.json"):
        assert (dossier / nom).is_file()
    for territoire in TERRITOIRES:
        for nom in ("rapport.html", "rapport.ipynb", "carte.html", "indicateurs.csv", "figures/carte.png"):
            assert (dossier / territoire / nom).is_file(), (territoire, nom)
        assert len(list((dossier / territoire / "figures").glob("*.png"))) >= 7
    assert not list(dossier.glob(".en-cours-*")), "aucun dossier temporaire ne doit rester"


@pytest.mark.lent
def test_indicateurs_csv_pour_excel_avec_les_chiffres_publies(lot):
    chemin = lot[0]["dossier"] / "synthese" / "indicateurs.csv"
    assert chemin.read_bytes().startswith(b"\xef\xbb\xbf")
    tableau = pd.read_csv(chemin, sep=";", encoding="utf-8-sig", dtype={"modalite": str})
    assert list(tableau.columns) == ["territoire", "indicateur", "modalite", "libelle", "valeur", "part"]
    valeurs = tableau.set_index(["indicateur", "modalite"])
    assert valeurs.loc[("participations", "total"), "valeur"] == 4693
    assert valeurs.loc[("actions", "total"), "valeur"] == 56
    assert valeurs.loc[("demi_journees", "total"), "valeur"] == 192
    assert round(100 * valeurs.loc[("participations_par_departement_origine", "95"), "part"]) == 46
    assert valeurs.loc[("demandes", "total"), "valeur"] == 112
    departement = pd.read_csv(lot[0]["dossier"] / "95" / "indicateurs.csv", sep=";", encoding="utf-8-sig")
    assert set(departement["territoire"].astype(str)) == {"95"}


@pytest.mark.lent
def test_index_relie_tous_les_rapports(lot):
    index = (lot[0]["dossier"] / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in index and "<h1>" in index
    for territoire in TERRITOIRES:
        assert f'href="{territoire}/rapport.html"' in index
        assert f'href="{territoire}/carte.html"' in index
    assert "4\u202f693" in index
    assert "Données de démonstration" in index


@pytest.mark.lent
@pytest.mark.parametrize("territoire", TERRITOIRES)
def test_rapport_html_autonome_leger_et_echappe(lot, territoire):
    dossier = lot[0]["dossier"] / territoire
    rapport = (dossier / "rapport.html").read_text(encoding="utf-8")
    carte = (dossier / "carte.html").read_text(encoding="utf-8")
    assert rapport.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert re.search(r"<h1[^>]*>Activité 2023 — ", rapport)
    assert "<iframe" in rapport and "leaflet" in rapport
    images = [b for b in re.findall(r"<img[^>]+>", rapport) if 'src="data:image/png;base64,' in b]
    assert len(images) >= 7
    assert all(re.search(r'alt="[^"]{20,}"', balise) for balise in images), (
        "texte alternatif pour chaque image"
    )
    assert rapport.count("<table") >= 7  # un tableau de données à côté de chaque graphique
    for page in (rapport, carte):
        assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", page), (
            "aucune ressource distante"
        )
        assert CHARGE not in page
    assert len(rapport.encode("utf-8")) <= 2_000_000
    assert len(carte.encode("utf-8")) <= 1_000_000
    assert '<html lang="fr">' in carte
    assert "import " not in rapport.split("<main>", 1)[1], "pas de code dans le rapport"
    # Aucun balisage échappé par erreur (un « <style> » affiché comme du texte) : seules les
    # données sont échappées.
    corps = re.sub(r'srcdoc="[^"]*"', "", rapport.split("<main>", 1)[1])
    for balise in ("&lt;style", "&lt;div", "&lt;table", "&lt;h1", "&lt;p"):
        assert balise not in corps, balise


@pytest.mark.lent
def test_charge_xss_echappee_dans_la_carte(lot):
    import html

    def comme_le_lit_javascript(page: str) -> str:  # les chaînes JSON décodées par le navigateur
        for code, caractere in (("0026", "&"), ("003c", "<"), ("003e", ">"), ("0027", "'")):
            page = page.replace(f"\\u{code}", caractere)
        return page

    carte = (lot[0]["dossier"] / "95" / "carte.html").read_text(encoding="utf-8")
    assert CHARGE not in carte and CHARGE not in comme_le_lit_javascript(carte)
    # le texte reste lisible : échappé en HTML avant d'entrer dans les données de la carte
    assert "&lt;img src=x onerror=alert(1)&gt;" in comme_le_lit_javascript(carte)
    rapport = (lot[0]["dossier"] / "95" / "rapport.html").read_text(encoding="utf-8")
    assert CHARGE not in rapport
    integree = html.unescape(re.search(r'srcdoc="([^"]*)"', rapport)[1])
    assert CHARGE not in comme_le_lit_javascript(integree)
    assert "&lt;img src=x onerror=alert(1)&gt;" in comme_le_lit_javascript(integree)


@pytest.mark.lent
def test_carte_reproductible_octet_pour_octet(lot, referentiel, tmp_path):
    """Deux cartes des mêmes données, les mêmes octets ; celle du lot aussi, bandeau de
    navigation compris (le HTML rendu, intégré au rapport, n'en a pas)."""
    bilan, donnees = lot
    activite = lire_activite(donnees / "2023", annee=2023, referentiel=referentiel)
    situee = situer_activite(activite, referentiel)
    titre = "Carte de l'activité 2023 — Val-d'Oise (95)"
    page = html_carte(carte_activite(situee, referentiel, "95", "../fiches/", 2023), titre)
    ecrite = ecrire_carte(
        carte_activite(situee, referentiel, "95", "../fiches/", 2023),
        tmp_path / "carte.html",
        titre,
        navigation=NAVIGATION_CARTE,
    )
    assert page == ecrite and "obs-carte-navigation" not in page
    publiee = (bilan["dossier"] / "95" / "carte.html").read_bytes()
    assert publiee == (tmp_path / "carte.html").read_bytes()
    assert b'<nav class="obs-carte-navigation"' in publiee and b'href="../index.html"' in publiee


@pytest.mark.lent
def test_manifeste(lot):
    manifeste = json.loads((lot[0]["dossier"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifeste["parametres"]["departements"] == ["78", "92", "95"]
    assert any(chemin.endswith("participations.csv") for chemin in manifeste["entrees_sha256"])
    assert manifeste["referentiel"]["qpv"]["millesime"] == 2024
    assert {"python", "geopandas", "folium", "papermill"} <= set(manifeste["versions"])
    assert "durees_s" not in manifeste and "produit_le" not in manifeste  # octets stables
    # Les versions relevées sont celles du verrou (constraints.txt) : make installer l'a suivi.
    verrou = versions_du_verrou()
    for paquet, version in manifeste["versions"].items():
        if paquet not in ("python", "observatoire"):
            assert version == verrou[nom_canonique(paquet)], paquet
    execution = json.loads((lot[0]["dossier"] / "execution.json").read_text(encoding="utf-8"))
    assert set(TERRITOIRES) | {"total"} <= set(execution["durees_s"])
    assert execution["produit_le"].startswith("20")


@pytest.mark.lent
def test_notebook_execute_garde_le_code_en_chaine(lot):
    carnet = nbformat.read(lot[0]["dossier"] / "95" / "rapport.ipynb", as_version=4)
    injecte = next(c for c in carnet.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'departement = "95"' in injecte.source


@pytest.mark.lent
def test_un_departement_en_echec_n_arrete_pas_le_lot(tmp_path, monkeypatch, capsys):
    from observatoire.commun.fichiers import marquer_dossier
    from observatoire.publication import noyaux

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(parents=True)
    carnet = nbformat.read(RACINE / "notebooks" / "rapport_departement.ipynb", as_version=4)
    carnet.cells.insert(3, nbformat.v4.new_code_cell('assert departement != "92", "panne simulée"'))
    nbformat.write(carnet, notebooks / "rapport_departement.ipynb")
    shutil.copy(RACINE / "notebooks" / "synthese.ipynb", notebooks / "synthese.ipynb")
    monkeypatch.setattr(
        noyaux,
        "notebook_du_lot",
        lambda t: notebooks / ("synthese.ipynb" if t == "synthese" else "rapport_departement.ipynb"),
    )
    repertoire_courant = Path.cwd()
    sortie = tmp_path / "reports"
    (sortie / "2023" / "92").mkdir(parents=True)
    (sortie / "2023" / "92" / "ancien.txt").write_text("rapport précédent")
    marquer_dossier(sortie / "2023", "annee")  # une année publiée par l'outil
    code = main(
        [
            "rapports",
            "--departements",
            "78",
            "92",
            "--donnees",
            str(DEMO),
            "--sortie",
            str(sortie),
            "--jobs",
            "2",
        ]
    )
    assert code == 1
    assert Path.cwd() == repertoire_courant, "le lot ne doit pas changer le répertoire courant"
    erreurs = lisible(capsys.readouterr().err)
    assert "92 : cellule" in erreurs and "panne simulée" in erreurs
    assert "rien n'a été publié" in erreurs
    # Une année se publie entière ou pas du tout : la publication en place est intacte.
    assert sorted(p.name for p in (sortie / "2023").iterdir()) == [".observatoire", "92"]
    assert [p.name for p in (sortie / "2023" / "92").iterdir()] == ["ancien.txt"]
    assert sorted(p.name for p in sortie.iterdir()) == ["2023"], "aucun dossier temporaire, aucun verrou"


def test_parametres_du_lot_valides(tmp_path):
    with leve(ErreurParametre, "hors du territoire du centre : 13. Codes disponibles"):
        produire_rapports(departements=["13"], donnees=DEMO, sortie=tmp_path)
    with leve(ErreurParametre, "Aucune donnée pour 2019"):
        produire_rapports(annee=2019, donnees=DEMO, sortie=tmp_path)
    with leve(ErreurParametre, "invalide"):
        produire_rapports(departements=["../../etc"], donnees=DEMO, sortie=tmp_path)
    with leve(ErreurParametre, "refusé"):
        produire_rapports(donnees=DEMO, sortie="/")
    assert charger_referentiel(("95",)).departements_demandes == ("95",)


@pytest.mark.lent
def test_papermill_depuis_ailleurs_avec_cwd(tmp_path):
    """Les chemins des notebooks se résolvent depuis le projet : papermill lancé d'un autre
    dossier, avec ``--cwd``, trouve data/demo et le référentiel."""
    sortie = tmp_path / "sortie.ipynb"
    resultat = subprocess.run(
        [sys.executable, "-m", "papermill", str(RACINE / "notebooks" / "rapport_departement.ipynb"), str(sortie),
         "-p", "departement", "78", "--cwd", str(tmp_path), "--log-level", "ERROR"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    assert re.search(r"Yvelines \(78\) — ", sortie.read_text(encoding="utf-8"))


@pytest.mark.lent
@pytest.mark.parametrize("valeur", ["095", "92"])
def test_papermill_direct_normalise_le_code(tmp_path, valeur):
    sortie = tmp_path / "sortie.ipynb"
    resultat = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "rapport_departement.ipynb",
            str(sortie),
            "-p",
            "departement",
            valeur,
            "--log-level",
            "ERROR",
        ],
        cwd=RACINE / "notebooks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    attendu = r"Val-d(&#x27;|&#39;|'|’)Oise \(95\) — " if valeur == "095" else r"Hauts-de-Seine \(92\) — "
    assert re.search(attendu, sortie.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ensemble_ecrit(tmp_path_factory):
    """L'ensemble de la démonstration 2023 et ses fichiers par territoire, comme le lot les écrit."""
    from observatoire import Ensemble, Parametres

    ensemble = Ensemble.preparer(Parametres(annee=2023, donnees=DEMO))
    return ensemble, ensemble.ecrire(tmp_path_factory.mktemp("ensemble"), ["78", "92", "95", "synthese"])


def test_ensemble_d_un_departement_donne_les_memes_chiffres_que_l_ensemble_entier(ensemble_ecrit):
    """Chaque notebook de département reçoit une activité réduite : rien ne doit changer."""
    from observatoire import Ensemble, calculer_indicateurs, preparer_rapport
    from observatoire.rapport import Rapport

    ensemble, fichiers = ensemble_ecrit
    total = len(ensemble.situee.participations)
    complet = Ensemble.lire(fichiers["synthese"])
    for departement in ("78", "92", "95"):
        reduit = preparer_rapport(departement, ensemble=fichiers[departement])
        indicateurs = calculer_indicateurs(
            complet.situee, complet.referentiel, departement, complet.precedente,
            adherents=complet.centre.adherents, annee=2023,
        )  # fmt: skip
        entier = Rapport(complet, departement, indicateurs, dans_un_lot=True)
        assert 0 < len(reduit.situee.participations) < total  # la réduction n'est pas vide ni nulle
        assert len(reduit.activite.participations) == len(reduit.situee.participations)
        pd.testing.assert_frame_equal(reduit.indicateurs, entier.indicateurs)
        for section in (
            "chiffres_cles",
            "carte",
            "couverture",
            "activite_detaillee",
            "demandes",
            "evolution",
        ):
            assert str(getattr(reduit, section)()) == str(getattr(entier, section)()), (departement, section)


def test_noyau_du_lot_ne_charge_pas_la_lecture_des_donnees(ensemble_ecrit):
    """Un noyau du lot importe ce que son préchargement importe, relit l'ensemble écrit et
    produit chaque section sans importer pandera ni openpyxl (la lecture des exports) : environ
    0,3 s de processeur par noyau, une cinquantaine de noyaux dans la suite."""
    from observatoire.publication.noyaux import PRECHARGEMENT

    _, fichiers = ensemble_ecrit
    code = (
        f"{PRECHARGEMENT}\nimport sys\nfrom observatoire import preparer_rapport\n"
        f"rapport = preparer_rapport('95', ensemble={str(fichiers['95'])!r})\n"
        "for section in ('titre', 'chiffres_cles', 'carte', 'couverture', 'activite_detaillee', 'demandes',"
        " 'evolution', 'methode'):\n    str(getattr(rapport, section)())\n"
        "print(sorted(m for m in ('pandera', 'openpyxl', 'observatoire.activite.lecture') if m in sys.modules))"
    )
    resultat = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert resultat.returncode == 0, resultat.stderr[-2000:]
    assert resultat.stdout.strip() == "[]"


def test_comparaison_des_departements_identique_sans_decoupage(monkeypatch):
    """La synthèse calcule chaque département sur ses seules participations : mêmes chiffres."""
    from observatoire import preparer_rapport
    from observatoire.ensemble import Decoupage

    synthese = preparer_rapport("synthese", donnees=DEMO)
    decoupee = str(synthese.comparaison_departements())
    monkeypatch.setattr(Decoupage, "pour", lambda self, situee, referentiel, departement: situee)
    assert decoupee == str(synthese.comparaison_departements())


def test_carte_trop_lourde_remplacee_par_la_statique_et_un_lien(tmp_path, monkeypatch):
    """Au-delà du seuil, le rapport publié montre la carte statique et renvoie à carte.html."""
    from observatoire import rapport as module

    monkeypatch.setattr(module, "TAILLE_MAX_CARTE_INTEGREE", 1_000)
    section = str(module.preparer_rapport("92", donnees=DEMO, sortie=tmp_path).carte())
    assert "<iframe" not in section and "srcdoc" not in section
    assert re.search(r'class="obs-carte-statique[^"]*\bobs-visible"', section)
    assert '<a href="carte.html">Ouvrir la carte interactive seule</a>' in section
    assert (tmp_path / "carte.html").stat().st_size > 1_000
    monkeypatch.setattr(module, "TAILLE_MAX_CARTE_INTEGREE", 10_000_000)
    assert "srcdoc=" in str(module.preparer_rapport("92", donnees=DEMO, sortie=tmp_path).carte())


@pytest.mark.lent
def test_noyau_garde_d_un_territoire_a_l_autre_est_vide_et_arrete():
    """Un noyau sert plusieurs notebooks du lot : aucun ne voit les variables du précédent."""
    from observatoire.publication.noyaux import Noyaux

    with Noyaux(1) as noyaux:
        noyau = noyaux.du_fil()
        assert Noyaux.executer(noyau, "fuite = 1\nassert 'observatoire' not in dir()")
        assert noyaux.du_fil() is noyau  # le même processus, vidé
        assert not Noyaux.executer(noyau, "fuite")  # NameError : la variable a disparu
        assert Noyaux.executer(noyau, "import sys\nassert 'observatoire.rapport' in sys.modules")
    assert not noyau.is_alive()


INSTRUCTIONS_D_ECRAN = ("Survoler", "survoler", "cliquer", "Cliquer", "zoomer", "Filtrer avec")


@pytest.mark.lent
@pytest.mark.parametrize("territoire", ["78", "92", "95", "synthese"])
def test_pdf_garde_chaque_qpv_ses_numeros_de_page_et_rien_de_l_ecran(lot, territoire):
    """Le PDF, lu par pdftotext : chaque QPV du territoire y est (atteint ou non, les blocs repliés
    sont ouverts à l'impression), chaque page porte « n / N », aucune consigne d'écran."""
    pdf = lot[0]["dossier"] / territoire / "rapport.pdf"
    if not shutil.which("pdftotext") or not pdf.exists():
        pytest.skip("pdftotext (poppler-utils) ou Chromium absent : PDF non vérifiable ici")
    from observatoire import charger_referentiel

    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    textes = pages.stdout.split("\f")
    textes = [t for t in textes if t.strip()]
    for rang, page in enumerate(textes, start=1):
        assert re.search(rf"\b{rang}\s*/\s*{len(textes)}\b", page), (
            f"page {rang} sans « {rang} / {len(textes)} »"
        )
    texte = " ".join(textes)
    qpv = charger_referentiel().qpv
    attendus = (
        qpv["code_qp"] if territoire == "synthese" else qpv.loc[qpv["insee_dep"] == territoire, "code_qp"]
    )
    manquants = sorted(set(attendus) - set(re.findall(r"QN\d{5}[A-Z]", texte)))
    assert not manquants, f"QPV absents du PDF : {manquants}"
    for consigne in INSTRUCTIONS_D_ECRAN:
        assert consigne not in texte, f"consigne d'écran imprimée : {consigne}"
    assert "Pôle ressources" in textes[0] and "2023" in textes[0], "titre courant : centre, territoire, année"
