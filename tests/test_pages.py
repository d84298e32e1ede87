"""Ce que lit un partenaire : chaque page publiée en typographie française et reliée à l'index
de son année, chaque message de la commande aussi, et le classeur tel qu'un tableur le rouvre
(LibreOffice Calc sans interface, le tableur libre qui lit et réécrit le format d'Excel)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook

from observatoire.cli import main
from observatoire.commun.typographie import typographier
from observatoire.publication.classeur import ecrire_classeur

from .conftest import DEMO

# Ce qui n'est pas de la prose : scripts, styles, code, et les données des cartes.
_HORS_PROSE = ("script", "style", "code", "pre", "template")


def _pages(dossier: Path) -> list[Path]:
    return sorted(dossier.rglob("*.html"))


def _textes(page: str) -> list[str]:
    soupe = BeautifulSoup(page, "html.parser")
    for balise in soupe(_HORS_PROSE):
        balise.decompose()
    return [t for t in soupe.find_all(string=True) if t.strip()]


def _fautes(texte: str) -> list[str]:
    """Les fautes de typographie d'un texte, cherchées sans ``typographier`` : espace ordinaire
    avant ; : ! ? ou dans les guillemets, apostrophe droite entre deux lettres, pluriel « (s) »,
    horodatage ISO, nombre à point décimal."""
    regles = {
        "espace ordinaire avant une ponctuation haute": r"[ \u00a0][;:!?](?:\s|$)",
        "ponctuation haute collée au mot": r"[\w)»][;:!?](?:\s|$)",
        "espace ordinaire après «": r"«[ \u00a0]",
        "espace ordinaire avant »": r"[ \u00a0]»",
        "apostrophe droite": r"[A-Za-zÀ-ÿ]'[A-Za-zÀ-ÿ]",
        "pluriel (s)": r"\w\(s\)",
        "horodatage ISO": r"\d{4}-\d{2}-\d{2}T\d{2}:",
        # (« Licence Ouverte 2.0 » est un nom, version comprise.)
        "point décimal": r"(?<![\w.])(?<!Ouverte )\d+\.\d+(?![\w.])",
    }
    return [f"{nom} : {texte.strip()[:120]!r}" for nom, motif in regles.items() if re.search(motif, texte)]


@pytest.mark.lent
def test_chaque_page_publiee_en_typographie_francaise(lot):
    """Chaque nœud de texte de chaque page (rapports, cartes, index, fiches) : aucune faute
    cherchée par des règles écrites ici, et ``typographier`` n'y change plus rien."""
    fautes = []
    pages = _pages(lot[0]["dossier"])
    assert len(pages) > 80  # 4 rapports, 4 cartes, l'index, les fiches et leurs cartes
    for chemin in pages:
        for texte in _textes(chemin.read_text(encoding="utf-8")):
            fautes += _fautes(texte)
            if typographier(str(texte)) != texte:
                fautes.append(f"pas au point fixe : {texte.strip()[:120]!r}")
    assert not fautes, "\n".join(sorted(set(fautes))[:40])


def _liens(page: str) -> list[str]:
    soupe = BeautifulSoup(page, "html.parser")
    return [a["href"] for a in soupe.find_all("a", href=True)]


@pytest.mark.lent
def test_chaque_page_renvoie_a_l_index_de_son_annee(lot):
    """Un partenaire qui reçoit une page (rapport, carte, fiche, index des fiches) remonte à
    l'index de l'année ; les rapports mènent aux fiches ; aucun lien interne n'est cassé."""
    annee = lot[0]["dossier"]
    index = (annee / "index.html").resolve()
    sans_retour, casses = [], []
    for chemin in _pages(annee):
        if chemin.parent == annee / "fiches" and chemin.name.endswith(".carte.html"):
            continue  # la carte d'une fiche vit dans le cadre de sa fiche, qui a les liens
        liens = _liens(chemin.read_text(encoding="utf-8"))
        cibles = set()
        for lien in liens:
            morceaux = urlsplit(lien)
            if morceaux.scheme or morceaux.netloc or not morceaux.path:
                continue
            cible = (chemin.parent / unquote(morceaux.path)).resolve()
            cibles.add(cible)
            if not cible.exists():
                casses.append(f"{chemin.relative_to(annee)} → {lien}")
        if chemin.resolve() != index and index not in cibles:
            sans_retour.append(str(chemin.relative_to(annee)))
        if chemin.name == "rapport.html":
            assert (annee / "fiches" / "index.html").resolve() in cibles, chemin
    assert not casses, casses[:20]
    assert not sans_retour, f"pages sans lien vers l'index de l'année : {sans_retour[:20]}"


def test_messages_de_la_commande_en_typographie_francaise(tmp_path, capsys, referentiel):
    """Ce que la commande écrit (réussite, avertissements, erreurs de données, de paramètres)."""
    donnees = tmp_path / "donnees"
    shutil.copytree(DEMO / "2023", donnees / "2023")
    participations = donnees / "2023" / "participations.csv"
    lignes = participations.read_text(encoding="utf-8-sig").splitlines()
    lignes[3] = lignes[3].replace(";", ";abc;", 1)  # un champ de trop
    lignes[5] = ";".join(champ if rang != 4 else "-3" for rang, champ in enumerate(lignes[5].split(";")))
    participations.write_text("\n".join(lignes) + "\n", encoding="utf-8")
    appels = [
        ["valider", "--donnees", str(DEMO), "--annee", "2023"],
        ["valider", "--donnees", str(DEMO)],
        ["valider", "--donnees", str(donnees), "--annee", "2023"],
        ["valider", "--donnees", str(donnees), "--annee", "2023", "--tolerant"],
        ["rapports", "--donnees", str(DEMO), "--annee", "1999", "--sortie", str(tmp_path / "r")],
        ["rapports", "--donnees", str(DEMO), "--departements", "13", "--sortie", str(tmp_path / "r")],
        ["referentiel", "verifier"],
    ]
    fautes = []
    for arguments in appels:
        main(arguments)
        sortie = capsys.readouterr()
        texte = sortie.out + sortie.err
        assert texte.strip(), arguments
        for ligne in texte.splitlines():
            if not ligne.strip():
                continue
            fautes += [f"{arguments[0]} : {f}" for f in _fautes(ligne)]
            if typographier(ligne) != ligne:
                fautes.append(f"{arguments[0]} : pas au point fixe : {ligne.strip()[:120]!r}")
    assert not fautes, "\n".join(fautes[:40])


@pytest.mark.lent
def test_classeur_rouvert_par_un_tableur(lot, tmp_path):
    """Le classeur réécrit par LibreOffice Calc : les nombres restent des nombres, les parts des
    pourcentages, les codes (même ``01053``, même un mois ``2023-01``) des textes, et un libellé
    qui commence par « = » n'est pas une formule."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (paquet Debian libreoffice-calc-nogui) absent : classeur non rouvert")
    source = pd.read_csv(
        lot[0]["dossier"] / "95" / "indicateurs.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    pieges = pd.DataFrame(
        [
            ["95", "participations_par_commune_origine", "01053", "Bourg-en-Bresse", "12", "0.5"],
            ["95", "participations_par_mois", "2023-01", "janvier 2023", "7", "0.25"],
            ["95", "participations_par_public", "autre", "'=1+1", "3", "0.125"],
        ],
        columns=source.columns,
    )
    csv = tmp_path / "indicateurs.csv"
    pd.concat([source, pieges]).to_csv(csv, sep=";", index=False, encoding="utf-8-sig")
    xlsx = ecrire_classeur(csv, tmp_path / "indicateurs.xlsx")
    resultat = subprocess.run(
        [
            soffice, "--headless", f"-env:UserInstallation={(tmp_path / 'profil').as_uri()}",
            "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "rouvert"), str(xlsx),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    rouvert = tmp_path / "rouvert" / "indicateurs.xlsx"
    assert resultat.returncode == 0 and rouvert.is_file(), resultat.stderr[-2000:]
    classeur = load_workbook(rouvert)
    cellules = {}
    for feuille in classeur.worksheets[1:]:
        assert [c.value for c in feuille[1]] == ["Indicateur", "Modalité (code)", "Libellé", "Valeur", "Part"]
        for ligne in feuille.iter_rows(min_row=2):
            cle = (ligne[0].value, ligne[1].value)
            cellules[cle] = ligne
            assert all(c.data_type == "s" for c in ligne[:3]), cle
            assert typographier(ligne[2].value) == ligne[2].value, ligne[2].value  # « Val-d’Oise »
            assert ligne[3].value is None or isinstance(ligne[3].value, int | float), cle
            if ligne[4].value is not None:
                assert isinstance(ligne[4].value, int | float) and "%" in ligne[4].number_format, cle
    attendues = {(r.indicateur, r.modalite) for r in source.itertuples()}
    assert attendues <= set(cellules), "chaque ligne du CSV est dans le classeur"
    commune = cellules[("participations_par_commune_origine", "01053")]
    assert commune[1].value == "01053" and commune[3].value == 12 and commune[4].value == 0.5
    mois = cellules[("participations_par_mois", "2023-01")]
    assert mois[1].value == "2023-01" and mois[3].value == 7
    formule = cellules[("participations_par_public", "autre")]
    assert formule[2].data_type == "s" and formule[2].value in ("=1+1", "'=1+1"), formule[2].value
    total = cellules[("participations", "total")]
    assert total[3].value == int(
        source.set_index(["indicateur", "modalite"]).loc[("participations", "total"), "valeur"]
    )


def _sous_commandes(parseur, chemin=()):
    import argparse

    yield chemin, parseur
    for action in parseur._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nom, sous in action.choices.items():
                yield from _sous_commandes(sous, (*chemin, nom))


def test_chaque_option_de_la_commande_a_son_aide(capsys):
    """``observatoire … --help`` : chaque option et chaque argument disent ce qu'ils font, en
    français typographié (« --annee ANNEE » seul ne dit ni le défaut ni le format)."""
    from observatoire.cli import _parseur

    sans_aide = []
    for chemin, parseur in _sous_commandes(_parseur()):
        for action in parseur._actions:
            if action.help is None:
                sans_aide.append(f"{' '.join(chemin)} {'/'.join(action.option_strings) or action.dest}")
        with pytest.raises(SystemExit):
            main([*chemin, "--help"])
        aide = capsys.readouterr().out
        assert "usage" in aide and "options" in aide, chemin
        for ligne in aide.splitlines():
            assert not _fautes(ligne), (chemin, ligne, _fautes(ligne))
    assert not sans_aide, sans_aide
