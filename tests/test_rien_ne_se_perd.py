"""Rien ne se perd (issue 23) : aucune commande ne détruit les fichiers d'un centre, aucune
entrée abîmée ne publie un chiffre faux.

Chaque classe de l'issue a ses tests : la garde des entrées (propriété : une sortie tirée parmi
les ancêtres et descendants des entrées ne change jamais un octet d'entrée), le lecteur unique
(guillemets, encodages, caractères de contrôle, TOML), les coordonnées, les classeurs, les
pannes (SIGTERM, disque plein, droits), les séparateurs de milliers et les codes de
département. Les définitions et le géocodage ont les leurs dans test_oracle et test_geocodage.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observatoire import lire_activite
from observatoire.activite.centre import lire_centre
from observatoire.activite.lieux import lire_registre
from observatoire.cli import main
from observatoire.commun.erreurs import ErreurDonnees, ErreurParametre
from observatoire.commun.fichiers import marquer_dossier

from .conftest import DEMO, MIROIR, RACINE, TABLES_VALIDES, leve, lisible

# --------------------------------------------------------------------------- garde des entrées


def _empreintes(*racines: Path) -> dict[str, str]:
    """sha256 de chaque fichier sous les racines (et des racines qui sont des fichiers)."""
    empreintes = {}
    for racine in racines:
        fichiers = [racine] if racine.is_file() else sorted(p for p in racine.rglob("*") if p.is_file())
        for fichier in fichiers:
            empreintes[str(fichier)] = hashlib.sha256(fichier.read_bytes()).hexdigest()
    return empreintes


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    """Le dossier d'un centre (la démonstration sans ses marqueurs de démonstration, avec un cache
    de géocodage), son référentiel installé, et une année déjà publiée à côté."""
    base = tmp_path_factory.mktemp("centre")
    donnees = base / "centre"
    shutil.copytree(DEMO, donnees)
    for drapeau in donnees.rglob("demonstration.json"):
        drapeau.unlink()
    (donnees / "geocodage_cache.csv").write_text(
        "cle;adresse;code_commune;latitude;longitude;score;type;libelle;commune_trouvee;statut\n"
        "1 place de la gare|95018;1 place de la gare;95018;48.9471;2.2480;0.93;housenumber;1 place de la Gare "
        "95100 Argenteuil;95018;ok\n",
        encoding="utf-8",
    )
    reference = base / "reference"
    shutil.copytree(RACINE / "data" / "reference", reference)
    publie = base / "publie" / "2023"
    publie.mkdir(parents=True)
    (publie / "index.html").write_text("<h1>Rapports 2023 publiés</h1>", encoding="utf-8")
    marquer_dossier(publie, "annee")
    return base, donnees, reference


def _candidats(base: Path, donnees: Path, reference: Path) -> list[Path]:
    """Sorties tirées parmi les entrées, leurs ancêtres et leurs descendants."""
    return [
        base,
        donnees,
        donnees / "2023",
        donnees / "2022",
        donnees / "2023" / "participations.csv",
        donnees / "activite_2023.xlsx",
        donnees / "lieux.csv",
        donnees / "geocodage_cache.csv",
        donnees / "observatoire.toml",
        donnees / "2023" / "nouveau",
        donnees / "nouveau" / "plus_bas",
        reference,
        reference / "qpv_2024.geojson",
        reference / "nouveau",
    ]


def _commandes(donnees: Path, reference: Path, sortie: Path) -> dict[str, list[str]]:
    d, r, x = str(donnees), str(reference), str(sortie)
    return {
        "rapports": ["rapports", "--donnees", d, "--referentiel", r, "--sortie", x, "--sans-pdf"],
        "fiches": ["fiches", "--donnees", d, "--referentiel", r, "--sortie", x],
        "valider": ["valider", "--donnees", d, "--annee", "2023", "--referentiel", r, "--sortie", x],
        "referentiel installer": [
            "referentiel", "installer", "--depuis", str(MIROIR), "--vers", x, "--donnees", d,
        ],
        "centre": ["centre", "--donnees", x, "--nom", "Centre d'essai", "--departements", "95"],
        "demo": ["demo", "--sortie", x, "--referentiel", r],
    }  # fmt: skip


# Ce que ces commandes peuvent légitimement créer : une configuration (centre) dans un dossier
# qui n'est ni une entrée ni un dossier de l'outil, une démonstration dans un dossier neuf.
PERMISES = {"centre": {0, 10}, "demo": {10}}
MOTS_DU_REFUS = ("Sortie refusée", "jamais remplacé", "existe déjà", "n'est ni vide", "dossier d'une année",
                 "est un fichier", "dossier de l'outil", "est dans le dossier d'une année")  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    commande=st.sampled_from(["rapports", "fiches", "valider", "referentiel installer", "centre", "demo"]),
    rang=st.integers(min_value=0, max_value=13),
)
def test_sortie_parmi_les_entrees_jamais_un_octet_change(centre, capsys, commande, rang):
    base, donnees, reference = centre
    sortie = _candidats(base, donnees, reference)[rang]
    if commande == "referentiel installer" and sortie.is_relative_to(reference):
        return  # le référentiel est la sortie même de cette commande (un dossier marqué par l'outil)
    avant = _empreintes(donnees, reference, base / "publie")
    code = main(_commandes(donnees, reference, sortie)[commande])
    sorties = capsys.readouterr()
    assert "Traceback" not in sorties.err + sorties.out
    if rang in PERMISES.get(commande, set()):
        assert code == 0, sorties.err
        (base / "observatoire.toml").unlink(missing_ok=True)
        shutil.rmtree(donnees / "nouveau", ignore_errors=True)
    else:
        message = lisible(sorties.err)
        assert code == 2, f"{commande} --sortie {sortie} : code {code}\n{sorties.out}\n{sorties.err}"
        assert message.startswith("Erreur : ") and any(mot in message for mot in MOTS_DU_REFUS), message
    assert _empreintes(donnees, reference, base / "publie") == avant, "un octet d'entrée a changé"
    assert not (donnees / "nouveau").exists() and not (donnees / "2023" / "nouveau").exists()
    assert not (reference / "nouveau").exists(), "rien n'est créé dans une entrée"


def test_la_garde_nomme_chaque_conflit_et_la_correction(centre, capsys):
    base, donnees, reference = centre
    assert main(_commandes(donnees, reference, donnees / "2023")["rapports"]) == 2
    message = lisible(capsys.readouterr().err)
    assert "--sortie" in message and "est le dossier de l'année 2023" in message
    assert "se trouve dans le dossier de données" in message
    assert "Choisissez un dossier de sortie à part" in message


def test_demo_n_ecrit_jamais_dans_le_dossier_d_un_centre(centre, capsys):
    base, donnees, reference = centre
    avant = _empreintes(donnees)
    assert main(["demo", "--sortie", str(donnees), "--referentiel", str(reference)]) == 2
    assert "n'est ni vide ni un dossier de démonstration" in lisible(capsys.readouterr().err)
    assert _empreintes(donnees) == avant


def test_fiches_ne_remplacent_qu_un_dossier_cree_par_l_outil(centre, tmp_path, capsys):
    base, donnees, reference = centre
    etranger = tmp_path / "mes_notes"
    etranger.mkdir()
    (etranger / "note.txt").write_text("à garder")
    assert main(_commandes(donnees, reference, etranger)["fiches"]) == 2
    assert "jamais remplacé" in lisible(capsys.readouterr().err)
    assert (etranger / "note.txt").read_text() == "à garder"


def test_une_annee_publiee_survit_a_un_lot_en_echec(centre, tmp_path, capsys):
    """Données invalides en mode strict : code 1, et l'année publiée reste octet pour octet."""
    base, donnees, reference = centre
    cassees = tmp_path / "cassees"
    shutil.copytree(donnees, cassees)
    participations = cassees / "2023" / "participations.csv"
    participations.write_text(participations.read_text(encoding="utf-8") + "S-INCONNUE;elu;95018;;3\n")
    publie = base / "publie"
    avant = _empreintes(publie)
    code = main(
        ["rapports", "--donnees", str(cassees), "--referentiel", str(reference), "--sortie", str(publie)]
    )
    assert code == 1
    assert "S-INCONNUE" in capsys.readouterr().err
    assert _empreintes(publie) == avant


# --------------------------------------------------------------------------- pannes


def test_disque_plein_message_francais_et_annee_intacte(centre, monkeypatch, capsys):
    """« Plus de place » au moment d'écrire : un message qui nomme le fichier, code 1, rien publié."""
    from observatoire.commun import fichiers

    base, donnees, reference = centre
    publie = base / "publie"
    avant = _empreintes(publie)
    vraie = fichiers.ecrire_atomique

    def plein(chemin, contenu):
        if str(chemin).endswith("rejets.csv"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(chemin))
        return vraie(chemin, contenu)

    monkeypatch.setattr(fichiers, "ecrire_atomique", plein)
    code = main(
        ["rapports", "--donnees", str(donnees), "--referentiel", str(reference), "--sortie", str(publie),
         "--departements", "95", "--sans-pdf"]
    )  # fmt: skip
    erreur = lisible(capsys.readouterr().err)
    assert code == 1, erreur
    assert "plus de place sur le disque" in erreur.lower() and "rejets.csv" in erreur
    assert "Traceback" not in erreur
    assert _empreintes(publie) == avant
    assert sorted(p.name for p in publie.iterdir()) == ["2023"], "ni verrou ni dossier temporaire"


def test_droits_refuses_message_francais(centre, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root écrit partout : le refus de droits ne se simule pas ici")
    base, donnees, reference = centre
    ferme = tmp_path / "ferme"
    ferme.mkdir(mode=0o500)
    code = main(_commandes(donnees, reference, ferme / "sortie")["valider"])
    assert code in (1, 2) and "droit" in lisible(capsys.readouterr().err)


def test_message_systeme_en_francais_pour_chaque_panne():
    from observatoire.commun.erreurs import message_systeme

    for numero, attendu in (
        (errno.ENOSPC, "plus de place"),
        (errno.EACCES, "droit"),
        (errno.EROFS, "lecture seule"),
    ):
        message = lisible(message_systeme(OSError(numero, os.strerror(numero), "/chemin/fichier.csv")))
        assert attendu in message.lower() and "/chemin/fichier.csv" in message, message


@pytest.mark.lent
def test_sigterm_comme_ctrl_c(tmp_path):
    """SIGTERM : message, verrou rendu, dossiers temporaires effacés, code non nul ; l'année en
    place reste intacte."""
    sortie = tmp_path / "reports"
    (sortie / "2023").mkdir(parents=True)
    (sortie / "2023" / "index.html").write_text("année précédente")
    marquer_dossier(sortie / "2023", "annee")
    processus = subprocess.Popen(
        [sys.executable, "-m", "observatoire", "rapports", "--donnees", str(DEMO), "--sortie", str(sortie),
         "--departements", "95", "--sans-pdf"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    limite = time.monotonic() + 300
    while time.monotonic() < limite and not list(sortie.glob(".publication-*")):
        time.sleep(0.1)
    processus.send_signal(signal.SIGTERM)
    _, erreur = processus.communicate(timeout=120)
    assert processus.returncode == 143, erreur
    assert "arrêté" in lisible(erreur).lower() and "Traceback" not in erreur
    assert sorted(p.name for p in sortie.iterdir()) == ["2023"], "ni verrou ni dossier temporaire"
    assert (sortie / "2023" / "index.html").read_text() == "année précédente"


# --------------------------------------------------------------------------- un seul lecteur


def test_guillemet_jamais_ferme_nomme_sa_ligne_et_ne_montre_pas_l_objet(ecrire_jeu, referentiel):
    demandes = TABLES_VALIDES["demandes"].replace(
        "D2;03/03/2023;institution;;249500109;;egalite;\n",
        'D2;03/03/2023;institution;;249500109;;egalite;"question secrète sans fin\n',
    ) + "".join(f"D{n};04/04/2023;association;;;autre;education;\n" for n in range(4, 60))
    dossier = ecrire_jeu(demandes=demandes)
    with leve(ErreurDonnees, r"demandes\.csv, ligne 3 : un guillemet .* jamais fermé") as erreur:
        lire_activite(dossier, annee=2023, referentiel=referentiel)
    assert "secrète" not in str(erreur.value)


def test_ligne_au_champ_manquant_ne_cite_jamais_l_objet(ecrire_jeu, referentiel):
    demandes = TABLES_VALIDES["demandes"].replace(
        "D1;02/02/2023;ville;95127;;;sante;question confidentielle\n",
        "D1;02/02/2023;ville;95127;;sante;question confidentielle\n",
    )
    activite = lire_activite(
        ecrire_jeu(demandes=demandes), annee=2023, referentiel=referentiel, tolerant=True
    )
    textes = activite.problemes.astype(str).to_csv()
    assert "7 champs au lieu de 8" in lisible(textes)
    assert "confidentielle" not in textes


@pytest.mark.parametrize(
    ("caractere", "code"), [("\x00", "U+0000"), ("\u202e", "U+202E"), ("\x08", "U+0008")]
)
def test_caracteres_de_controle_nommes_jamais_recopies(ecrire_jeu, referentiel, caractere, code):
    actions = TABLES_VALIDES["actions"].replace("Atelier jeunesse", f"Atelier{caractere} jeunesse")
    activite = lire_activite(ecrire_jeu(actions=actions), annee=2023, referentiel=referentiel, tolerant=True)
    erreurs = activite.problemes[activite.problemes["gravite"] == "erreur"]
    assert len(erreurs) and erreurs["ligne"].iloc[0] == 3 and code in erreurs["message"].iloc[0]
    assert caractere not in activite.problemes.astype(str).to_csv()
    assert caractere not in "".join(activite.actions["intitule"]), "la ligne est écartée"


def test_csv_enregistre_en_texte_unicode_par_excel(ecrire_jeu, referentiel):
    """Excel « Texte Unicode » : UTF-16 avec BOM, tabulations."""
    dossier = ecrire_jeu()
    texte = (dossier / "actions.csv").read_text(encoding="utf-8").replace(";", "\t")
    (dossier / "actions.csv").write_bytes(texte.encode("utf-16"))
    activite = lire_activite(dossier, annee=2023, referentiel=referentiel)
    assert list(activite.actions["id_action"]) == ["A1", "A2"]


@pytest.mark.parametrize("separateur", [" ", "\u00a0", "\u202f"])
def test_separateurs_de_milliers(ecrire_jeu, referentiel, separateur):
    participations = TABLES_VALIDES["participations"].replace(
        "S1;professionnel_collectivite;95018;95;12",
        f"S1;professionnel_collectivite;95018;95;1{separateur}200",
    )
    activite = lire_activite(ecrire_jeu(participations=participations), annee=2023, referentiel=referentiel)
    assert activite.participations["nombre"].max() == 1200


def test_975_n_est_pas_un_departement(ecrire_jeu, referentiel):
    participations = TABLES_VALIDES["participations"].replace("S1;Habitant·es;;autre;3", "S1;habitant;;975;3")
    activite = lire_activite(
        ecrire_jeu(participations=participations), annee=2023, referentiel=referentiel, tolerant=True
    )
    erreurs = activite.problemes[activite.problemes["gravite"] == "erreur"]
    messages = [lisible(m) for m in erreurs["message"]]
    assert any("975" in m and "département" in m for m in messages), messages


def test_toml_avec_bom_accepte_et_toutes_les_erreurs_ensemble(tmp_path):
    chemin = tmp_path / "observatoire.toml"
    # Le Bloc-notes de Windows enregistre en UTF-8 avec BOM.
    chemin.write_bytes('\ufeff[centre]\nnom = "Centre"\ndepartements = ["95"]\n'.encode())
    assert lire_centre(chemin).departements == ("95",)
    chemin.write_text(
        '[centre]\nnom = "Centre"\ndepartements = ["975", "999", "2C", "95"]\nadherents = ["abc"]\n',
        encoding="utf-8",
    )
    with leve(ErreurParametre, "(?s)975.*999.*2C") as erreur:
        lire_centre(chemin)
    assert "abc" in str(erreur.value), "toutes les erreurs ensemble, adhérents compris"


def test_toml_illisible_dit_ligne_et_colonne_en_francais(tmp_path):
    chemin = tmp_path / "observatoire.toml"
    chemin.write_text('[centre]\nnom = "Centre\ndepartements = ["95"]\n', encoding="utf-8")
    with leve(ErreurParametre, r"ligne 2.*colonne") as erreur:
        lire_centre(chemin)
    assert "line" not in str(erreur.value) and "column" not in str(erreur.value)


# --------------------------------------------------------------------------- registre des lieux


def _registre(tmp_path: Path, lignes: list[str]) -> Path:
    chemin = tmp_path / "lieux.csv"
    chemin.write_text(
        "id_lieu;nom;adresse;code_commune;latitude;longitude;source\n" + "\n".join(lignes) + "\n",
        encoding="utf-8",
    )
    return chemin


def test_registre_coordonnees_inversees_nommees(tmp_path, referentiel):
    chemin = _registre(tmp_path, ["L1;Salle;1 rue;95018;2.24802;48.94718;saisie"])
    lu = lire_registre(chemin, referentiel)
    message = lisible(" ".join(p["message"] for p in lu.problemes))
    assert "L1" in message and "invers" in message, message
    assert all(p["ligne"] == 2 for p in lu.problemes)


def test_registre_metres_lambert93_nommes(tmp_path, referentiel):
    chemin = _registre(tmp_path, ["L2;Salle;1 rue;95018;6874000;645000;saisie"])
    lu = lire_registre(chemin, referentiel)
    message = lisible(" ".join(p["message"] for p in lu.problemes))
    assert "Lambert-93" in message and "L2" in message, message


def test_registre_mal_forme_diagnostic_francais(tmp_path, referentiel):
    chemin = _registre(tmp_path, ["L1;Salle;1 rue;95018;48.9;2.2;saisie;en trop;encore"])
    with leve(ErreurDonnees, r"(?s)lieux\.csv.*ligne 2 : 9 champs au lieu de 7") as erreur:
        lire_registre(chemin, referentiel)
    assert "ParserError" not in str(erreur.value) and "Expected" not in str(erreur.value)


def test_registre_inverse_ne_change_pas_les_qpv_atteints(tmp_path, referentiel):
    """L'exemple de l'issue : un lieu aux coordonnées inversées n'est jamais placé en silence."""
    donnees = tmp_path / "donnees"
    shutil.copytree(DEMO, donnees)
    registre = (donnees / "lieux.csv").read_text(encoding="utf-8").splitlines()
    entete = registre[0].split(";")
    lat, lon = entete.index("latitude"), entete.index("longitude")
    rang = next(i for i, ligne in enumerate(registre[1:], 1) if ligne.split(";")[lat])
    champs = registre[rang].split(";")
    champs[lat], champs[lon] = champs[lon], champs[lat]
    registre[rang] = ";".join(champs)
    (donnees / "lieux.csv").write_text("\n".join(registre) + "\n", encoding="utf-8")
    with leve(ErreurDonnees, r"lieux\.csv.*invers"):
        lire_activite(donnees / "2023", annee=2023, referentiel=referentiel)


# --------------------------------------------------------------------------- classeurs


def _classeur(chemin: Path, feuilles: dict[str, pd.DataFrame], cachees: tuple[str, ...] = ()) -> Path:
    with pd.ExcelWriter(chemin, engine="openpyxl") as classeur:
        for nom, table in feuilles.items():
            table.to_excel(classeur, sheet_name=nom, index=False)
            if nom in cachees:
                classeur.book[nom].sheet_state = "hidden"
    return chemin


def _tables_valides() -> dict[str, pd.DataFrame]:
    from io import StringIO

    return {t: pd.read_csv(StringIO(texte), sep=";", dtype=str) for t, texte in TABLES_VALIDES.items()}


def test_classeur_deux_feuilles_de_meme_nom_normalise(tmp_path, referentiel):
    tables = _tables_valides()
    feuilles = {**tables, "participations ": tables["participations"].head(1)}
    chemin = _classeur(tmp_path / "activite_2023.xlsx", feuilles, cachees=("participations ",))
    with leve(ErreurDonnees, r"«\s?participations\s?».*«\s?participations \s?»|deux feuilles"):
        lire_activite(chemin, annee=2023, referentiel=referentiel)


def test_classeur_formule_sans_valeur_nomme_la_cellule(tmp_path, referentiel):
    chemin = _classeur(tmp_path / "activite_2023.xlsx", _tables_valides())
    # Une formule écrite par un programme, sans valeur enregistrée (pas de <v>).
    with zipfile.ZipFile(chemin) as source:
        membres = {n: source.read(n) for n in source.namelist()}
    feuille = "xl/worksheets/sheet3.xml"  # participations, la troisième feuille
    texte, remplacees = re.subn(
        r'<c r="C2"[^>]*>.*?</c>', '<c r="C2"><f>1+1</f></c>', membres[feuille].decode()
    )
    assert remplacees == 1
    membres[feuille] = texte.encode()
    with zipfile.ZipFile(chemin, "w") as cible:
        for nom, contenu in membres.items():
            cible.writestr(nom, contenu)
    with leve(ErreurDonnees, r"formule sans valeur enregistrée.*C2"):
        lire_activite(chemin, annee=2023, referentiel=referentiel)


def test_classeur_trop_grand_refuse_avant_d_etre_lu(tmp_path, referentiel, monkeypatch):
    from observatoire.activite import sources

    monkeypatch.setattr(sources, "LIGNES_MAX_FEUILLE", 2)
    chemin = _classeur(tmp_path / "activite_2023.xlsx", _tables_valides())
    with leve(ErreurDonnees, r"au-delà de la limite|plus de 2 lignes"):
        lire_activite(chemin, annee=2023, referentiel=referentiel)
