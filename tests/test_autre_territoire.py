"""Toute la France : un autre centre (13, 83, 84), codes nationaux, origines nommées, adhérents.

Le référentiel de Provence est installé depuis le miroir national dans un dossier temporaire ;
la démonstration « provence » (tirée au sort, graine fixe) passe par l'oracle puis par tout le
lot. Rien de ce territoire n'a d'EPT ni de Métropole du Grand Paris.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from observatoire import (
    ErreurParametre,
    charger_referentiel,
    installer_referentiel,
    lire_activite,
    produire_rapports,
)
from observatoire.activite.centre import creer_centre, lire_centre
from observatoire.cli import main

from .conftest import leve, lisible
from .test_oracle import adherents_du_centre, charger_brut, comparer, oracle, produit

PROVENCE = ("13", "83", "84")
RACINE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def provence(miroir, tmp_path_factory):
    racine = tmp_path_factory.mktemp("provence")
    reference = racine / "reference"
    donnees = racine / "donnees"
    assert main(["centre", "--donnees", str(donnees), "--nom", "essai", "--departements", "13"]) == 0
    (donnees / "observatoire.toml").unlink()
    installer_referentiel(miroir, reference, departements=PROVENCE)
    code = main(
        ["demo", "--territoire", "provence", "--sortie", str(donnees), "--referentiel", str(reference)]
    )
    assert code == 0
    return reference, donnees


def test_referentiel_de_provence_sans_ept(provence):
    reference, _ = provence
    referentiel = charger_referentiel(None, reference)
    assert referentiel.departements_demandes == PROVENCE
    assert referentiel.ept.empty
    assert len(referentiel.communes_france) == 34875
    manifeste = json.loads((reference / "manifest.json").read_text(encoding="utf-8"))
    assert "ept" not in manifeste["couches"]
    assert manifeste["departements"] == list(PROVENCE)
    # Le QPV de Pierrefitte-sur-Seine (93059, fusionnée en 2025) n'est pas ici ; mais chaque
    # QPV a ses communes d'accueil actuelles et leurs noms.
    assert (referentiel.qpv["lib_com"] != "").all()


def test_oracle_sur_la_demo_de_provence(provence):
    reference, donnees = provence
    brut = charger_brut(reference, PROVENCE)
    adherents = adherents_du_centre(donnees)
    attendu = oracle(donnees / "2024", brut, donnees / "2023", adherents)
    obtenu, situee, _ = produit(donnees, 2024, True, PROVENCE, reference, adherents)
    ecarts = comparer(attendu, obtenu)
    assert not ecarts, f"{len(ecarts)} écart(s) :\n" + "\n".join(ecarts[:40])
    # Le jeu touche ce qu'il doit toucher : origines lointaines nommées, anciens codes.
    hors = obtenu.query(
        "territoire == 'synthese' and indicateur == 'participations_hors_territoire_par_departement'"
    )
    assert {"Paris (75)", "Rhône (69)", "Gard (30)"} <= set(hors["libelle"])
    assert obtenu.query("indicateur == 'adherents'")["valeur"].max() == len(adherents)
    problemes = situee.activite.problemes
    assert problemes["message"].str.contains("arrondissement municipal").any()
    assert problemes["message"].str.contains("ancien code de Brovès").any()


def test_codes_nationaux_dans_le_lecteur(ecrire_jeu, referentiel):
    jeu = ecrire_jeu(
        participations=(
            "id_seance;public;code_commune_origine;departement_origine;nombre\n"
            "S1;elu;75111;;3\n"  # arrondissement de Paris → 75056
            "S1;elu;13055;;2\n"  # Marseille : une commune hors du territoire, connue
            "S1;elu;78251;;2\n"  # Fourqueux, fusionnée dans Saint-Germain-en-Laye (78551)
            "S2;elu;13999;;1\n"  # inconnu : erreur avec la suggestion la plus proche
        )
    )
    activite = lire_activite(jeu, annee=2023, referentiel=referentiel, tolerant=True)
    problemes = activite.problemes.assign(
        message=activite.problemes["message"].map(lisible),
        correction=activite.problemes["correction"].map(lisible),
    ).set_index("ligne")
    assert "Paris (75056)" in problemes.loc[2, "message"]
    assert 3 not in problemes.index
    assert "Saint-Germain-en-Laye (78551)" in problemes.loc[4, "message"]
    assert problemes.loc[5, "gravite"] == "erreur"
    assert "inconnue du COG 2025" in problemes.loc[5, "message"]
    assert re.search(r"plus proche : 13\d{3} \(", problemes.loc[5, "correction"])
    codes = set(activite.participations["code_commune_origine"])
    assert {"75056", "13055", "78551"} <= codes and "13999" not in codes


def test_toutes_les_communes_de_france_sont_valides(ecrire_jeu, referentiel):
    """Chaque département a au moins une commune acceptée (le motif d'avant oubliait 21 à 29)."""
    france = referentiel.communes_france.drop_duplicates("insee_dep")
    lignes = "".join(f"S1;elu;{code};;1\n" for code in france["insee_com"])
    jeu = ecrire_jeu(
        participations="id_seance;public;code_commune_origine;departement_origine;nombre\n" + lignes
    )
    activite = lire_activite(jeu, annee=2023, referentiel=referentiel)
    assert len(france) == 101 and activite.nombre_erreurs == 0
    assert set(activite.participations["code_commune_origine"]) == set(france["insee_com"])


def test_installer_une_region(miroir, tmp_path):
    manifeste = installer_referentiel(miroir, tmp_path / "r", region="93")
    assert manifeste["departements"] == ["04", "05", "06", "13", "83", "84"]
    with leve(ErreurParametre, "Région inconnue.*93 \\(Provence"):
        installer_referentiel(miroir, tmp_path / "r", region="99")
    with leve(ErreurParametre, "Indiquez le territoire"):
        installer_referentiel(miroir, tmp_path / "r")


def test_configuration_du_centre_erreurs_ensemble(tmp_path):
    chemin = tmp_path / "observatoire.toml"
    chemin.write_text(
        '[centre]\nnon = "X"\ndepartements = ["quatre-vingt"]\nadherents = [12, "abc"]\n', encoding="utf-8"
    )
    with pytest.raises(ErreurParametre) as erreur:
        lire_centre(chemin)
    message = lisible(erreur.value)
    for attendu in (
        "clé inconnue « non »",
        "Vouliez-vous dire « nom »",
        "« nom » manquant",
        "quatre-vingt",
        "abc",
    ):
        assert attendu in message
    chemin.write_text('[centre\nnom = "X"', encoding="utf-8")
    with leve(ErreurParametre, "syntaxe TOML invalide \\(ligne 1, colonne"):
        lire_centre(chemin)
    ecrit = creer_centre(tmp_path / "c", 'Centre "Sud" \\ test', "13 83", adherents=["13055"])
    centre = lire_centre(ecrit)
    assert centre.nom == 'Centre "Sud" \\ test' and centre.departements == ("13", "83")
    with leve(ErreurParametre, "existe déjà"):
        creer_centre(tmp_path / "c", "Autre", "13")


def test_adherent_inconnu_arrete_le_lot(provence, tmp_path):
    reference, donnees = provence
    import shutil

    copie = tmp_path / "donnees"
    shutil.copytree(donnees, copie)
    texte = (copie / "observatoire.toml").read_text(encoding="utf-8").replace('"13055"', '"13999"')
    (copie / "observatoire.toml").write_text(texte, encoding="utf-8")
    with leve(ErreurParametre, "adhérent inconnu : 13999"):
        produire_rapports(annee=2024, donnees=copie, referentiel=reference, sortie=tmp_path / "r", pdf=False)


def test_centre_hors_du_referentiel(provence, tmp_path):
    _, donnees = provence
    with pytest.raises(
        ErreurParametre, match="couvre 13, 83, 84 mais le référentiel installé ne contient que 78, 92, 95"
    ):
        produire_rapports(annee=2024, donnees=donnees, sortie=tmp_path / "r", pdf=False)


@pytest.mark.lent
def test_lot_complet_de_provence(provence, tmp_path):
    reference, donnees = provence
    bilan = produire_rapports(
        annee=2024, donnees=donnees, referentiel=reference, sortie=tmp_path / "reports", jobs=2, pdf=False
    )
    assert bilan["publie"], bilan["echecs"]
    dossier = bilan["dossier"]
    assert sorted(p.name for p in dossier.iterdir() if p.is_dir()) == ["13", "83", "84", "fiches", "synthese"]
    index = (dossier / "index.html").read_text(encoding="utf-8")
    assert "CRPV Provence" not in index or "Centre de ressources politique de la ville de Provence" in index
    assert "Bouches-du-Rhône (13)" in index and "Vaucluse (84)" in index
    synthese = (dossier / "synthese" / "rapport.html").read_text(encoding="utf-8")
    assert (
        "Participations d&#39;hors du territoire par département" in synthese
        or "hors du territoire par département" in synthese
    )
    assert "Adhérents du centre" in synthese
    carte = (dossier / "synthese" / "carte.html").read_text(encoding="utf-8")
    assert "Origines hors du territoire" in carte and "Paris (75)" in carte
    indicateurs = pd.read_csv(
        dossier / "synthese" / "indicateurs.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    assert (indicateurs["indicateur"] == "participations_hors_territoire_par_region").any()
    # Rien de l'autre centre ni de l'Île-de-France dans ce qui est publié.
    for fichier in dossier.rglob("*"):
        if fichier.suffix in (".html", ".csv", ".json", ".ipynb"):
            texte = fichier.read_text(encoding="utf-8", errors="replace")
            for interdit in ("Pôle ressources", "Grand Paris", "Val-d'Oise", "Yvelines"):
                assert interdit not in texte, (fichier.name, interdit)


def test_aucun_centre_ni_territoire_en_dur_dans_le_code():
    """Hors des démonstrations, le code ne nomme ni le Pôle ressources ni 78/92/95."""
    for fichier in sorted((RACINE / "src" / "observatoire").rglob("*")):
        if fichier.suffix not in (".py", ".j2") or fichier.parent.name == "demo":
            continue
        texte = fichier.read_text(encoding="utf-8")
        assert "Pôle ressources" not in texte, fichier.name
        assert not re.search(r"\(\s*\"78\",\s*\"92\",\s*\"95\"\s*\)", texte), fichier.name


def test_commande_verifier_nomme_les_tables_nationales(provence):
    reference, _ = provence
    sortie = subprocess.run(
        [sys.executable, "-m", "observatoire", "referentiel", "verifier", "--dossier", str(reference)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert sortie.returncode == 0, sortie.stderr
    assert "territoire 13, 83, 84" in sortie.stdout
    assert re.search(r"13\s+71\s+119", sortie.stdout)
    assert "34 875 communes" in lisible(sortie.stdout)
