"""Référentiel : installation depuis le miroir, chargement, vérification, erreurs."""

from __future__ import annotations

import json
import re
import shutil
import tomllib

import pandas as pd
import pytest

from observatoire import (
    ErreurParametre,
    ErreurReferentiel,
    charger_referentiel,
    installer_referentiel,
    verifier_referentiel,
)
from observatoire.cli import main
from observatoire.referentiel.chargement import vider_cache

from .conftest import RACINE, leve, versions_du_verrou


@pytest.fixture(scope="module")
def installe(miroir, tmp_path_factory):
    cible = tmp_path_factory.mktemp("ref") / "reference"
    installer_referentiel(miroir, cible, departements="78 92 95")
    return cible


def test_installation_ecrit_un_manifeste_complet(installe):
    manifeste = json.loads((installe / "manifest.json").read_text(encoding="utf-8"))
    assert manifeste["mode"] == "miroir"
    assert manifeste["millesime_qpv"] == 2024
    assert set(manifeste["couches"]) >= {
        "qpv", "communes", "epci", "ept", "departements", "communes_france", "communes_anciennes",
        "departements_france",
    }  # fmt: skip
    assert manifeste["departements"] == ["78", "92", "95"]
    assert manifeste["couches"]["communes_france"]["entites"] == 34875
    for couche in manifeste["couches"].values():
        assert re.fullmatch(r"[0-9a-f]{64}", couche["sha256"])
        assert "Licence Ouverte" in couche["licence"]
        assert couche["source"] and couche["entites"] > 0
    assert manifeste["couches"]["qpv"]["entites"] == 83
    assert (installe / "PROVENANCE.md").is_file()


def test_verifier_compte_qpv_et_communes_par_departement(installe):
    tableau = verifier_referentiel(installe).set_index("departement")
    assert tableau.loc[["78", "92", "95"], "qpv"].tolist() == [22, 19, 42]
    assert tableau.loc[["78", "92", "95"], "communes"].tolist() == [259, 36, 183]
    assert (tableau["statut"] == "ok").all()
    assert (tableau["geometries_invalides"] == 0).all()


def test_chargement_en_lambert93_avec_millesime_et_provenance(installe):
    referentiel = charger_referentiel("95", installe)
    assert referentiel.qpv.crs == "EPSG:2154"
    assert len(referentiel.qpv) == 42
    assert set(referentiel.communes["insee_dep"]) == {"95"}
    assert referentiel.qpv.attrs["millesime"] == 2024
    assert "ANCT" in referentiel.qpv.attrs["provenance"]["source"]
    assert referentiel.communes["insee_com"].map(type).eq(str).all()
    # Argenteuil est dans l'EPT Boucle Nord de Seine.
    argenteuil = referentiel.communes.set_index("insee_com").loc["95018"]
    assert argenteuil["nom_ept"] == "Boucle Nord de Seine"


def test_chargement_mis_en_cache(installe):
    premier = charger_referentiel("78", installe)
    second = charger_referentiel(("78", "92"), installe)
    assert second.communes_france is premier.communes_france  # lues une fois, partagées
    vider_cache()
    assert charger_referentiel("78", installe).communes_france is not premier.communes_france


def test_departement_inconnu_liste_les_codes_valides(installe):
    with leve(ErreurParametre, r"13.*Codes disponibles : 78, 92, 95"):
        charger_referentiel(("95", "13"), installe)


def test_codes_de_departement_normalises(installe):
    assert charger_referentiel(95, installe).departements_demandes == ("95",)
    assert charger_referentiel("095", installe).departements_demandes == ("95",)
    with leve(ErreurParametre, "invalide"):
        charger_referentiel("quatre-vingt-quinze", installe)


def test_referentiel_absent_nomme_la_commande(tmp_path):
    with leve(ErreurReferentiel, "observatoire referentiel installer"):
        charger_referentiel(None, tmp_path / "rien")


def test_fichier_tronque_refuse_sans_toucher_l_installation(miroir, tmp_path):
    copie = tmp_path / "miroir"
    shutil.copytree(miroir / "france", copie / "france")
    epci = copie / "france" / "epci_france.geojson"
    epci.chmod(0o644)
    epci.write_bytes(epci.read_bytes()[:5000])
    cible = tmp_path / "reference"
    installer_referentiel(miroir, cible, departements="95")
    avant = (cible / "manifest.json").read_text(encoding="utf-8")
    with leve(ErreurReferentiel, "illisible ou tronqué"):
        installer_referentiel(copie, cible, departements="95")
    assert (cible / "manifest.json").read_text(encoding="utf-8") == avant


def test_somme_de_controle_differente(miroir, tmp_path):
    cible = tmp_path / "reference"
    installer_referentiel(miroir, cible, departements="92")
    with open(cible / "epci.geojson", "a", encoding="utf-8") as flux:
        flux.write(" ")
    with leve(ErreurReferentiel, "sha256"):
        verifier_referentiel(cible)
    vider_cache()
    with leve(ErreurReferentiel, "modifié ou est corrompu"):
        charger_referentiel(None, cible)


def test_miroir_incomplet(tmp_path):
    (tmp_path / "vide").mkdir()
    with leve(ErreurReferentiel, "ne contient pas les couches nationales"):
        installer_referentiel(tmp_path / "vide", tmp_path / "reference", departements="95")


def test_commande_verifier(installe, capsys):
    assert main(["referentiel", "verifier", "--dossier", str(installe)]) == 0
    sortie = capsys.readouterr().out
    assert re.search(r"95\s+42\s+183", sortie)


def test_environment_yml_installe_le_verrou():
    """conda ne fournit que Python et pip ; pip installe le paquet et ses extras ``dev`` avec les
    versions exactes de constraints.txt, comme make installer et la CI."""
    texte = (RACINE / "environment.yml").read_text(encoding="utf-8")
    pip = re.findall(r"^ {6}- (.+)$", texte, re.M)
    assert pip == ["-c constraints.txt", "-e .[dev]"]
    dependances = texte[texte.index("dependencies:") :]
    conda = re.findall(r"^ {2}- ([^\s:]+)$", dependances, re.M)
    version_du_verrou = re.search(r"Python (\d+\.\d+)", (RACINE / "constraints.txt").read_text()).group(1)
    assert conda == [f"python={version_du_verrou}", "pip"]


def test_verrou_couvre_chaque_dependance_declaree():
    """Chaque dépendance de pyproject.toml (et de ``dev``) a sa version exacte dans le verrou, et
    cette version respecte l'intervalle déclaré."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    verrou = versions_du_verrou()
    pyproject = tomllib.loads((RACINE / "pyproject.toml").read_text(encoding="utf-8"))
    declarees = pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    for ligne in declarees:
        exigence = Requirement(ligne)
        nom = canonicalize_name(exigence.name)
        assert nom in verrou, f"{nom} absent de constraints.txt : make verrou"
        assert exigence.specifier.contains(verrou[nom]), f"{nom} {verrou[nom]} hors de {exigence.specifier}"


def test_statut_2024_de_la_table_de_l_anct_jamais_de_la_lettre(miroir, tmp_path):
    """Trois QPV dont la lettre contredit le statut de la table ANCT (PROVENANCE.md §6) :
    QN01325M « M » mais inchangé, QN09219N et QN09442N « N » mais modifiés. Le statut et les QPV
    2015 viennent de la table ; la fiche le dit."""
    from observatoire import Ensemble
    from observatoire.commun.parametres import Parametres
    from observatoire.fiches import FicheQPV

    cible = tmp_path / "reference"
    installer_referentiel(miroir, cible, departements="13 92 94")
    vider_cache()
    referentiel = charger_referentiel(("13", "92", "94"), cible)
    qpv = referentiel.qpv.set_index("code_qp")
    attendus = {"QN01325M": ("inchange", "QP013027"), "QN09219N": ("modifie", "QP092009"),
                "QN09442N": ("modifie", "QP094018")}  # fmt: skip
    for code, (statut, predecesseur) in attendus.items():
        assert qpv.at[code, "statut_2024"] == statut, code
        assert predecesseur in qpv.at[code, "qpv_2015"], code
    # La table brute, lue sans l'outil, dit la même chose.
    table = pd.read_csv(miroir / "france" / "qpv_2024_2015_correspondance.csv", dtype=str).set_index(
        "code_qp"
    )
    for code, (statut, _) in attendus.items():
        assert table.at[code, "statut"].lower() == statut
    # La fiche d'un de ces quartiers, sur une année vide de ces départements, dit le statut de la table.
    donnees = tmp_path / "donnees" / "2023"
    donnees.mkdir(parents=True)
    (donnees / "actions.csv").write_text(
        "id_action;intitule;axe;thematique;format\nA1;Essai;developpement_social;sante;rencontre\n"
    )
    (donnees / "seances.csv").write_text(
        "id_seance;id_action;date;demi_journees;code_commune;lieu;latitude;longitude;distanciel\nS1;A1;2023-03-01;1;92007;;;;non\n"
    )
    (donnees / "participations.csv").write_text(
        "id_seance;public;code_commune_origine;departement_origine;nombre\nS1;elu;92007;;2\n"
    )
    (donnees / "demandes.csv").write_text(
        "id_demande;date;type_demandeur;code_commune;siren_epci;departement;thematique;objet\n"
    )
    ensemble = Ensemble.preparer(
        Parametres(annee=2023, departements=("13", "92", "94"), donnees=donnees.parent, referentiel=cible)
    )
    texte = str(FicheQPV(ensemble, "QN09219N").quartier())
    assert "modifié en 2024" in texte and "QP092009" in texte and "nouveau" not in texte
