"""Entrées abîmées ou hostiles : une erreur française avec sa ligne, jamais une trace, jamais un
chiffre faux publié. Chaque cas de l'issue a son test ; hypothesis cherche ceux que personne n'a
listés (profil « ci » : moins d'une minute)."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observatoire import ErreurDonnees, lire_activite

from .conftest import DEMO, TABLES_VALIDES, lisible

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("ci")


def _lire(ecrire_jeu, referentiel, encodage="utf-8", **tables):
    return lire_activite(ecrire_jeu(encodage, **tables), annee=2023, referentiel=referentiel)


def _erreurs(excinfo) -> pd.DataFrame:
    problemes = excinfo.value.problemes
    if problemes is None:
        return pd.DataFrame()
    erreurs = problemes[problemes["gravite"] == "erreur"]
    return erreurs.assign(
        message=erreurs["message"].map(lisible), correction=erreurs["correction"].map(lisible)
    )


def _leve(excinfo, motif: str) -> None:
    assert re.search(motif, lisible(excinfo.value)), lisible(excinfo.value)


def _remplacer(table, ancien, nouveau):
    texte = TABLES_VALIDES[table]
    assert ancien in texte
    return {table: texte.replace(ancien, nouveau, 1)}


# --------------------------------------------------------------------------- encodage
def test_octet_invalide_dans_un_fichier_utf8(ecrire_jeu, referentiel):
    dossier = ecrire_jeu()
    octets = (dossier / "actions.csv").read_bytes().replace(b"Atelier", b"Atel\xe9ier", 1)
    (dossier / "actions.csv").write_bytes(octets)
    with pytest.raises(ErreurDonnees) as leve:
        lire_activite(dossier, referentiel=referentiel)
    _leve(leve, r"actions.csv, ligne 3, octet \d+ \(0xE9\).*UTF-8")


def test_cp1252_entier_accepte(ecrire_jeu, referentiel):
    activite = _lire(ecrire_jeu, referentiel, "cp1252")
    assert "Écouter" not in "".join(activite.actions["intitule"])  # le vocabulaire est normalisé
    assert activite.actions["intitule"].tolist() == ["Rencontre santé", "Atelier jeunesse"]


def test_octet_indefini_en_cp1252(ecrire_jeu, referentiel):
    dossier = ecrire_jeu("cp1252")
    octets = (dossier / "demandes.csv").read_bytes() + b"D4;05/05/2023;ville;;;95;sante;\x81\n"
    (dossier / "demandes.csv").write_bytes(octets)
    with pytest.raises(ErreurDonnees) as leve:
        lire_activite(dossier, referentiel=referentiel)
    _leve(leve, r"demandes.csv, ligne 5, octet \d+ \(0x81\).*cp1252")


# --------------------------------------------------------------------------- structure
def test_fichier_vide(ecrire_jeu, referentiel):
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, seances="")
    _leve(leve, "seances.csv : fichier vide")


def test_table_sans_ligne(ecrire_jeu, referentiel):
    entete = TABLES_VALIDES["participations"].split("\n", 1)[0] + "\n"
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, participations=entete)
    _leve(leve, "Table participations sans aucune ligne de données")


def test_champ_en_trop_sur_la_premiere_ligne(ecrire_jeu, referentiel, capsys):
    tables = _remplacer("demandes", "question confidentielle\n", "question confidentielle;en trop\n")
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **tables)
    erreurs = _erreurs(excinfo)
    assert erreurs[["fichier", "ligne"]].values.tolist() == [["demandes.csv", 2]]
    assert "9 champs au lieu de 8" in erreurs["message"].iloc[0]
    assert "confidentielle" not in str(excinfo.value) and "confidentielle" not in erreurs.to_string()


def test_champ_en_trop_plus_bas_et_champs_manquants(ecrire_jeu, referentiel):
    tables = _remplacer("participations", "S2;association;78361;;5", "S2;association;78361;;5;9")
    tables |= _remplacer("actions", "A2;Atelier jeunesse;Écouter", "A2;Atelier jeunesse")
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **tables)
    erreurs = _erreurs(excinfo)
    lignes = set(map(tuple, erreurs[["fichier", "ligne"]].astype(str).values.tolist()))
    assert ("participations.csv", "4") in lignes and ("actions.csv", "3") in lignes
    assert "Error tokenizing" not in str(excinfo.value)


def test_separateurs_de_fin_de_ligne_toleres(ecrire_jeu, referentiel):
    texte = TABLES_VALIDES["actions"].replace("\n", ";;\n")
    activite = _lire(ecrire_jeu, referentiel, actions=texte)
    assert len(activite.actions) == 2 and activite.nombre_erreurs == 0


def test_ligne_de_titre_au_dessus_de_l_en_tete(ecrire_jeu, referentiel):
    texte = "Export du 03/01/2024;;;;;;;;\n;;;;;;;;\n" + TABLES_VALIDES["seances"]
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, seances=texte)
    _leve(leve, "l'en-tête semble être en ligne 3")


def test_noms_de_colonnes_sans_casse_ni_accents(ecrire_jeu, referentiel):
    texte = TABLES_VALIDES["participations"].replace(
        "id_seance;public;code_commune_origine", " ID_Seance ;Public;Code commune origine"
    )
    activite = _lire(ecrire_jeu, referentiel, participations=texte)
    assert activite.nombre_erreurs == 0 and activite.nombre_avertissements == 0
    assert activite.participations["nombre"].sum() == 24


def test_colonne_en_double(ecrire_jeu, referentiel):
    texte = (
        TABLES_VALIDES["actions"].replace("format\n", "format;Axe\n").replace("rencontre\n", "rencontre;x\n")
    )
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, actions=texte)
    _leve(leve, "colonne en double : axe")


def test_guillemets_et_retour_a_la_ligne_dans_un_champ(ecrire_jeu, referentiel):
    texte = TABLES_VALIDES["actions"].replace("Rencontre santé", '"Rencontre\nsanté ; ville"')
    texte += "A3;Troisième;xx;sante;rencontre\n"
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, actions=texte)
    erreur = _erreurs(excinfo).query("table == 'actions'")
    assert erreur["ligne"].tolist() == [5], (
        "la ligne physique vue dans un éditeur, retour dans un champ compté"
    )


# --------------------------------------------------------------------------- valeurs
@pytest.mark.parametrize(
    ("ancien", "nouveau", "message"),
    [
        ("78361;;5", "78361;;9223372036854775807", "au-delà du maximum plausible"),
        ("78361;;5", "78361;;inf", "au-delà du maximum plausible"),
        ("78361;;5", "78361;;nan", "nombre illisible"),
        ("78361;;5", "78361;;1e20", "au-delà du maximum plausible"),
    ],
)
def test_nombres_hors_bornes(ecrire_jeu, referentiel, ancien, nouveau, message):
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **_remplacer("participations", ancien, nouveau))
    assert message in _erreurs(excinfo)["message"].iloc[0]


def test_demi_journees_hors_bornes(ecrire_jeu, referentiel):
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, **_remplacer("seances", "14/03/2023;2;", "14/03/2023;1e20;"))
    _leve(leve, "au-delà du maximum plausible")


@pytest.mark.parametrize("date", ["1600-01-05", "9999-12-31", "05/01/1600"])
def test_dates_invraisemblables(ecrire_jeu, referentiel, date):
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **_remplacer("seances", "2023-05-10", date))
    assert _erreurs(excinfo)["message"].str.contains("date").any()


def test_date_a_plus_d_un_an_erreur_a_un_an_avertissement(ecrire_jeu, referentiel):
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, **_remplacer("seances", "2023-05-10", "2021-05-10"))
    _leve(leve, "à plus d'un an de l'année 2023")
    activite = _lire(ecrire_jeu, referentiel, **_remplacer("seances", "2023-05-10", "2022-12-20"))
    assert activite.nombre_erreurs == 0 and activite.nombre_avertissements == 1


def test_numero_de_serie_excel(ecrire_jeu, referentiel):
    activite = _lire(ecrire_jeu, referentiel, **_remplacer("seances", "2023-05-10", "45056"))
    assert activite.seances["date"].iloc[1] == pd.Timestamp("2023-05-10")
    assert "numéro de série Excel, lue 10 mai 2023" in lisible(activite.problemes["message"].iloc[0])
    with pytest.raises(ErreurDonnees) as leve:
        _lire(ecrire_jeu, referentiel, **_remplacer("seances", "2023-05-10", "999999"))
    _leve(leve, "numéro de série de date Excel")


@pytest.mark.parametrize("code", ["99999", "96001", "00123"])  # 20001 est un ancien code (Afa, 2A001)
@pytest.mark.parametrize("table", ["seances", "seances_distanciel", "participations"])
def test_code_commune_de_departement_inexistant(ecrire_jeu, referentiel, code, table):
    if table == "seances":
        tables = _remplacer("seances", "14/03/2023;2;95018", f"14/03/2023;2;{code}")
    elif table == "seances_distanciel":
        tables = _remplacer("seances", "2023-06-01;1;;Visio", f"2023-06-01;1;{code};Visio")
    else:
        tables = _remplacer("participations", "S3;elu;92050", f"S3;elu;{code}")
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **tables)
    assert _erreurs(excinfo)["message"].str.contains("aucun département n'a ce code").any()


def test_code_d_un_autre_departement_reste_valide(ecrire_jeu, referentiel):
    activite = _lire(ecrire_jeu, referentiel, **_remplacer("participations", "S3;elu;92050", "S3;elu;75056"))
    assert activite.nombre_erreurs == 0


def test_lieu_loin_de_sa_commune(ecrire_jeu, referentiel):
    # Salle Jean Vilar (Argenteuil, 95018) déclarée à Bezons (95063), commune voisine.
    activite = _lire(
        ecrire_jeu, referentiel, **_remplacer("seances", "14/03/2023;2;95018", "14/03/2023;2;95063")
    )
    avertissement = lisible(activite.problemes.query("gravite == 'avertissement'")["message"].iloc[0])
    assert "séance S1 : lieu à" in avertissement and "hors de sa commune 95063" in avertissement


@pytest.mark.parametrize("valeur", ["#N/A", "#VALEUR!", "#REF!", "#DIV/0!", "#NOM?"])
def test_valeurs_d_erreur_excel_en_csv(ecrire_jeu, referentiel, valeur):
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **_remplacer("actions", "Rencontre santé", valeur))
    assert f"valeur d'erreur Excel « {valeur} »" in _erreurs(excinfo)["message"].iloc[0]


def test_valeurs_d_erreur_excel_dans_un_classeur(tmp_path, referentiel):
    from openpyxl import Workbook

    classeur = Workbook()
    classeur.remove(classeur.active)
    for table, texte in TABLES_VALIDES.items():
        feuille = classeur.create_sheet(table)
        for ligne in texte.strip().split("\n"):
            feuille.append(ligne.split(";"))
    classeur["participations"]["E2"] = "=1/0"  # Excel enregistre #DIV/0! comme valeur calculée
    classeur["participations"]["E2"].value = "#DIV/0!"
    classeur["participations"]["E2"].data_type = "e"
    chemin = tmp_path / "activite_2023.xlsx"
    classeur.save(chemin)
    with pytest.raises(ErreurDonnees) as excinfo:
        lire_activite(chemin, annee=2023, referentiel=referentiel)
    erreurs = _erreurs(excinfo)
    assert erreurs.query("ligne == 2 and colonne == 'nombre'")["message"].str.contains("#DIV/0!").any()


# --------------------------------------------------------------------------- ligne de commande
def _cli(*arguments, **options):
    return subprocess.run(
        [sys.executable, "-m", "observatoire", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        **options,
    )


@pytest.mark.parametrize(
    ("arguments", "attendu"),
    [
        (["rapports", "--distance", "nan"], "distance de proximité hors limites"),
        (["rapports", "--distance", "inf"], "distance de proximité hors limites"),
        (["rapports", "--distance", "-5"], "distance de proximité hors limites"),
        (["rapports", "--annee", "abc"], "année illisible"),
        (["rapports", "--jobs", "0"], "--jobs doit être un entier"),
        (["rapports", "--departements", "999"], "Code de département invalide : « 999 »"),
        (["rapports", "--departements", "13"], "hors du territoire du centre : 13"),
        (["valider", "data/demo", "--annee", "abc"], "année illisible"),
        (["inconnue"], "choix invalide"),
        (["rapports", "--nimporte"], "arguments inconnus"),
    ],
)
def test_cli_parametres_en_francais_code_2(arguments, attendu, tmp_path):
    if arguments[0] == "rapports":  # jamais reports/ du projet, où le README publie en même temps
        arguments = [*arguments, "--sortie", tmp_path / "reports"]
    resultat = _cli(*arguments)
    assert resultat.returncode == 2, resultat.stderr
    assert attendu in lisible(resultat.stderr)
    assert "Traceback" not in resultat.stderr + resultat.stdout


def test_cli_valider_sortie_dans_un_dossier_manquant_ou_sur_un_fichier(ecrire_jeu, tmp_path):
    dossier = ecrire_jeu()
    resultat = _cli("valider", dossier, "--sortie", tmp_path / "nouveau" / "dossier")
    assert (
        resultat.returncode == 0 and (tmp_path / "nouveau" / "dossier" / "problemes_validation.csv").is_file()
    )
    fichier = tmp_path / "un_fichier.csv"
    fichier.write_text("x")
    resultat = _cli("valider", dossier, "--sortie", fichier)
    assert resultat.returncode == 2 and "--sortie doit être un dossier" in lisible(resultat.stderr)
    assert "Traceback" not in resultat.stderr


def test_cli_valider_donnees_comme_rapports(tmp_path):
    resultat = _cli("valider", "--donnees", DEMO, "--annee", "2023")
    assert resultat.returncode == 0, resultat.stderr
    sortie = lisible(resultat.stdout)
    assert "le dossier de CSV est lu" in sortie and "0 erreur, 0 avertissement" in sortie


def test_cli_donnees_cassees_sans_trace(ecrire_jeu):
    dossier = ecrire_jeu(seances="")
    resultat = _cli("valider", dossier)
    assert resultat.returncode == 1 and "fichier vide" in lisible(resultat.stderr)
    assert "Traceback" not in resultat.stderr + resultat.stdout


def test_cli_premiers_problemes_puis_le_compte(ecrire_jeu):
    lignes = "".join(f"S1;inconnu{i};95018;95;1\n" for i in range(30))
    dossier = ecrire_jeu(participations=TABLES_VALIDES["participations"] + lignes)
    resultat = _cli("valider", dossier)
    assert resultat.returncode == 1
    sortie = lisible(resultat.stdout)
    assert "Erreurs (30) :" in sortie and "… et 10 autres : la liste complète" in sortie
    assert "Avertissements" not in resultat.stdout


# --------------------------------------------------------------------------- hypothesis
_PUBLICS = ["elu", "association", "habitant", "professionnel_collectivite", "Élu·es", "ASSOCIATIONS"]
_COMMUNES = ["95018", "78361", "92050", "95127", "78646", "75056", "93066", ""]


@st.composite
def _jeux_valides(draw):
    n_seances = draw(st.integers(1, 6))
    seances = ["id_seance;id_action;date;demi_journees;code_commune;lieu;latitude;longitude;distanciel"]
    for i in range(n_seances):
        jour = draw(st.integers(1, 28))
        mois = draw(st.integers(1, 12))
        date = draw(st.sampled_from([f"{jour:02d}/{mois:02d}/2023", f"2023-{mois:02d}-{jour:02d}"]))
        distanciel = draw(st.booleans())
        commune = "" if distanciel else draw(st.sampled_from(["95018", "78361", "92050"]))
        seances.append(
            f"S{i};A1;{date};{draw(st.integers(0, 20))};{commune};;;;{'oui' if distanciel else 'non'}"
        )
    participations = ["id_seance;public;code_commune_origine;departement_origine;nombre"]
    total = 0
    for _ in range(draw(st.integers(1, 12))):
        commune = draw(st.sampled_from(_COMMUNES))
        departement = "" if commune else draw(st.sampled_from(["95", "78", "autre", "2A"]))
        nombre = draw(st.integers(0, 100_000))
        total += nombre
        seance = f"S{draw(st.integers(0, n_seances - 1))}"
        participations.append(f"{seance};{draw(st.sampled_from(_PUBLICS))};{commune};{departement};{nombre}")
    separateur = draw(st.sampled_from([";", ","]))
    tables = {
        "actions": TABLES_VALIDES["actions"].split("\n", 1)[0] + "\nA1;Action;sante;sante;rencontre\n",
        "seances": "\n".join(seances) + "\n",
        "participations": "\n".join(participations) + "\n",
        "demandes": TABLES_VALIDES["demandes"],
    }
    tables["actions"] = tables["actions"].replace(
        "A1;Action;sante;sante", "A1;Action;developpement_social;sante"
    )
    if separateur == ",":
        tables = {t: texte.replace(";", ",") for t, texte in tables.items()}
    return tables, total, draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))


@given(jeu=_jeux_valides())
def test_jeux_valides_tout_garde_et_reconcilie(jeu, ecrire_jeu, referentiel):
    tables, total, encodage = jeu
    activite = _lire(ecrire_jeu, referentiel, encodage, **tables)
    assert activite.nombre_erreurs == 0
    assert activite.participations["nombre"].sum() == total
    bilan = activite.bilan.set_index("table")
    assert (bilan["lignes_lues"] == bilan["lignes_gardees"]).all()
    assert bilan.loc["participations", "participations_lues"] == total


_CORRUPTIONS = ["cellule", "champ_en_trop", "champ_manquant", "octet"]


@given(
    jeu=_jeux_valides(),
    corruption=st.sampled_from(_CORRUPTIONS),
    rang=st.integers(0, 50),
    valeur=st.sampled_from(["-3", "abc", "#N/A", "1,5", "99999", "", "1e99"]),
)
def test_une_corruption_est_signalee_a_sa_ligne(jeu, corruption, rang, valeur, ecrire_jeu, referentiel):
    tables, _, encodage = jeu
    lignes = tables["participations"].rstrip("\n").split("\n")
    separateur = ";" if ";" in lignes[0] else ","
    cible = 1 + rang % (len(lignes) - 1)
    champs = lignes[cible].split(separateur)
    if corruption == "cellule":
        champs[4] = valeur  # nombre
    elif corruption == "champ_en_trop":
        champs.append("x")
    elif corruption == "champ_manquant":
        champs = champs[:-1]
    lignes[cible] = separateur.join(champs)
    tables = {**tables, "participations": "\n".join(lignes) + "\n"}
    dossier = ecrire_jeu(encodage, **tables)
    if corruption == "octet":
        chemin = dossier / "participations.csv"
        octets = chemin.read_bytes().split(b"\n")
        octets[cible] += "é".encode() + b"\xff"
        chemin.write_bytes(b"\n".join(octets))
    try:
        lire_activite(dossier, annee=2023, referentiel=referentiel)
    except ErreurDonnees as erreur:
        if corruption == "octet":
            assert "octet" in str(erreur)
            if encodage != "cp1252":  # en cp1252, le premier octet invalide en UTF-8 peut être plus haut
                assert f"ligne {cible + 1}," in str(erreur)
            return
        erreurs = erreur.problemes[erreur.problemes["gravite"] == "erreur"]
        assert (erreurs["ligne"] == cible + 1).any(), erreurs.to_string()
        return
    # Seule passe une corruption qui laisse une valeur valide.
    assert corruption == "cellule" and valeur == "99999"


@settings(max_examples=40)
@given(octets=st.binary(max_size=400), table=st.sampled_from(list(TABLES_VALIDES)))
def test_octets_aleatoires_jamais_autre_chose_qu_erreur_donnees(octets, table, ecrire_jeu, referentiel):
    dossier = ecrire_jeu()
    (dossier / f"{table}.csv").write_bytes(octets)
    with contextlib.suppress(ErreurDonnees):
        lire_activite(dossier, annee=2023, referentiel=referentiel)


def test_objet_jamais_repris_ni_valeur_longue(ecrire_jeu, referentiel):
    longue = "x" * 500
    tables = _remplacer("demandes", "D1;02/02/2023;ville", f"D1;02/02/2023;{longue}")
    with pytest.raises(ErreurDonnees) as excinfo:
        _lire(ecrire_jeu, referentiel, **tables)
    assert longue not in str(excinfo.value) and "x" * 79 + "…" in str(excinfo.value)
    assert "question confidentielle" not in _erreurs(excinfo).to_string()
    tampon = io.StringIO()
    excinfo.value.problemes.to_csv(tampon)
    assert longue not in tampon.getvalue()
