"""Oracle indépendant : chaque indicateur publié recalculé autrement, depuis les fichiers bruts.

Ce module n'importe rien de ``observatoire`` pour calculer : il lit les CSV avec pandas, le
référentiel installé avec geopandas, situe les séances par ``geopandas.sjoin`` (prédicats
``intersects`` et ``dwithin``) et ``sjoin_nearest``, et agrège par ``groupby``. Le paquet n'est
appelé que pour produire ce qu'on compare. Deux jeux : la démonstration (2023 et 2022) et un
jeu aléatoire à graine fixe construit pour tomber sur les cas limites (séances dans un QPV et à
moins de D mètres d'un voisin, sur les sommets des périmètres, de 0 à 400 m des QPV, QPV
voisins les uns des autres, origines hors territoire, demandes par SIREN).
"""

from __future__ import annotations

import json
import re
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

RACINE = Path(__file__).resolve().parents[1]
REFERENCE = RACINE / "data" / "reference"
MIROIR_FRANCE = RACINE.parent / "shared" / "reference" / "france"
DEMO = RACINE / "data" / "demo"
TERRITOIRE = ("78", "92", "95")
D = 300.0
LISTES = {"qpv_non_atteints", "communes_pv_non_atteintes"}


# --------------------------------------------------------------------------- référentiel brut
def charger_brut(reference: Path, territoire: tuple[str, ...]) -> dict:
    """Le référentiel installé, lu avec geopandas et pandas seulement (tables nationales comprises)."""
    qpv = gpd.read_file(reference / "qpv_2024.geojson").to_crs(2154)
    communes = gpd.read_file(reference / "communes.geojson").to_crs(2154)
    for table in (qpv, communes):
        for colonne in table.columns:
            if colonne.startswith(("insee_", "siren_", "code_")):
                table[colonne] = table[colonne].fillna("").astype(str)
    communes["n_qpv_2024"] = communes["n_qpv_2024"].fillna(0).astype(int)
    france = pd.read_csv(reference / "communes_france.csv", dtype=str, keep_default_na=False)
    anciennes = pd.read_csv(reference / "communes_anciennes_france.csv", dtype=str, keep_default_na=False)
    anciennes = anciennes[
        ~anciennes["code_ancien"].isin(france["insee_com"]) & ~anciennes["insee_com"].str.contains(",")
    ]
    departements = pd.DataFrame(
        gpd.read_file(reference / "departements_france.geojson").drop(columns="geometry")
    )
    # Population et statut des QPV : les fichiers bruts du miroir, pas ceux installés.
    contexte = pd.read_csv(MIROIR_FRANCE / "qpv_2024_contexte.csv", dtype=str, keep_default_na=False)
    contexte = contexte[contexte["dans_qpv_2024_france"] == "True"]
    correspondance = pd.read_csv(
        MIROIR_FRANCE / "qpv_2024_2015_correspondance.csv", dtype=str, keep_default_na=False
    )
    return {
        "population": pd.to_numeric(contexte.set_index("code_qp")["population_municipale"]),
        "statut": correspondance.set_index("code_qp")["statut"],
        "communes_pv_france": set(france.loc[pd.to_numeric(france["n_qpv_2024"]) > 0, "insee_com"]),
        "qpv": qpv,
        "communes": communes,
        "france": france,
        "actuel": dict(zip(anciennes["code_ancien"], anciennes["insee_com"], strict=True)),
        "region": dict(zip(departements["insee_dep"], departements["insee_reg"], strict=True)),
        "territoire": territoire,
    }


@pytest.fixture(scope="module")
def brut():
    if not (REFERENCE / "manifest.json").exists():
        pytest.skip("référentiel non installé (make referentiel)")
    return charger_brut(REFERENCE, TERRITOIRE)


def _lire(dossier: Path) -> dict[str, pd.DataFrame]:
    tables = {
        nom: pd.read_csv(dossier / f"{nom}.csv", sep=";", dtype=str, keep_default_na=False)
        for nom in ("actions", "seances", "participations", "demandes")
    }
    seances = tables["seances"]
    iso = seances["date"].str.match(r"^\d{4}-")
    seances["date"] = pd.to_datetime(seances["date"].where(iso), format="%Y-%m-%d").fillna(
        pd.to_datetime(seances["date"].where(~iso), format="%d/%m/%Y")
    )
    seances["demi_journees"] = pd.to_numeric(seances["demi_journees"].replace("", "1")).astype(int)
    for colonne in ("latitude", "longitude"):
        seances[colonne] = pd.to_numeric(seances[colonne].str.replace(",", "."), errors="coerce")
    seances["placement"] = np.where(seances["latitude"].notna(), "coordonnees", "non_placee")
    registre = dossier.parent / "lieux.csv"
    if registre.is_file() and "id_lieu" in seances.columns:
        # Registre des lieux : il place les séances sans coordonnées par leur id_lieu, sauf un lieu
        # à vérifier ou au centre de sa commune.
        lieux = pd.read_csv(registre, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lieux = lieux[
            (lieux["latitude"] != "") & (lieux["statut"] != "a_verifier") & (lieux["source"] != "centroide")
        ]
        lieux = lieux.set_index("id_lieu")
        sans = seances["latitude"].isna()
        for colonne in ("latitude", "longitude"):
            seances.loc[sans, colonne] = pd.to_numeric(
                seances.loc[sans, "id_lieu"].map(lieux[colonne]), errors="coerce"
            )
        type_lieu = seances["id_lieu"].map(lieux["type"]).replace("", "coordonnees")
        seances.loc[sans & seances["latitude"].notna(), "placement"] = type_lieu[
            sans & seances["latitude"].notna()
        ]
    seances["distanciel"] = seances["distanciel"].str.lower().isin(["oui", "o", "1", "vrai", "x"])
    tables["participations"]["nombre"] = tables["participations"]["nombre"].astype(int)
    return tables


def _dep(code: pd.Series) -> pd.Series:
    return code.where(~code.str.startswith("97"), code.str[:3]).where(code.str.startswith("97"), code.str[:2])


# --------------------------------------------------------------------------- l'oracle
def _codes_actuels(t: dict, brut) -> dict:
    """Anciens codes (fusions, arrondissements municipaux…) remplacés par la commune actuelle."""
    for table, colonne in (
        ("seances", "code_commune"),
        ("participations", "code_commune_origine"),
        ("demandes", "code_commune"),
    ):
        t[table][colonne] = t[table][colonne].map(lambda c: brut["actuel"].get(c, c))
    return t


def oracle(
    dossier: Path, brut, precedent: Path | None = None, adherents: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Toutes les lignes d'indicateurs de tous les territoires, recalculées sans le paquet."""
    TERRITOIRE = brut["territoire"]  # noqa: N806 - le territoire du jeu lu
    t = _codes_actuels(_lire(dossier), brut)
    communes, qpv = brut["communes"], brut["qpv"]
    attributs = pd.DataFrame(communes.drop(columns="geometry"))
    attributs["interco_code"] = attributs["code_ept"].where(
        attributs["code_ept"] != "", attributs["siren_epci"]
    )

    seances = t["seances"].merge(t["actions"][["id_action", "axe", "thematique"]], on="id_action")
    seances = seances.merge(
        attributs[["insee_com", "insee_dep"]], left_on="code_commune", right_on="insee_com", how="left"
    )
    seances["insee_dep"] = seances["insee_dep"].fillna(_dep(seances["code_commune"]))
    seances.loc[seances["distanciel"], "insee_dep"] = ""  # une séance à distance : d'aucun département
    placee = ~seances["distanciel"] & seances["latitude"].notna() & seances["longitude"].notna()
    seances["precision"] = np.where(
        seances["distanciel"], "distanciel", np.where(placee, "coordonnees", "commune")
    )
    points = gpd.GeoDataFrame(
        seances.loc[placee, ["id_seance"]],
        geometry=gpd.points_from_xy(seances.loc[placee, "longitude"], seances.loc[placee, "latitude"]),
        crs=4326,
    ).to_crs(2154)
    dedans = gpd.sjoin(points, qpv[["code_qp", "geometry"]], predicate="intersects")
    autour = gpd.sjoin(points, qpv[["code_qp", "geometry"]], predicate="dwithin", distance=D)
    autour = autour.merge(dedans[["id_seance", "code_qp"]], how="left", indicator=True)
    autour = autour[autour["_merge"] == "left_only"]
    plus_proche = gpd.sjoin_nearest(points, qpv[["code_qp", "geometry"]], max_distance=D, distance_col="d")
    seances["situation"] = np.select(
        [
            seances["id_seance"].isin(dedans["id_seance"]),
            seances["id_seance"].isin(plus_proche["id_seance"]),
            seances["precision"] == "coordonnees",
        ],
        ["dans_qpv", "proximite_qpv", "hors_qpv"],
        "autre",
    )

    participations = t["participations"].merge(
        seances[["id_seance", "date", "axe", "thematique"]], on="id_seance"
    )
    participations = participations.merge(
        attributs[["insee_com", "nom_com", "interco_code", "n_qpv_2024"]],
        left_on="code_commune_origine",
        right_on="insee_com",
        how="left",
    )
    code = participations["code_commune_origine"]
    participations["dep"] = _dep(code).where(code != "", participations["departement_origine"])
    participations["dans"] = participations["dep"].isin(TERRITOIRE)
    participations["pv"] = participations["code_commune_origine"].isin(brut["communes_pv_france"])

    demandes = _demandes_situees(t["demandes"], attributs, brut)
    demandes["connue"] = (
        (demandes["code_commune"] != "") | (demandes["siren_epci"] != "") | (demandes["departement"] != "")
    )
    demandes["dans"] = demandes["dep"].isin(TERRITOIRE)
    demandes["interco_code"] = demandes["interco_code"].fillna("")

    avant = None
    if precedent is not None:
        avant = oracle_totaux(precedent, brut)

    lignes = []
    for territoire in (*TERRITOIRE, "synthese"):
        lignes += _territoire(
            territoire, seances, participations, demandes, dedans, autour, communes, qpv, avant, brut
        )
        if adherents:
            lignes += _adherents(territoire, adherents, brut["france"], seances, t["participations"])
    lignes += _hors_territoire(participations, demandes, brut)
    return pd.DataFrame(lignes)


def _hors_territoire(participations, demandes, brut) -> list[dict]:
    """Synthèse : ce qui vient d'hors du territoire, par département puis par région."""
    lignes = []
    departements = set(brut["region"])
    for quoi, table, poids in (
        ("participations", participations[~participations["dans"]], "nombre"),
        ("demandes", demandes[demandes["connue"] & ~demandes["dans"]], None),
    ):
        nombre = table[poids] if poids else pd.Series(1, index=table.index)
        dep = table["dep"].where(table["dep"].isin(departements), "departement_inconnu")
        reg = dep.map(brut["region"]).fillna("departement_inconnu")
        for niveau, cle in (("departement", dep), ("region", reg)):
            lignes += _repartition(
                "synthese", f"{quoi}_hors_territoire_par_{niveau}", nombre.groupby(cle).sum(), nombre.sum()
            )
    return lignes


def _adherents(t, adherents, france, seances, participations) -> list[dict]:
    """Un adhérent est atteint si une participation vient de ses communes ou s'il y a eu une séance."""
    lignes, atteints, non_atteints = [], 0, []
    for code in adherents:
        membres = france[
            (france["insee_com"] == code) | (france["siren_epci"] == code) | (france["code_ept"] == code)
        ]
        if t != "synthese" and t not in set(membres["insee_dep"]):
            continue
        venues = participations.loc[
            participations["code_commune_origine"].isin(membres["insee_com"]), "nombre"
        ].sum()
        tenues = seances["code_commune"].isin(membres["insee_com"]).sum()
        if venues > 0 or tenues > 0:
            atteints += 1
        else:
            non_atteints.append(code)
    n = atteints + len(non_atteints)
    lignes.append(_ligne(t, "adherents", "total", n))
    lignes.append(_ligne(t, "adherents_atteints", "total", atteints, atteints / n if n else np.nan))
    lignes.append(
        _ligne(
            t, "adherents_non_atteints", "total", len(non_atteints), len(non_atteints) / n if n else np.nan
        )
    )
    lignes += [_ligne(t, "adherents_non_atteints", c, 0) for c in non_atteints]
    return lignes


def _demandes_situees(demandes: pd.DataFrame, attributs: pd.DataFrame, brut) -> pd.DataFrame:
    """Département et intercommunalité d'une demande : commune, sinon SIREN, sinon département."""
    # Un SIREN saisi peut être celui d'un EPCI (Métropole du Grand Paris comprise) ou d'un EPT de
    # toute la France : son département est celui de la plupart de ses communes du territoire,
    # à défaut de toutes ses communes.
    france = brut["france"]
    cles = pd.concat(
        [
            france[["siren_epci", "insee_dep"]].rename(columns={"siren_epci": "code"}),
            france[["code_ept", "insee_dep"]].rename(columns={"code_ept": "code"}),
        ]
    )
    cles = cles[cles["code"] != ""]
    dedans = cles[cles["insee_dep"].isin(brut["territoire"])]
    membres = dedans.groupby("code")["insee_dep"].agg(
        lambda s: s.value_counts().sort_index().sort_values(ascending=False, kind="stable").index[0]
    )
    ailleurs = (
        cles[~cles["code"].isin(membres.index)]
        .groupby("code")["insee_dep"]
        .agg(lambda s: s.value_counts().sort_index().sort_values(ascending=False, kind="stable").index[0])
    )
    membres = pd.concat([membres, ailleurs])
    demandes = demandes.merge(
        attributs[["insee_com", "interco_code"]], left_on="code_commune", right_on="insee_com", how="left"
    )
    par_siren = (demandes["code_commune"] == "") & (demandes["siren_epci"] != "")
    connu = demandes["siren_epci"].isin(membres.index)
    demandes.loc[par_siren, "interco_code"] = demandes.loc[par_siren, "siren_epci"].where(connu[par_siren])
    demandes["dep"] = np.where(
        demandes["code_commune"] != "",
        _dep(demandes["code_commune"]),
        np.where(
            par_siren,
            demandes["siren_epci"].map(membres).fillna(demandes["departement"]),
            demandes["departement"],
        ),
    )
    return demandes


def oracle_totaux(dossier: Path, brut) -> dict:
    """Totaux de l'année précédente par territoire (pour l'évolution)."""
    t = _codes_actuels(_lire(dossier), brut)
    attributs = pd.DataFrame(brut["communes"].drop(columns="geometry"))[["insee_com", "insee_dep"]]
    seances = t["seances"].merge(attributs, left_on="code_commune", right_on="insee_com", how="left")
    participations = t["participations"]
    code = participations["code_commune_origine"]
    participations["dep"] = _dep(code).where(code != "", participations["departement_origine"])
    communes = pd.DataFrame(brut["communes"].drop(columns="geometry"))
    communes["interco_code"] = communes["code_ept"].where(communes["code_ept"] != "", communes["siren_epci"])
    demandes = _demandes_situees(t["demandes"], communes, brut)
    return {"seances": seances, "participations": participations, "demandes": demandes}


def _ligne(t, indicateur, modalite, valeur, part=np.nan):
    return {
        "territoire": t,
        "indicateur": indicateur,
        "modalite": str(modalite),
        "valeur": float(valeur),
        "part": part,
    }


def _repartition(t, indicateur, groupes: pd.Series, denominateur):
    return [
        _ligne(t, indicateur, m, v, v / denominateur if denominateur else np.nan) for m, v in groupes.items()
    ]


def _territoire(t, seances, participations, demandes, dedans, autour, communes, qpv, avant, brut):
    territoire = brut["territoire"]
    if t != "synthese":
        seances = seances[seances["insee_dep"] == t]
        participations = participations[participations["dep"] == t]
        demandes = demandes[demandes["dep"] == t]
        communes = communes[communes["insee_dep"] == t]
        qpv = qpv[qpv["insee_dep"] == t]
    else:
        participations = participations.assign(
            dep=participations["dep"].where(participations["dans"], "autre")
        )
    total = participations["nombre"].sum()
    lignes = [
        _ligne(t, "actions", "total", seances["id_action"].nunique()),
        _ligne(t, "seances", "total", len(seances)),
        _ligne(t, "demi_journees", "total", seances["demi_journees"].sum()),
        _ligne(t, "participations", "total", total),
    ]
    for cle, colonne in (
        ("departement_origine", "dep"),
        ("public", "public"),
        ("axe", "axe"),
        ("thematique", "thematique"),
    ):
        lignes += _repartition(
            t, f"participations_par_{cle}", participations.groupby(colonne)["nombre"].sum(), total
        )
    lignes += _repartition(
        t,
        "participations_par_mois",
        participations.groupby(participations["date"].dt.strftime("%Y-%m"))["nombre"].sum(),
        total,
    )
    dans = participations[participations["dans"]]
    hors = participations.loc[~participations["dans"], "nombre"].sum()
    for cle, colonne, filtre in (
        ("intercommunalite", "interco_code", dans["interco_code"].fillna("") != ""),
        ("commune_origine", "code_commune_origine", dans["code_commune_origine"] != ""),
    ):
        groupes = dans[filtre].groupby(colonne)["nombre"].sum()
        reste = total - hors - groupes.sum()
        groupes = pd.concat([groupes, pd.Series({"hors_territoire": hors, "non_renseigne": reste})])
        lignes += _repartition(t, f"participations_par_{cle}", groupes, total)
    pv = participations.loc[participations["pv"], "nombre"].sum()
    lignes.append(_ligne(t, "participations_communes_pv", "total", pv, pv / total if total else np.nan))
    if t == "synthese":
        hors_pv = participations.loc[participations["pv"] & ~participations["dans"], "nombre"].sum()
        lignes.append(
            _ligne(
                t,
                "participations_hors_territoire_communes_pv",
                "total",
                hors_pv,
                hors_pv / hors if hors else np.nan,
            )
        )

    lignes += _repartition(t, "seances_par_precision", seances.groupby("precision").size(), len(seances))
    placement = seances["placement"].where(seances["precision"] != "distanciel", "distanciel")
    lignes += _repartition(t, "seances_par_placement", seances.groupby(placement).size(), len(seances))
    placees = seances[seances["precision"] == "coordonnees"]
    lignes += _repartition(t, "seances_par_situation_qpv", placees.groupby("situation").size(), len(placees))
    lignes.append(
        _ligne(t, "seances_par_situation_qpv", "non_situee", (seances["precision"] == "commune").sum())
    )
    lignes.append(
        _ligne(t, "seances_par_situation_qpv", "distanciel", (seances["precision"] == "distanciel").sum())
    )
    lieu = seances["insee_dep"].where(seances["insee_dep"].isin(territoire), "hors_territoire")
    lieu = lieu.where(seances["precision"] != "distanciel", "distanciel")
    lignes += _repartition(
        t,
        "demi_journees_par_departement",
        seances.groupby(lieu)["demi_journees"].sum(),
        seances["demi_journees"].sum(),
    )
    lignes += _repartition(t, "seances_par_departement", seances.groupby(lieu).size(), len(seances))

    communes_pv = communes[communes["n_qpv_2024"] > 0]
    origines = participations.groupby("code_commune_origine")["nombre"].sum()
    atteintes = communes_pv["insee_com"].isin(origines[origines > 0].index)
    lignes += [
        _ligne(t, "communes_pv", "total", len(communes_pv)),
        _ligne(t, "communes_pv_atteintes", "total", atteintes.sum(), atteintes.sum() / len(communes_pv)),
        _ligne(
            t, "communes_pv_non_atteintes", "total", (~atteintes).sum(), (~atteintes).sum() / len(communes_pv)
        ),
    ]
    lignes += [_ligne(t, "communes_pv_non_atteintes", c, 0) for c in communes_pv.loc[~atteintes, "insee_com"]]
    avec_dedans = qpv["code_qp"].isin(dedans["code_qp"])
    avec_autour = qpv["code_qp"].isin(autour["code_qp"]) & ~avec_dedans
    n = len(qpv)
    lignes += [
        _ligne(t, "qpv", "total", n),
        _ligne(t, "qpv_seance_dedans", "total", avec_dedans.sum(), avec_dedans.sum() / n),
        _ligne(t, "qpv_seance_proximite", "total", avec_autour.sum(), avec_autour.sum() / n),
        _ligne(
            t,
            "qpv_atteints",
            "total",
            (avec_dedans | avec_autour).sum(),
            (avec_dedans | avec_autour).sum() / n,
        ),
    ]
    atteint = avec_dedans | avec_autour
    lignes.append(_ligne(t, "qpv_non_atteints", "total", (~atteint).sum(), (~atteint).sum() / n))
    lignes += [_ligne(t, "qpv_non_atteints", c, 0) for c in qpv.loc[~atteint, "code_qp"]]
    lignes += _quartiers(t, qpv, atteint, dedans, autour, brut)

    connues = demandes[demandes["connue"]]
    hors_d = (~connues["dans"]).sum()
    lignes.append(_ligne(t, "demandes", "total", len(demandes)))
    for cle in ("type_demandeur", "thematique"):
        lignes += _repartition(t, f"demandes_par_{cle}", demandes.groupby(cle).size(), len(demandes))
    groupes = connues[connues["dans"] & (connues["interco_code"] != "")].groupby("interco_code").size()
    groupes = pd.concat(
        [
            groupes,
            pd.Series({"hors_territoire": hors_d, "non_renseigne": len(connues) - hors_d - groupes.sum()}),
        ]
    )
    lignes += _repartition(t, "demandes_par_intercommunalite", groupes, len(connues))
    origine = np.where(
        ~demandes["connue"], "inconnue", np.where(demandes["dans"], "territoire", "hors_territoire")
    )
    lignes += _repartition(t, "demandes_par_origine", demandes.groupby(origine).size(), len(demandes))
    lignes.append(
        _ligne(
            t, "demandes_hors_territoire", "total", hors_d, hors_d / len(connues) if len(connues) else np.nan
        )
    )

    if avant is not None:
        lignes += _evolution(t, seances, participations, demandes, avant)
    return lignes


def _quartiers(t, qpv, atteint, dedans, autour, brut) -> list[dict]:
    """Population des QPV (fichier brut du miroir), QPV nouveaux (table de l'ANCT), séances dans
    ou près des QPV du territoire et leur taux pour 10 000 habitants."""
    population = qpv["code_qp"].map(brut["population"]).fillna(0).to_numpy()
    total = population.sum()
    atteinte = population[atteint.to_numpy()].sum()
    lignes = [
        _ligne(t, "population_qpv", "total", total),
        _ligne(t, "population_qpv_atteints", "total", atteinte, atteinte / total),
        _ligne(t, "population_qpv_non_atteints", "total", total - atteinte, (total - atteinte) / total),
    ]
    for code, nombre in zip(qpv.loc[~atteint, "code_qp"], population[~atteint.to_numpy()], strict=True):
        lignes.append(_ligne(t, "population_qpv_non_atteints", code, nombre, nombre / total))
    nouveaux = (qpv["code_qp"].map(brut["statut"]) == "NOUVEAU").to_numpy()
    lignes.append(_ligne(t, "qpv_nouveaux", "total", nouveaux.sum()))
    lignes.append(
        _ligne(
            t, "qpv_nouveaux_atteints", "total", (nouveaux & atteint.to_numpy()).sum(),
            (nouveaux & atteint.to_numpy()).sum() / nouveaux.sum() if nouveaux.sum() else np.nan,
        )
    )  # fmt: skip
    codes = set(qpv["code_qp"])
    seances = set(dedans.loc[dedans["code_qp"].isin(codes), "id_seance"]) | set(
        autour.loc[autour["code_qp"].isin(codes), "id_seance"]
    )
    lignes.append(_ligne(t, "seances_qpv", "total", len(seances)))
    lignes.append(_ligne(t, "seances_qpv_pour_10000_habitants", "total", len(seances) / total * 10_000))
    return lignes


def _evolution(t, seances, participations, demandes, avant):
    s, p, d = avant["seances"], avant["participations"], avant["demandes"]
    if t != "synthese":
        s = s[s["insee_dep"] == t]
        p = p[p["dep"] == t]
        d = d[d["dep"] == t]
    lignes = []
    for cle, actuel, ancien in (
        ("participations", participations["nombre"].sum(), p["nombre"].sum()),
        ("demandes", len(demandes), len(d)),
        (
            "demi_journees",
            seances["demi_journees"].sum(),
            pd.to_numeric(s["demi_journees"].replace("", "1")).sum(),
        ),
        ("actions", seances["id_action"].nunique(), s["id_action"].nunique()),
    ):
        lignes.append(_ligne(t, f"annee_precedente_{cle}", "total", ancien))
        lignes.append(
            _ligne(t, f"evolution_{cle}", "total", actuel - ancien, actuel / ancien - 1 if ancien else np.nan)
        )
    lignes += _repartition(
        t, "annee_precedente_demandes_par_type_demandeur", d.groupby("type_demandeur").size(), len(d)
    )
    return lignes


# --------------------------------------------------------------------------- comparaison
def produit(
    dossier: Path,
    annee: int,
    precedent: bool,
    territoire: tuple[str, ...] = TERRITOIRE,
    reference: Path | None = None,
    adherents: tuple[str, ...] = (),
):
    from observatoire import calculer_indicateurs, charger_referentiel, lire_activite, situer_activite

    referentiel = charger_referentiel(None, reference)
    situee = situer_activite(
        lire_activite(dossier / str(annee), annee=annee, referentiel=referentiel), referentiel
    )
    avant = None
    if precedent:
        avant = situer_activite(
            lire_activite(dossier / str(annee - 1), annee=annee - 1, referentiel=referentiel), referentiel
        )
    tables = [
        calculer_indicateurs(situee, referentiel, t, avant, adherents=adherents)
        for t in (*territoire, "synthese")
    ]
    return pd.concat(tables, ignore_index=True), situee, referentiel


def adherents_du_centre(dossier: Path) -> tuple[str, ...]:
    """Les adhérents de ``observatoire.toml``, lus avec tomllib seulement."""
    return tuple(
        tomllib.loads((dossier / "observatoire.toml").read_text(encoding="utf-8"))["centre"]["adherents"]
    )


def comparer(attendu: pd.DataFrame, obtenu: pd.DataFrame) -> list[str]:
    """Différences ligne à ligne (valeur et part) ; les lignes à zéro des répartitions sont des
    conventions d'affichage (mois sans activité…) et ne comptent pas, sauf pour les listes."""
    cles = ["territoire", "indicateur", "modalite"]

    def utiles(table):
        garder = (table["valeur"] != 0) | table["indicateur"].isin(LISTES) | (table["modalite"] == "total")
        return table.loc[garder, [*cles, "valeur", "part"]]

    fusion = utiles(attendu).merge(
        utiles(obtenu), on=cles, how="outer", suffixes=("_oracle", "_paquet"), indicator="presence"
    )
    ecarts = []
    for ligne in fusion.itertuples(index=False):
        nom = f"{ligne.territoire} {ligne.indicateur} [{ligne.modalite}]"
        if ligne.presence != "both":
            ecarts.append(
                f"{nom} : seulement dans {'l’oracle' if ligne.presence == 'left_only' else 'le paquet'}"
            )
        elif ligne.valeur_oracle != ligne.valeur_paquet:
            ecarts.append(f"{nom} : valeur {ligne.valeur_oracle} (oracle) ≠ {ligne.valeur_paquet}")
        elif not (
            (pd.isna(ligne.part_oracle) and pd.isna(ligne.part_paquet))
            or abs(ligne.part_oracle - ligne.part_paquet) < 1e-12
        ):
            ecarts.append(f"{nom} : part {ligne.part_oracle} (oracle) ≠ {ligne.part_paquet}")
    return ecarts


@pytest.mark.parametrize("annee", [2023, 2022])
def test_demo_chaque_indicateur_recalcule(annee, brut):
    precedent = DEMO / str(annee - 1) if (DEMO / str(annee - 1)).is_dir() else None
    adherents = adherents_du_centre(DEMO)
    attendu = oracle(DEMO / str(annee), brut, precedent, adherents)
    obtenu, _, _ = produit(DEMO, annee, precedent is not None, adherents=adherents)
    ecarts = comparer(attendu, obtenu)
    assert not ecarts, f"{len(ecarts)} écart(s) :\n" + "\n".join(ecarts[:40])


def test_demo_qpv_atteints_par_territoire(brut):
    """Les comptes que l'issue 12 a trouvés faux (44/83 publiés pour 48/83 sur les lieux d'alors).

    Depuis l'issue 10, les lieux de la démonstration sont tirés sur des contours normalisés
    (indépendants du sommet de départ des anneaux) : 47/83. Trois des quatre QPV de l'issue 12
    ne sont atteints que par une séance tenue dans un QPV voisin, à moins de D mètres.
    """
    attendu = oracle(DEMO / "2023", brut)
    atteints = attendu[attendu["indicateur"] == "qpv_atteints"].set_index("territoire")["valeur"].to_dict()
    assert atteints == {"78": 12, "92": 12, "95": 23, "synthese": 47}
    non_atteints = set(attendu.loc[attendu["indicateur"] == "qpv_non_atteints", "modalite"])
    assert not {"QN09208M", "QN09219N", "QN09535M"} & non_atteints


# --------------------------------------------------------------------------- jeu aléatoire
def _jeu_aleatoire(dossier: Path, brut, graine: int) -> Path:
    """Une année de lieux tirés pour tomber sur les cas limites, écrite en CSV."""
    rng = np.random.default_rng(graine)
    qpv, communes = brut["qpv"], brut["communes"]
    points = []
    # QPV voisins : ceux qui ont un autre QPV à moins de 2·D, pour tomber « entre » les deux.
    voisins = gpd.sjoin(
        qpv[["code_qp", "geometry"]], qpv[["code_qp", "geometry"]], predicate="dwithin", distance=2 * D
    )
    voisins = voisins[voisins["code_qp_left"] != voisins["code_qp_right"]]
    for code in rng.choice(qpv["code_qp"], size=25, replace=False):
        forme = qpv.loc[qpv["code_qp"] == code, "geometry"].iloc[0]
        points.append(forme.representative_point())
        sommets = np.asarray(
            forme.exterior.coords if forme.geom_type == "Polygon" else forme.geoms[0].exterior.coords
        )
        points.append(gpd.points_from_xy([sommets[0][0]], [sommets[0][1]])[0])  # sur la limite
        for distance in rng.uniform(0, 400, size=3):
            angle = rng.uniform(0, 2 * np.pi)
            bord = forme.exterior if forme.geom_type == "Polygon" else forme.geoms[0].exterior
            depart = bord.interpolate(rng.uniform(0, bord.length))
            points.append(
                gpd.points_from_xy(
                    [depart.x + distance * np.cos(angle)], [depart.y + distance * np.sin(angle)]
                )[0]
            )
    for _, paire in voisins.head(10).iterrows():
        autre = qpv.loc[qpv["code_qp"] == paire["code_qp_right"], "geometry"].iloc[0]
        milieu = paire.geometry.boundary.interpolate(paire.geometry.boundary.project(autre.centroid))
        points.append(milieu)
    lieux = gpd.GeoDataFrame(geometry=points, crs=2154)
    lieux = gpd.sjoin(lieux, communes[["insee_com", "geometry"]], predicate="within", how="inner")
    lieux = lieux[~lieux.index.duplicated()]
    wgs84 = lieux.to_crs(4326)
    n = len(wgs84)
    dossier.mkdir(parents=True)
    annee = 2023
    actions = pd.DataFrame(
        {
            "id_action": [f"A{i}" for i in range(8)],
            "intitule": [f"Action {i}" for i in range(8)],
            "axe": rng.choice(["developpement_social", "egalite_justice_sociale", "parole_habitante"], 8),
            "thematique": rng.choice(["sante", "education", "famille", "logement"], 8),
            "format": "rencontre",
        }
    )
    jours = pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n + 6), unit="D")
    seances = pd.DataFrame(
        {
            "id_seance": [f"S{i}" for i in range(n + 6)],
            "id_action": rng.choice(actions["id_action"], n + 6),
            "date": jours.strftime("%d/%m/%Y"),
            "demi_journees": rng.integers(1, 4, n + 6),
            "code_commune": [*lieux["insee_com"], "95018", "78646", "92050", "", "", "75056"],
            "lieu": "",
            "latitude": [*(f"{y:.9f}" for y in wgs84.geometry.y), "", "", "", "", "", ""],
            "longitude": [*(f"{x:.9f}" for x in wgs84.geometry.x), "", "", "", "", "", ""],
            "distanciel": ["non"] * (n + 3) + ["oui", "oui", "non"],
        }
    )
    origines = [*communes["insee_com"].sample(40, random_state=graine), "75056", "93066", "69123", ""]
    lignes = []
    for identifiant in seances["id_seance"]:
        for _ in range(int(rng.integers(1, 4))):
            code = str(rng.choice(origines))
            lignes.append(
                {
                    "id_seance": identifiant,
                    "public": str(
                        rng.choice(["elu", "association", "habitant", "professionnel_collectivite"])
                    ),
                    "code_commune_origine": code,
                    "departement_origine": "" if code else str(rng.choice(["95", "78", "autre"])),
                    "nombre": int(rng.integers(0, 30)),
                }
            )
    participations = pd.DataFrame(lignes)
    sirens = [*communes["siren_epci"].drop_duplicates().sample(5, random_state=graine), "200054781"]
    demandes = pd.DataFrame(
        {
            "id_demande": [f"D{i}" for i in range(60)],
            "date": "15/06/2023",
            "type_demandeur": rng.choice(["ville", "institution", "association"], 60),
            "code_commune": [
                str(c) if i % 4 == 0 else "" for i, c in enumerate(rng.choice(origines[:-1], 60))
            ],
            "siren_epci": [str(rng.choice(sirens)) if i % 4 == 1 else "" for i in range(60)],
            "departement": [str(rng.choice(["92", "autre"])) if i % 4 == 2 else "" for i in range(60)],
            "thematique": rng.choice(["sante", "egalite"], 60),
            "objet": "",
        }
    )
    for nom, table in (
        ("actions", actions),
        ("seances", seances),
        ("participations", participations),
        ("demandes", demandes),
    ):
        (dossier / str(annee)).mkdir(exist_ok=True)
        table.to_csv(dossier / str(annee) / f"{nom}.csv", sep=";", index=False)
    return dossier


@pytest.mark.parametrize("graine", [7, 2024])
def test_jeu_aleatoire_chaque_indicateur_recalcule(graine, brut, tmp_path):
    dossier = _jeu_aleatoire(tmp_path / "jeu", brut, graine)
    attendu = oracle(dossier / "2023", brut)
    obtenu, _, _ = produit(dossier, 2023, False)
    ecarts = comparer(attendu, obtenu)
    assert not ecarts, f"{len(ecarts)} écart(s) :\n" + "\n".join(ecarts[:40])
    # Le jeu touche bien les cas limites : des QPV atteints seulement « à proximité ».
    proximite = attendu.query("indicateur == 'qpv_seance_proximite' and territoire == 'synthese'")["valeur"]
    assert proximite.iloc[0] > 0


# --------------------------------------------------------------------------- la carte
def _proprietes(page: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'"properties":\s*(\{[^{}]*\})', page)]


def _en_clair(page: str) -> str:
    """Le texte des données de la carte, tel que le navigateur le lit (JSON échappé pour <script>)."""
    for code, caractere in (("003c", "<"), ("003e", ">"), ("0026", "&"), ("0027", "'")):
        page = page.replace(f"\\u{code}", caractere)
    return page


@pytest.mark.parametrize("territoire", ["92", "synthese"])
def test_carte_infobulles_et_valeurs_recalculees(territoire, brut):
    from observatoire.presentation.cartes import carte_activite, html_carte

    attendu = oracle(DEMO / "2023", brut)
    _, situee, referentiel = produit(DEMO, 2023, False)
    page = html_carte(carte_activite(situee, referentiel, territoire))
    proprietes = _proprietes(page)
    qpv = {p["code"]: p for p in proprietes if "code" in p}
    portee = brut["qpv"] if territoire == "synthese" else brut["qpv"][brut["qpv"]["insee_dep"] == territoire]
    assert set(qpv) == set(portee["code_qp"])
    non_atteints = set(
        attendu.query("indicateur == 'qpv_non_atteints' and territoire == @territoire")["modalite"]
    )
    for code, p in qpv.items():
        atteint = p["dedans"] != "0" or p["proximite"] != "0"
        assert atteint == (code not in non_atteints), code
    # Aplats : participations par commune d'origine et taux pour 10 000 habitants.
    participations = _lire(DEMO / "2023")["participations"].groupby("code_commune_origine")["nombre"].sum()
    population = brut["communes"].set_index("insee_com")["pop_mun_2023"]  # la population du manifeste
    for p in proprietes:
        if "taux" in p:
            code = re.search(r"\((\w+)\)$", p["nom"])[1]
            n = int(participations.get(code, 0))
            assert p["participations"].replace("\u202f", "") == str(n), code
            taux = Decimal(repr(float(n / population[code] * 10_000))).quantize(Decimal("0.1"), ROUND_HALF_UP)
            assert p["taux"] == str(taux).replace(".", ","), code
    # Fenêtres des lieux : une par lieu, avec ses séances et leurs participations.
    totaux = sorted(
        (int(n), int(p.replace("\u202f", "")))
        for n, p in re.findall(r"<br>(\d+) séances?, ([\d\u202f]+) participations?", _en_clair(page))
    )
    t = _lire(DEMO / "2023")
    seances = t["seances"]
    placees = seances[(seances["distanciel"] == False) & seances["latitude"].notna()].copy()  # noqa: E712
    if territoire != "synthese":
        deps = brut["communes"].set_index("insee_com")["insee_dep"]
        placees = placees[placees["code_commune"].map(deps) == territoire]
    par_seance = t["participations"].groupby("id_seance")["nombre"].sum()
    placees["n"] = placees["id_seance"].map(par_seance).fillna(0).astype(int)
    par_lieu = placees.groupby([placees["latitude"].round(5), placees["longitude"].round(5)])["n"].agg(
        ["size", "sum"]
    )
    assert totaux == sorted(zip(par_lieu["size"], par_lieu["sum"], strict=True))


def test_carte_agregee_par_epci_et_qpv_en_points(brut, monkeypatch):
    """À l'échelle nationale, les aplats passent à l'EPCI et les QPV à des points : forcé ici par
    des seuils bas, puis recalculé par un simple groupby sur les communes."""
    from observatoire.presentation import cartes

    monkeypatch.setattr(cartes, "SEUIL_COMMUNES_APLATS", 100)
    monkeypatch.setattr(cartes, "SEUIL_QPV_PERIMETRES", 10)
    _, situee, referentiel = produit(DEMO, 2023, False)
    page = cartes.html_carte(cartes.carte_activite(situee, referentiel, "synthese"))
    proprietes = _proprietes(page)
    participations = _lire(DEMO / "2023")["participations"]
    communes = pd.DataFrame(brut["communes"].drop(columns="geometry"))
    par_epci = (
        participations.merge(communes, left_on="code_commune_origine", right_on="insee_com")
        .groupby("siren_epci")["nombre"]
        .sum()
    )
    aplats = {re.search(r"\((\w+)\)$", p["nom"])[1]: p for p in proprietes if "taux" in p}
    assert set(aplats) == set(communes["siren_epci"])
    for siren, p in aplats.items():
        assert p["participations"].replace("\u202f", "") == str(int(par_epci.get(siren, 0))), siren
    assert "Participations pour 10 000 habitants (EPCI d" in page
    assert page.count('"type": "Point"') >= len(brut["qpv"]) or page.count('"type":"Point"') >= len(
        brut["qpv"]
    )
    assert "L.circleMarker" in page and "Limites EPCI / EPT" not in page


def test_lieux_regroupes_par_unite_au_dela_du_seuil(brut, monkeypatch):
    """Trop de lieux : un marqueur par unité des aplats, qui compte toutes ses séances placées."""
    from observatoire.presentation import cartes

    monkeypatch.setattr(cartes, "SEUIL_LIEUX", 5)
    _, situee, referentiel = produit(DEMO, 2023, False)
    page = cartes.html_carte(cartes.carte_activite(situee, referentiel, "95"))
    comptes = [int(n) for n in re.findall(r"\((?:commune)\)<br>(\d+) séances?", _en_clair(page))]
    placees = situee.seances[
        (situee.seances["precision"] == "coordonnees") & (situee.seances["insee_dep"] == "95")
    ]
    assert sum(comptes) == len(placees) and len(comptes) == placees["code_commune"].nunique()


# --------------------------------------------------------------------------- additivité


def _additivite(obtenu: pd.DataFrame) -> list[str]:
    """Pour chaque indicateur additif du catalogue : départements + restes documentés = synthèse."""
    from observatoire.indicateurs.catalogue import CATALOGUE

    ecarts = []
    valeurs = obtenu.set_index(["territoire", "indicateur", "modalite"])["valeur"]
    departements = sorted(set(obtenu["territoire"]) - {"synthese"})
    for indicateur in (i for i in CATALOGUE if i.additif):
        synthese = valeurs.get(("synthese", indicateur.cle, "total"), 0)
        somme = sum(valeurs.get((d, indicateur.cle, "total"), 0) for d in departements)
        for reste in indicateur.restes:
            somme += sum(valeurs.get(("synthese", reste.cle, m), 0) for m in reste.modalites)
        if abs(somme - synthese) > 1e-9:
            ecarts.append(f"{indicateur.cle} : départements + restes = {somme}, synthèse = {synthese}")
    return ecarts


def test_indicateurs_additifs_departements_et_restes_font_la_synthese(brut, tmp_path):
    """Issue 23 : une séance à distance qui porte un code commune n'est comptée dans aucun
    département, et la synthèse est la somme de ses départements et des restes documentés
    (distanciel, hors territoire, origines d'ailleurs) — sur la démonstration et sur deux jeux
    tirés au sort qui touchent ces cas."""
    from observatoire.indicateurs.catalogue import CATALOGUE

    assert [i.cle for i in CATALOGUE if i.additif], "le catalogue déclare ses indicateurs additifs"
    obtenu, _, _ = produit(DEMO, 2023, False)
    assert not _additivite(obtenu), _additivite(obtenu)
    for graine in (7, 2024):
        dossier = _jeu_aleatoire(tmp_path / f"jeu-{graine}", brut, graine)
        seances = pd.read_csv(dossier / "2023" / "seances.csv", sep=";", dtype=str, keep_default_na=False)
        # Une séance à distance qui porte quand même un code commune (cas de l'issue).
        distanciel = seances.index[0]
        seances.loc[distanciel, ["distanciel", "code_commune"]] = ["oui", "95018"]
        seances.loc[distanciel, ["latitude", "longitude"]] = ["", ""]
        seances.to_csv(dossier / "2023" / "seances.csv", sep=";", index=False)
        obtenu, _, _ = produit(dossier, 2023, False)
        ecarts = _additivite(obtenu)
        assert not ecarts, f"graine {graine} : " + " ; ".join(ecarts)
        assert obtenu.query("territoire == 'synthese' and indicateur == 'seances_par_departement' "
                            "and modalite == 'distanciel'")["valeur"].iloc[0] >= 1  # fmt: skip
