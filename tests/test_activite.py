"""Lecture et validation des données d'activité : chaque cas d'erreur, en français, à sa ligne."""

from __future__ import annotations

import pandas as pd
import pytest

from observatoire import ErreurDonnees, lire_activite
from observatoire.cli import main

from .conftest import TABLES_VALIDES, lisible


def _remplacer(table: str, ancien: str, nouveau: str) -> dict[str, str]:
    texte = TABLES_VALIDES[table]
    assert ancien in texte
    return {table: texte.replace(ancien, nouveau)}


def _erreurs(dossier, referentiel, **options) -> pd.DataFrame:
    with pytest.raises(ErreurDonnees) as erreur:
        lire_activite(dossier, referentiel=referentiel, **options)
    problemes = erreur.value.problemes
    return problemes[problemes["gravite"] == "erreur"]


def test_jeu_valide_lu_et_type(ecrire_jeu, referentiel):
    activite = lire_activite(ecrire_jeu(), referentiel=referentiel, annee=2023)
    assert activite.nombre_erreurs == 0
    assert activite.participations["nombre"].sum() == 24
    assert activite.seances["date"].dt.month.tolist() == [3, 5, 6]
    assert activite.seances["latitude"].iloc[0] == pytest.approx(48.94718)
    assert activite.seances["distanciel"].tolist() == [False, False, True]
    assert activite.actions["axe"].tolist() == ["developpement_social", "parole_habitante"]
    assert activite.participations["public"].iloc[1] == "habitant"
    assert activite.demandes["code_commune"].map(type).eq(str).all()
    assert "objet" not in activite.demandes.columns


@pytest.mark.parametrize("encodage", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodages(ecrire_jeu, referentiel, encodage):
    activite = lire_activite(ecrire_jeu(encodage=encodage), referentiel=referentiel)
    assert activite.actions["intitule"].iloc[0] == "Rencontre santé"
    assert list(activite.actions.columns[:2]) == ["id_action", "intitule"]


def test_separateur_virgule_et_virgule_decimale_entre_guillemets(ecrire_jeu, referentiel):
    seances = (
        "id_seance,id_action,date,demi_journees,code_commune,lieu,latitude,longitude,distanciel\n"
        'S1,A1,14/03/2023,2,95018,Salle,"48,94718","2,24802",non\n'
        "S2,A2,2023-05-10,1,78361,,,,o\n"
        "S3,A1,2023-06-01,1,,Visio,,,1\n"
    )
    activite = lire_activite(ecrire_jeu(seances=seances), referentiel=referentiel)
    assert activite.seances["longitude"].iloc[0] == pytest.approx(2.24802)
    assert activite.seances["distanciel"].tolist() == [False, True, True]


def test_colonne_manquante_arrete_meme_en_mode_tolerant(ecrire_jeu, referentiel):
    participations = TABLES_VALIDES["participations"].replace(";nombre", ";effectif")
    dossier = ecrire_jeu(participations=participations)
    erreurs = _erreurs(dossier, referentiel, tolerant=True)
    ligne = erreurs.iloc[0]
    assert (ligne["fichier"], ligne["ligne"], ligne["colonne"]) == ("participations.csv", 1, "nombre")
    assert "colonne requise « nombre » absente" in lisible(ligne["message"])


def test_vocabulaire_inconnu_avec_suggestion(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("actions", ";sante;", ";santee;"))
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["ligne"], erreur["colonne"], erreur["valeur"]) == (2, "thematique", "santee")
    assert "hors du vocabulaire « thematique »" in lisible(erreur["message"])
    assert "Vouliez-vous dire « sante » ?" in lisible(erreur["correction"])


def test_identifiant_en_double(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("actions", "A2;Atelier", "A1;Atelier"))
    erreurs = _erreurs(dossier, referentiel)
    doublons = erreurs[erreurs["message"].str.contains("en double")]
    assert doublons["ligne"].tolist() == [2, 3]


def test_reference_pendante(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("participations", "S2;association", "S9;association"))
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["fichier"], erreur["ligne"], erreur["colonne"]) == ("participations.csv", 4, "id_seance")
    assert lisible(erreur["message"]) == "« S9 » absent de la table seances (colonne id_seance)."


@pytest.mark.parametrize(
    ("valeur", "message"),
    [("-3", "nombre négatif « -3 »"), ("2,5", "nombre non entier « 2,5 »"), ("trois", "nombre illisible")],
)
def test_effectifs_invalides(ecrire_jeu, referentiel, valeur, message):
    dossier = ecrire_jeu(**_remplacer("participations", "78361;;5", f"78361;;{valeur}"))
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["ligne"], erreur["colonne"], erreur["valeur"]) == (4, "nombre", valeur)
    assert message in lisible(erreur["message"])


@pytest.mark.parametrize(
    ("code", "message"),
    [("95999", "commune « 95999 » inconnue du COG 2025"), ("950180", "code commune INSEE invalide")],
)
def test_code_insee_invalide(ecrire_jeu, referentiel, code, message):
    dossier = ecrire_jeu(**_remplacer("participations", "S2;association;78361", f"S2;association;{code}"))
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["ligne"], erreur["colonne"]) == (4, "code_commune_origine")
    assert message in lisible(erreur["message"])


def test_code_insee_repare_et_commune_fusionnee(ecrire_jeu, referentiel):
    participations = TABLES_VALIDES["participations"].replace("S2;association;78361", "S2;association;1053")
    participations = participations.replace("S3;elu;92050", "S3;elu;78524")
    activite = lire_activite(ecrire_jeu(participations=participations), referentiel=referentiel)
    assert activite.participations["code_commune_origine"].tolist()[2:] == ["01053", "78158"]
    avertissements = activite.problemes.set_index("ligne")["message"]
    assert "zéro initial perdu" in avertissements[4]
    assert (
        "ancien code de Rocquencourt" in avertissements[5]
        and "Le Chesnay-Rocquencourt (78158)" in avertissements[5]
    )


def test_coordonnees_inversees_nommees(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("seances", "48,94718;2,24802", "2,24802;48,94718"))
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["fichier"], erreur["ligne"]) == ("seances.csv", 2)
    assert lisible(erreur["message"]) == "séance S1 : latitude et longitude inversées."


def test_coordonnees_hors_departement(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("seances", "48,94718;2,24802", "48,80;2,13"))  # Versailles (78)
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (
        lisible(erreur["message"])
        == "séance S1 : coordonnées hors du département de la commune du lieu (Val-d'Oise, 95)."
    )


def test_distanciel_sans_commune_accepte_presentiel_sans_commune_refuse(ecrire_jeu, referentiel):
    assert lire_activite(ecrire_jeu(), referentiel=referentiel).seances["distanciel"].iloc[2]
    dossier = ecrire_jeu(
        **_remplacer("seances", "S3;A1;2023-06-01;1;;Visio;;;oui", "S3;A1;2023-06-01;1;;Visio;;;non")
    )
    erreur = _erreurs(dossier, referentiel).iloc[0]
    assert (erreur["ligne"], erreur["colonne"]) == (4, "code_commune")
    assert "commune du lieu manquante" in erreur["message"]


def test_toutes_les_erreurs_en_une_fois(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(
        **_remplacer("actions", ";sante;", ";santee;"),
        **_remplacer("participations", "78361;;5", "78361;;-5"),
        **_remplacer("demandes", "D1;02/02/2023", "D1;31/02/2023"),
    )
    erreurs = _erreurs(dossier, referentiel)
    assert set(erreurs["fichier"]) == {"actions.csv", "participations.csv", "demandes.csv"}
    assert len(erreurs) == 3


def test_message_d_erreur_en_francais_avec_ligne_et_correction(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(**_remplacer("demandes", "D1;02/02/2023", "D1;31/02/2023"))
    with pytest.raises(ErreurDonnees) as erreur:
        lire_activite(dossier, referentiel=referentiel)
    texte = lisible(erreur.value)
    assert "demandes.csv, ligne 2, colonne « date » : Le 31 février 2023 n'existe pas." in texte
    assert "Corrigez le jour ou le mois de la date." in texte


def test_colonne_hors_contrat_ignoree_et_jamais_copiee(ecrire_jeu, referentiel):
    actions = TABLES_VALIDES["actions"].replace("format\n", "format;commentaire_interne\n", 1)
    actions = actions.replace("rencontre\n", "rencontre;secret\n").replace("atelier\n", "atelier;\n")
    activite = lire_activite(ecrire_jeu(actions=actions), referentiel=referentiel)
    assert "commentaire_interne" not in activite.actions.columns
    avertissement = activite.problemes.iloc[0]
    assert avertissement["gravite"] == "avertissement"
    assert "hors contrat, ignorée" in lisible(avertissement["message"])


def test_date_hors_annee_avertit(ecrire_jeu, referentiel):
    activite = lire_activite(ecrire_jeu(), referentiel=referentiel, annee=2022)
    assert activite.nombre_erreurs == 0
    assert activite.nombre_avertissements == 6


def test_mode_tolerant_ecarte_et_reconcilie(ecrire_jeu, referentiel):
    dossier = ecrire_jeu(
        **_remplacer("seances", "S2;A2;2023-05-10", "S2;A2;2023-13-10"),
        **_remplacer("participations", "S3;elu;92050;;4", "S3;elu;92050;;4\nS1;elu;;;7"),
    )
    activite = lire_activite(dossier, referentiel=referentiel, tolerant=True)
    bilan = activite.bilan.set_index("table")
    assert bilan.loc["seances", ["lignes_lues", "lignes_gardees", "lignes_ecartees"]].tolist() == [3, 2, 1]
    participations = bilan.loc["participations"]
    assert participations["lignes_lues"] == 5
    assert (
        participations["lignes_lues"] == participations["lignes_gardees"] + participations["lignes_ecartees"]
    )
    assert participations["participations_lues"] == 31
    assert participations["participations_gardees"] == 19
    assert participations["participations_ecartees"] == 12
    motifs = activite.rejets.set_index(["table", "ligne"])["motif"]
    assert motifs[("participations", 4)] == "séance écartée"
    assert "origine inconnue" in motifs[("participations", 6)]
    assert "il n'y a pas de mois 13" in lisible(motifs[("seances", 3)])


def test_classeur_xlsx(ecrire_jeu, referentiel, tmp_path):
    dossier = ecrire_jeu()
    classeur = tmp_path / "activite_2023.xlsx"
    with pd.ExcelWriter(classeur) as ecrivain:
        for table in TABLES_VALIDES:
            pd.read_csv(dossier / f"{table}.csv", sep=";", dtype=str, keep_default_na=False).to_excel(
                ecrivain, sheet_name=table, index=False
            )
        pd.DataFrame({"note": ["x"]}).to_excel(ecrivain, sheet_name="notes", index=False)
    activite = lire_activite(classeur, referentiel=referentiel)
    assert activite.participations["nombre"].sum() == 24
    assert activite.problemes["message"].map(lisible).str.contains("feuille « notes » hors contrat").any()
    assert activite.source.endswith("activite_2023.xlsx")


def test_classeur_erreur_nomme_la_feuille(ecrire_jeu, referentiel, tmp_path):
    dossier = ecrire_jeu(**_remplacer("participations", "78361;;5", "78361;;-5"))
    classeur = tmp_path / "activite.xlsx"
    with pd.ExcelWriter(classeur) as ecrivain:
        for table in TABLES_VALIDES:
            pd.read_csv(dossier / f"{table}.csv", sep=";", dtype=str, keep_default_na=False).to_excel(
                ecrivain, sheet_name=table, index=False
            )
    erreur = _erreurs(classeur, referentiel).iloc[0]
    assert (erreur["fichier"], erreur["ligne"]) == ("activite.xlsx, feuille participations", 4)


def test_commande_valider(ecrire_jeu, tmp_path, capsys, monkeypatch):
    sortie = tmp_path / "validation"  # créé s'il manque
    dossier = ecrire_jeu(**_remplacer("participations", "78361;;5", "78361;;-5"))
    assert main(["valider", str(dossier), "--sortie", str(sortie)]) == 1
    texte = lisible(capsys.readouterr().out)
    assert "1 erreur, 0 avertissement" in texte
    assert "Erreurs (1) :" in texte and "participations.csv, ligne 4, colonne « nombre »" in texte
    assert "nombre négatif" in (sortie / "problemes_validation.csv").read_text(encoding="utf-8-sig")
    assert main(["valider", str(ecrire_jeu()), "--sortie", str(sortie)]) == 0
    # Sans --sortie, rien n'est écrit dans le dossier courant.
    dossier = ecrire_jeu(**_remplacer("participations", "78361;;5", "78361;;-5"))
    monkeypatch.chdir(tmp_path / "jeu")
    avant = sorted(p.name for p in (tmp_path / "jeu").iterdir())
    assert main(["valider", str(dossier)]) == 1
    assert sorted(p.name for p in (tmp_path / "jeu").iterdir()) == avant


def test_commande_valider_tolerante_ecrit_les_rejets(ecrire_jeu, tmp_path, capsys):
    sortie = tmp_path / "validation"
    dossier = ecrire_jeu(**_remplacer("participations", "78361;;5", "78361;;-5"))
    assert main(["valider", str(dossier), "--tolerant", "--sortie", str(sortie)]) == 0
    texte = lisible(capsys.readouterr().out)
    assert (
        "Participations : 19 lues = 19 gardées + 0 écartées (1 ligne au nombre illisible, non comptée)"
        in texte
    )
    rejets = pd.read_csv(sortie / "rejets.csv", sep=";", encoding="utf-8-sig")
    assert rejets["ligne"].tolist() == [4]
    assert "nombre négatif" in rejets["motif"].iloc[0]
