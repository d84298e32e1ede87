"""Le jeu de démonstration reproduit les chiffres publiés (FIGURES.md) par les indicateurs."""

from __future__ import annotations

import pandas as pd
import pytest

from observatoire import calculer_indicateurs, lire_activite, situer_activite, valeur
from observatoire.activite.contrat import TABLES
from observatoire.demo.pole_ressources import generer_demo, registre_demo

from .conftest import DEMO


@pytest.fixture(scope="module")
def situees(referentiel):
    activite = lire_activite(DEMO / "2023", annee=2023, referentiel=referentiel)
    precedente = lire_activite(DEMO / "2022", annee=2022, referentiel=referentiel)
    return activite, situer_activite(activite, referentiel), situer_activite(precedente, referentiel)


@pytest.fixture(scope="module")
def synthese(situees, referentiel):
    _, annee, precedente = situees
    return calculer_indicateurs(annee, referentiel, "synthese", precedente)


def _pourcent(indicateurs, indicateur, modalite="total", chiffres=0):
    return round(100 * valeur(indicateurs, indicateur, modalite, colonne="part"), chiffres)


def _pourcent_libelle(indicateurs, indicateur, libelle, chiffres=0):
    lignes = indicateurs[(indicateurs["indicateur"] == indicateur) & (indicateurs["libelle"] == libelle)]
    assert len(lignes) == 1, libelle
    return round(100 * lignes["part"].iloc[0], chiffres)


def test_demo_valide_sans_erreur_ni_avertissement(situees):
    activite = situees[0]
    assert activite.demonstration
    assert activite.nombre_erreurs == 0 and activite.nombre_avertissements == 0


def test_activite_publiee(synthese):
    assert valeur(synthese, "actions") == 56
    assert valeur(synthese, "demi_journees") == 192
    assert valeur(synthese, "participations") == 4693
    origine = "participations_par_departement_origine"
    assert [_pourcent(synthese, origine, d) for d in ("95", "78", "92", "autre")] == [46, 25, 21, 8]
    assert 45 <= _pourcent(synthese, "participations_par_public", "professionnel_collectivite") <= 55


def test_evolution_sur_2022(synthese):
    assert valeur(synthese, "annee_precedente_participations") == 2844
    assert _pourcent(synthese, "evolution_participations") == 65
    assert valeur(synthese, "annee_precedente_demandes") == 116
    assert _pourcent(synthese, "annee_precedente_demandes_par_type_demandeur", "institution") == 10


def test_demandes_publiees(synthese):
    assert valeur(synthese, "demandes") == 112
    assert _pourcent(synthese, "demandes_hors_territoire") == 26
    assert _pourcent(synthese, "demandes_par_type_demandeur", "ville") == 45
    assert _pourcent(synthese, "demandes_par_type_demandeur", "institution") == 19
    assert _pourcent(synthese, "demandes_par_type_demandeur", "association") == 13
    assert _pourcent(synthese, "demandes_par_thematique", "ingenierie_territoriale") == 19
    assert _pourcent(synthese, "demandes_par_thematique", "egalite") == 19
    assert _pourcent(synthese, "demandes_par_thematique", "prevention_jeunesse") == 7
    interco = "demandes_par_intercommunalite"
    assert _pourcent_libelle(synthese, interco, "CA de Cergy-Pontoise", 1) == 8.1
    assert _pourcent(synthese, interco, "249500109", 1) == 8.1  # SIREN de Cergy-Pontoise
    assert _pourcent_libelle(synthese, interco, "CA Roissy Pays de France") == 10
    for nom in (
        "CU Grand Paris Seine et Oise",
        "Vallée Sud-Grand Paris",
        "CA Val Parisis",
        "CA Plaine Vallée",
    ):
        assert 4 <= _pourcent_libelle(synthese, interco, nom, 1) <= 6
    # Ces quatre sont ensuite les plus représentés (après Cergy-Pontoise et Roissy).
    lignes = synthese[
        (synthese["indicateur"] == interco) & ~synthese["modalite"].isin(["hors_territoire", "non_renseigne"])
    ]
    parts = lignes.set_index("libelle")["part"]
    assert parts.sort_values(ascending=False).index[2:6].sort_values().tolist() == sorted(
        ["CU Grand Paris Seine et Oise", "Vallée Sud-Grand Paris", "CA Val Parisis", "CA Plaine Vallée"]
    )


@pytest.mark.parametrize(
    ("debut_intitule", "participations", "demi_journees"),
    [
        ("Accompagnement des CTG – réseau de la CAF du Val d'Oise", 268, None),
        ("Accompagnement des CTG – réseau de la CAF des Yvelines", 61, None),
        ("Groupe de travail entre pairs", 30, None),
        ("Temps départemental CEQ 2030 Hauts-de-Seine", 73, None),
        ("Formation « Animation participative", 78, 12),
        ("Groupe d'échanges des coordonnateur·rices ASV/CLS/CLSM", 100, 8),
        ("Rencontre PRS et contrats de ville", 40, None),
        ("Engagement et parcours des jeunes", 240, 4),
        ("Rénovation urbaine", 45, None),
        ("Séminaire régional transition écologique", 120, None),
        ("CNR parentalité", 104, None),
        ("Atelier « Habiter sa maison, son quartier »", 20, None),
    ],
)
def test_actions_nommees(situees, debut_intitule, participations, demi_journees):
    annee = situees[1]
    lignes = annee.participations[annee.participations["intitule"].str.startswith(debut_intitule)]
    assert lignes["nombre"].sum() == participations
    if demi_journees:
        seances = annee.seances[annee.seances["intitule"].str.startswith(debut_intitule)]
        assert seances["demi_journees"].sum() == demi_journees


def test_actions_nommees_lieux_et_publics(situees):
    annee = situees[1]
    cnr = annee.participations[annee.participations["intitule"].str.startswith("CNR parentalité")]
    assert cnr.loc[cnr["public"] == "habitant", "nombre"].sum() == 53
    seances = annee.seances.set_index("intitule")
    assert set(seances.loc[seances.index.str.startswith("CNR"), "nom_com"]) == {"Chanteloup-les-Vignes"}
    assert set(seances.loc[seances.index.str.startswith("Atelier « Habiter"), "nom_com"]) == {"Sarcelles"}
    sdsf = annee.seances[annee.seances["intitule"].str.startswith("Schéma départemental")]
    assert len(sdsf) == 12 and set(sdsf["insee_dep"]) == {"95"}
    ceq = annee.seances[annee.seances["intitule"].str.startswith("Appui à l'élaboration du contrat de ville")]
    assert ceq["demi_journees"].sum() > 50 and ceq["id_action"].nunique() == 11
    cycle = seances.loc[seances.index.str.startswith("Cycle « Quartiers populaires"), "nom_com"]
    assert list(cycle) == ["Nanterre", "Argenteuil"]


def test_lieux_varies(situees):
    situation = situees[1].seances["situation_qpv"].value_counts()
    for cas in ("dans_qpv", "proximite_qpv", "hors_qpv", "non_situee", "distanciel"):
        assert situation.get(cas, 0) > 0
    mois = situees[1].seances["date"].dt.month.nunique()
    assert mois >= 10


def test_departements_plus_autre_egalent_la_synthese(situees, referentiel, synthese):
    annee, precedente = situees[1], situees[2]
    somme = sum(
        valeur(calculer_indicateurs(annee, referentiel, d, precedente), "participations")
        for d in ("78", "92", "95")
    )
    assert somme + valeur(synthese, "participations_par_departement_origine", "autre") == 4693
    demandes = sum(
        valeur(calculer_indicateurs(annee, referentiel, d), "demandes") for d in ("78", "92", "95")
    )
    assert (
        demandes
        + valeur(synthese, "demandes_par_origine", "hors_territoire")
        + valeur(synthese, "demandes_par_origine", "inconnue")
        == 112
    )


def test_classeur_et_csv_identiques(referentiel):
    csv = lire_activite(DEMO / "2023", referentiel=referentiel)
    xlsx = lire_activite(DEMO / "activite_2023.xlsx", referentiel=referentiel)
    for table in TABLES:
        pd.testing.assert_frame_equal(
            getattr(csv, table).drop(columns="ligne_source"),
            getattr(xlsx, table).drop(columns="ligne_source"),
        )


@pytest.mark.parametrize("annee", [2022, 2023])
def test_demo_deterministe_et_a_jour(referentiel, annee):
    registre, par_annee = registre_demo({a: generer_demo(a, referentiel) for a in (2022, 2023)})
    tables = par_annee[annee]
    lieux = pd.read_csv(DEMO / "lieux.csv", sep=";", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(registre.astype(str), lieux, check_dtype=False)
    for nom, table in tables.items():
        versionnee = pd.read_csv(DEMO / str(annee) / f"{nom}.csv", sep=";", dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(table.astype(str), versionnee, check_dtype=False)
