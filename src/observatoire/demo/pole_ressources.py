"""Jeu de démonstration : activité illustrative qui reproduit les chiffres publiés en 2023.

Les chiffres publiés du rapport d'activité 2023 du Pôle ressources ville et développement social
(``../shared/seed/FIGURES.md``) sont des cibles : le générateur répartit les participations
par des découpages exacts (plus forts restes), si bien que les totaux publiés sont atteints
à l'unité, sans tirage aléatoire ni résultat écrit en dur dans les sorties. Les lieux sont des
communes réelles du territoire ; les coordonnées sont calculées depuis le référentiel (point
dans un QPV, à moins de 300 m, ou loin) et arrondies à 1e-5 degré.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..activite.centre import NOM_FICHIER_CENTRE, texte_du_centre
from ..activite.lieux import COLONNES_LIEUX
from ..commun.fichiers import ecrire_atomique
from ..referentiel.chargement import Referentiel, charger_referentiel
from .dossier import dossier_de_demonstration, ecrire_classeur_demo, ecrire_drapeau, ecrire_table_demo

__all__ = ["CIBLES", "DEPARTEMENTS_DEMO", "ecrire_demo", "generer_demo"]

DEPARTEMENTS_DEMO = ("78", "92", "95")  # le territoire du Pôle ressources, centre de la démonstration
NOM_CENTRE_DEMO = "Pôle ressources ville et développement social"
LIBELLE_CENTRE_DEMO = "Pôle ressources"
# Villes et EPCI adhérents nommés dans le rapport d'activité 2023 (seed/FIGURES.md).
ADHERENTS_DEMO = (
    "95018", "95019", "95063", "95091", "95127", "78138", "92025", "95197", "95218", "95219",
    "95250", "92036", "95268", "95277", "95280", "78440", "95351", "95427", "95424", "95476",
    "95487", "95500", "95582", "95585", "95598", "95607", "95637", "78643", "92078", "95680",
    "249500109", "200055655",
)  # fmt: skip

# Cibles publiées (2023) ou plausibles (2022, seuls les chiffres publiés sont contraints).
CIBLES: dict[int, dict[str, Any]] = {
    2023: {
        "participations_par_origine": {"95": 2159, "78": 1173, "92": 986, "autre": 375},
        "demi_journees": 192,
        "actions": 56,
        "demandes": 112,
    },
    2022: {
        "participations_par_origine": {"95": 1240, "78": 735, "92": 620, "autre": 249},
        "demi_journees": 148,
        "actions": 44,
        "demandes": 116,
    },
}

_PARTS_PUBLICS = {
    "professionnel_collectivite": 50,
    "association": 17,
    "professionnel_etat": 10,
    "institution": 10,
    "elu": 5,
    "habitant": 6,
    "autre": 2,
}
_VILLES = {
    "95": [
        "95018",
        "95585",
        "95127",
        "95500",
        "95680",
        "95268",
        "95277",
        "95280",
        "95219",
        "95424",
        "95063",
        "95607",
        "95427",
        "95476",
        "95218",
        "95637",
        "95582",
        "95598",
        "95487",
        "95052",
        "95250",
        "95351",
        "95019",
        "95197",
        "95091",
    ],
    "78": [
        "78138",
        "78361",
        "78440",
        "78621",
        "78490",
        "78498",
        "78646",
        "78586",
        "78643",
        "78297",
        "78124",
        "78362",
    ],
    "92": ["92050", "92025", "92036", "92078", "92007", "92002", "92004", "92019", "92012"],
}
_MOIS_OUVRES = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]  # le centre ferme en août
_COMMUNES_HORS_TERRITOIRE = ["93066", "75056", "94028", "91228", "77288", "93008", "60057"]


@dataclass
class _Action:
    intitule: str
    axe: str
    thematique: str
    format: str
    perimetre: str  # "78", "92", "95" (participants du département) ou "mixte"
    seances: list[tuple[str, str, int]]  # (date ISO, commune du lieu ou "" pour distanciel, demi-journées)
    participations: int
    partenaires: str = ""
    publics_imposes: dict[str, int] = field(default_factory=dict)
    lieu: str = ""


def _catalogue(nom: str) -> list[dict[str, str]]:
    """Une table du catalogue de démonstration (``donnees/demo_*.csv``, UTF-8, ``;``)."""
    texte = files("observatoire.demo").joinpath("donnees", f"demo_{nom}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(texte), delimiter=";"))


def _actions_nommees_2023() -> list[_Action]:
    """Les actions que le rapport 2023 nomme, avec leurs séances et leurs comptes publiés."""
    seances: dict[str, list[tuple[str, str, int]]] = {}
    for ligne in _catalogue("seances_nommees"):
        seances.setdefault(ligne["rang_action"], []).append(
            (ligne["date"], ligne["code_commune"], int(ligne["demi_journees"]))
        )
    return [
        _Action(
            ligne["intitule"],
            ligne["axe"],
            ligne["thematique"],
            ligne["format"],
            ligne["perimetre"],
            seances[ligne["rang"]],
            int(ligne["participations"]),
            partenaires=ligne["partenaires"],
            publics_imposes={
                public: int(nombre)
                for public, nombre in (paire.split("=") for paire in ligne["publics_imposes"].split())
            },
            lieu=ligne["lieu"],
        )
        for ligne in _catalogue("actions_nommees")
    ]


def _actions_generiques() -> list[tuple[str, str, str, str, str]]:
    """Modèles des autres actions de l'année (intitulé, axe, thématique, format, périmètre)."""
    return [
        (ligne["intitule"], ligne["axe"], ligne["thematique"], ligne["format"], ligne["perimetre"])
        for ligne in _catalogue("actions_generiques")
    ]


def _repartir(total: int, poids) -> list[int]:
    """Découpe ``total`` en parts entières proportionnelles à ``poids`` (plus forts restes)."""
    poids = np.asarray(poids, dtype=float)
    if total == 0 or poids.sum() == 0:
        return [0] * len(poids)
    exactes = total * poids / poids.sum()
    parts = np.floor(exactes).astype(int)
    restes = exactes - parts
    for indice in np.argsort(-restes, kind="stable")[: total - parts.sum()]:
        parts[indice] += 1
    return parts.tolist()


def _actions_annee(annee: int) -> list[_Action]:
    cibles = CIBLES[annee]
    nommees = _actions_nommees_2023() if annee == 2023 else []
    generiques_n = cibles["actions"] - len(nommees)
    demi_restantes = cibles["demi_journees"] - sum(d for a in nommees for _, _, d in a.seances)
    participations_restantes = sum(cibles["participations_par_origine"].values()) - sum(
        a.participations for a in nommees
    )
    generiques = _actions_generiques()
    modeles = generiques[:generiques_n] if annee == 2023 else (generiques * 2)[3 : 3 + generiques_n]
    demi_par_action = _repartir(demi_restantes, [1 + (i % 4 == 0) for i in range(generiques_n)])
    participations = _repartir(participations_restantes, [1 + (i * 7) % 5 for i in range(generiques_n)])
    actions = list(nommees)
    for i, ((intitule, axe, theme, fmt, perimetre), demi, nombre) in enumerate(
        zip(modeles, demi_par_action, participations, strict=True)
    ):
        seances = []
        for k in range(demi):
            mois = _MOIS_OUVRES[(i * 3 + k * 4) % len(_MOIS_OUVRES)]
            jour = 3 + (i * 5 + k * 7) % 25
            if fmt == "webinaire":
                commune = ""
            else:
                departement = perimetre if perimetre != "mixte" else ("95", "78", "92")[(i + k) % 3]
                villes = _VILLES[departement]
                commune = villes[(i * 2 + k) % len(villes)]
            seances.append((f"{annee}-{mois:02d}-{jour:02d}", commune, 1))
        actions.append(_Action(intitule, axe, theme, fmt, perimetre, seances, nombre))
    return actions


def _origines(actions: list[_Action], cibles: dict[str, int]) -> list[dict[str, int]]:
    """Origine des participants par action : exacte pour chaque action et au total."""
    fixes = {dep: 0 for dep in cibles}
    for action in actions:
        if action.perimetre != "mixte":
            fixes[action.perimetre] += action.participations
    residus = {dep: cibles[dep] - fixes[dep] for dep in cibles}
    if min(residus.values()) < 0:
        raise ValueError(f"cibles d'origine inatteignables : {residus}")
    mixtes = [a for a in actions if a.perimetre == "mixte"]
    total_mixte = sum(a.participations for a in mixtes)
    cumul = np.cumsum([0] + [a.participations for a in mixtes])
    origines = []
    indice = 0
    for action in actions:
        if action.perimetre != "mixte":
            origines.append({action.perimetre: action.participations})
            continue
        parts = {}
        for dep in ("95", "78", "92"):
            haut = round(cumul[indice + 1] * residus[dep] / total_mixte)
            bas = round(cumul[indice] * residus[dep] / total_mixte)
            parts[dep] = haut - bas
        parts["autre"] = action.participations - sum(parts.values())
        if parts["autre"] < 0:
            raise ValueError(f"répartition négative pour {action.intitule}")
        origines.append(parts)
        indice += 1
    return origines


def _lieux(referentiel: Referentiel, seances: pd.DataFrame) -> pd.DataFrame:
    """Coordonnées plausibles : dans un QPV, à moins de 300 m, loin, ou sans coordonnées."""
    communes = referentiel.communes.set_index("insee_com")
    qpv = referentiel.qpv.assign(premiere=referentiel.qpv["insee_com"].str.split(",").str[0])
    qpv_par_commune = qpv.groupby("premiere").geometry.apply(list)
    vers_wgs84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    latitudes, longitudes = [], []
    for rang, commune in enumerate(seances["code_commune"]):
        if commune == "" or rang % 9 == 4:
            latitudes.append("")
            longitudes.append("")
            continue
        # Formes normalisées : les lieux ne dépendent pas du sommet de départ des anneaux, qui
        # diffère d'une source du référentiel à l'autre pour les mêmes contours.
        contour = shapely.normalize(communes.geometry[commune])
        polygones = [shapely.normalize(p) for p in qpv_par_commune.get(commune, [])]
        mode = rang % 3
        if polygones and mode == 0:
            point = _dans_la_commune(polygones[rang % len(polygones)], contour)
        elif polygones and mode == 1:
            polygone = polygones[rang % len(polygones)]
            bord = (
                polygone.exterior
                if polygone.geom_type == "Polygon"
                else max(polygone.geoms, key=lambda g: g.area).exterior
            )
            point = shapely.Point(bord.interpolate((rang * 0.137) % 1, normalized=True))
            centre = polygone.centroid
            dx, dy = point.x - centre.x, point.y - centre.y
            norme = max((dx * dx + dy * dy) ** 0.5, 1.0)
            point = shapely.Point(point.x + 120 * dx / norme, point.y + 120 * dy / norme)
            if polygone.contains(point) or polygone.distance(point) > 280 or not contour.contains(point):
                point = _dans_la_commune(polygone, contour)
        else:
            point = contour.representative_point()
        longitude, latitude = vers_wgs84.transform(point.x, point.y)
        latitudes.append(f"{latitude:.5f}")
        longitudes.append(f"{longitude:.5f}")
    return seances.assign(latitude=latitudes, longitude=longitudes)


def _dans_la_commune(polygone, contour):
    """Un point du QPV dans la commune du lieu (un QPV peut s'étendre sur plusieurs communes)."""
    partie = polygone.intersection(contour.buffer(-30))
    return partie.representative_point() if not partie.is_empty else polygone.representative_point()


def _adresses_illustratives(seances: pd.DataFrame) -> list[str]:
    """Une adresse par lieu (même lieu, même adresse), illustrative : les lieux ne sont pas réels."""
    voies = ("rue de la Mairie", "place de la République", "avenue Jean Jaurès", "rue Victor Hugo")
    numeros: dict[tuple, str] = {}
    adresses = []
    for ligne in seances.itertuples():
        if ligne.code_commune == "":
            adresses.append("")
            continue
        cle = (ligne.code_commune, ligne.lieu, ligne.latitude, ligne.longitude)
        if cle not in numeros:
            rang = sum(1 for c in numeros if c[0] == ligne.code_commune)
            numeros[cle] = f"{1 + 2 * rang} {voies[rang % len(voies)]}"
        adresses.append(numeros[cle])
    return adresses


def registre_demo(tables_par_annee: dict[int, dict[str, pd.DataFrame]]) -> tuple[pd.DataFrame, dict]:
    """Le registre des lieux de la démonstration, et les séances qui y renvoient (``id_lieu``).

    Chaque lieu distinct (nom, adresse, commune, coordonnées) reçoit un ``id_lieu`` ; ses
    coordonnées passent des séances au registre (``source = saisie``). Les lieux dont la séance
    n'avait pas de coordonnées y restent sans : ``observatoire geocoder`` les placera.
    """
    toutes = pd.concat([t["seances"] for t in tables_par_annee.values()], ignore_index=True)
    presentes = toutes[toutes["code_commune"] != ""]
    lieux = (
        presentes[["lieu", "adresse", "code_commune", "latitude", "longitude"]]
        .drop_duplicates()
        .sort_values(["code_commune", "adresse", "lieu", "latitude", "longitude"], kind="stable")
        .reset_index(drop=True)
    )
    lieux["id_lieu"] = [f"L{rang:04d}" for rang in range(1, len(lieux) + 1)]
    cle = ["lieu", "adresse", "code_commune", "latitude", "longitude"]
    resultat = {}
    for annee, tables in tables_par_annee.items():
        seances = tables["seances"].drop(columns="id_lieu").merge(lieux, on=cle, how="left")
        seances["id_lieu"] = seances["id_lieu"].fillna("")
        seances["latitude"], seances["longitude"] = "", ""
        resultat[annee] = {**tables, "seances": seances[tables["seances"].columns]}
    registre = pd.DataFrame(
        {
            "id_lieu": lieux["id_lieu"],
            "nom": lieux["lieu"],
            "adresse": lieux["adresse"],
            "code_commune": lieux["code_commune"],
            "latitude": lieux["latitude"],
            "longitude": lieux["longitude"],
            "source": ["saisie" if lat else "" for lat in lieux["latitude"]],
            "score": "",
            "type": "",
            "statut": ["accepte" if lat else "" for lat in lieux["latitude"]],
            "date_geocodage": "",
        }
    )[COLONNES_LIEUX]
    return registre, resultat


def _participations(actions, origines, seances, annee) -> pd.DataFrame:
    lignes: list[dict] = []
    for numero, (action, origine) in enumerate(zip(actions, origines, strict=True), start=1):
        if action.publics_imposes and (len(action.seances) > 1 or len(origine) > 1):
            raise ValueError(f"publics imposés : une séance et une origine ({action.intitule})")
        seances_action = seances[seances["id_action"] == f"A{annee}-{numero:02d}"]
        poids_seances = seances_action["demi_journees"].astype(int).tolist()
        for dep, nombre_dep in origine.items():
            for (_, seance), nombre in zip(
                seances_action.iterrows(), _repartir(nombre_dep, poids_seances), strict=True
            ):
                lignes += _lignes_seance(action, seance, dep, nombre, len(lignes))
    return pd.DataFrame(lignes)


def _lignes_seance(action, seance, dep, nombre, rang):
    if nombre == 0:
        return []
    publics = {p: n for p, n in _PARTS_PUBLICS.items() if p not in action.publics_imposes}
    # Publics imposés (ex. 53 parents sur 104) : actions d'une séance et d'une origine.
    reste = nombre - sum(action.publics_imposes.values())
    repartition = dict(zip(publics, _repartir(reste, list(publics.values())), strict=True))
    repartition.update(action.publics_imposes)
    lignes = []
    for indice, (public, effectif) in enumerate(repartition.items()):
        if effectif == 0:
            continue
        commune, departement = _origine(dep, rang + indice)
        lignes.append(
            {
                "id_seance": seance["id_seance"],
                "public": public,
                "code_commune_origine": commune,
                "departement_origine": departement,
                "nombre": effectif,
            }
        )
    return lignes


def _origine(dep: str, rang: int) -> tuple[str, str]:
    if dep == "autre":
        if rang % 4 == 0:
            return "", "autre"
        commune = _COMMUNES_HORS_TERRITOIRE[rang % len(_COMMUNES_HORS_TERRITOIRE)]
        return commune, "autre"
    if rang % 10 == 7:
        return "", dep  # commune non renseignée : compté au département
    villes = _VILLES[dep]
    return villes[(rang * 7) % len(villes)], dep


def _demandes(annee: int) -> pd.DataFrame:
    total = CIBLES[annee]["demandes"]
    if annee == 2023:
        types = {
            "ville": 50,
            "institution": 21,
            "association": 15,
            "intercommunalite": 12,
            "bailleur": 4,
            "recherche": 5,
            "autre": 5,
        }
        themes = {
            "ingenierie_territoriale": 21,
            "egalite": 21,
            "sante": 14,
            "education": 12,
            "participation": 10,
            "prevention_jeunesse": 8,
            "logement": 8,
            "famille": 7,
            "laicite": 5,
            "cohesion_sociale": 3,
            "emploi_economie": 3,
        }
        territoires = [
            ("249500109", 9),
            ("200055655", 11),
            ("200059889", 6),
            ("200057966", 5),
            ("200058485", 6),
            ("200056380", 5),
            ("200057990", 4),
            ("200057982", 4),
            ("200057974", 3),
            ("200058782", 4),
            ("200058519", 4),
            ("247800584", 4),
            ("200073344", 2),
            ("249500489", 3),
            ("249500455", 2),
            ("200073013", 1),
            ("247800550", 2),
            ("247800618", 2),
            ("200034130", 1),
            ("200071074", 2),
            ("200035970", 1),
            ("249500430", 1),
        ]
        hors, inconnue = 29, 1
    else:
        types = {
            "ville": 55,
            "institution": 12,
            "association": 18,
            "intercommunalite": 14,
            "bailleur": 6,
            "recherche": 6,
            "autre": 5,
        }
        themes = {
            "ingenierie_territoriale": 20,
            "egalite": 14,
            "sante": 16,
            "education": 15,
            "participation": 14,
            "prevention_jeunesse": 5,
            "logement": 10,
            "famille": 9,
            "laicite": 6,
            "cohesion_sociale": 4,
            "emploi_economie": 3,
        }
        territoires = [
            ("249500109", 10),
            ("200055655", 12),
            ("200059889", 7),
            ("200057966", 6),
            ("200058485", 7),
            ("200056380", 6),
            ("200057990", 5),
            ("200057982", 5),
            ("200057974", 4),
            ("200058782", 5),
            ("200058519", 5),
            ("247800584", 4),
            ("249500489", 3),
            ("200073344", 3),
            ("249500455", 3),
            ("247800550", 3),
        ]
        hors, inconnue = 28, 0
    assert sum(types.values()) == total and sum(themes.values()) == total
    assert sum(n for _, n in territoires) + hors + inconnue == total
    type_liste = [t for t, n in types.items() for _ in range(n)]
    theme_liste = [t for t, n in themes.items() for _ in range(n)]
    # Entrelacement déterministe pour que types et thèmes ne soient pas corrélés.
    theme_liste = [theme_liste[(i * 37) % total] for i in range(total)]
    lieux = [("territoire", s) for s, n in territoires for _ in range(n)]
    lieux += [("hors", str(i)) for i in range(hors)] + [("inconnue", "")] * inconnue
    lieux = [lieux[(i * 53) % total] for i in range(total)]
    lignes = []
    for i in range(total):
        jour = dt.date(annee, 1, 2) + dt.timedelta(days=(i * 361) // total)
        nature, valeur = lieux[i]
        code_commune = siren = departement = ""
        if nature == "territoire":
            siren = valeur
        elif nature == "hors":
            if i % 3:
                code_commune = _COMMUNES_HORS_TERRITOIRE[i % len(_COMMUNES_HORS_TERRITOIRE)]
            else:
                departement = "autre"
        lignes.append(
            {
                "id_demande": f"D{annee}-{i + 1:03d}",
                "date": jour.strftime("%d/%m/%Y"),
                "type_demandeur": type_liste[i],
                "code_commune": code_commune,
                "siren_epci": siren,
                "departement": departement,
                "thematique": theme_liste[i],
                "objet": "Recherche documentaire (texte libre, jamais publié)",
            }
        )
    return pd.DataFrame(lignes)


def _communes_des_siren(referentiel: Referentiel, demandes: pd.DataFrame) -> pd.DataFrame:
    """Pour les villes, remplace le SIREN d'intercommunalité par une commune membre."""
    communes = referentiel.communes
    membres: dict[str, list[str]] = {}
    for code, epci, ept in zip(
        communes["insee_com"], communes["siren_epci"], communes["code_ept"], strict=True
    ):
        membres.setdefault(ept or epci, []).append(code)
    demandes = demandes.copy()
    villes = _VILLES["95"] + _VILLES["78"] + _VILLES["92"]
    for index, ligne in demandes.iterrows():
        if ligne["siren_epci"] and ligne["type_demandeur"] != "intercommunalite":
            candidates = [c for c in membres[ligne["siren_epci"]] if c in villes] or sorted(
                membres[ligne["siren_epci"]]
            )
            demandes.at[index, "code_commune"] = candidates[index % len(candidates)]
            demandes.at[index, "siren_epci"] = ""
    return demandes


def generer_demo(annee: int = 2023, referentiel: Referentiel | None = None) -> dict[str, pd.DataFrame]:
    """Construit les quatre tables de démonstration d'une année (2023 ou 2022).

    Parameters
    ----------
    annee : int
        2023 (chiffres publiés) ou 2022 (année de comparaison).
    referentiel : Referentiel, optional
        Référentiel chargé (défaut : celui du projet, 78/92/95).

    Returns
    -------
    dict of pandas.DataFrame
        ``actions``, ``seances``, ``participations``, ``demandes`` au format du contrat.
    """
    if annee not in CIBLES:
        raise ValueError(f"Année de démonstration inconnue : {annee} (disponibles : 2022, 2023).")
    referentiel = referentiel or charger_referentiel(DEPARTEMENTS_DEMO)
    actions = _actions_annee(annee)
    origines = _origines(actions, CIBLES[annee]["participations_par_origine"])
    table_actions = pd.DataFrame(
        [
            {
                "id_action": f"A{annee}-{i:02d}",
                "intitule": a.intitule,
                "axe": a.axe,
                "thematique": a.thematique,
                "format": a.format,
                "partenaires": a.partenaires,
            }
            for i, a in enumerate(actions, start=1)
        ]
    )
    seances = pd.DataFrame(
        [
            {
                "id_seance": f"S{annee}-{i:02d}-{k:02d}",
                "id_action": f"A{annee}-{i:02d}",
                "date": date,
                "demi_journees": str(demi),
                "code_commune": commune,
                "lieu": a.lieu or ("" if commune == "" else "Salle municipale"),
                "distanciel": "oui" if commune == "" else "non",
            }
            for i, a in enumerate(actions, start=1)
            for k, (date, commune, demi) in enumerate(a.seances, 1)
        ]
    )
    seances = _lieux(referentiel, seances)
    seances = seances.assign(adresse=_adresses_illustratives(seances), id_lieu="")
    seances = seances[
        [
            "id_seance",
            "id_action",
            "date",
            "demi_journees",
            "code_commune",
            "lieu",
            "adresse",
            "id_lieu",
            "latitude",
            "longitude",
            "distanciel",
        ]
    ]
    participations = _participations(actions, origines, seances, annee)
    demandes = _communes_des_siren(referentiel, _demandes(annee))
    return {
        "actions": table_actions,
        "seances": seances,
        "participations": participations,
        "demandes": demandes,
    }


def ecrire_demo(sortie: str | Path = "data/demo", annees=(2022, 2023), referentiel=None) -> Path:
    """Écrit le jeu de démonstration : un dossier CSV et un classeur ``.xlsx`` par année.

    Parameters
    ----------
    sortie : str or Path
        Dossier de sortie (``data/demo``) : ``<annee>/*.csv``, ``activite_<annee>.xlsx``,
        ``demonstration.json`` (drapeau lu par les rapports), ``observatoire.toml`` (le centre).
    annees : sequence of int
        Années à écrire.
    referentiel : Referentiel or path, optional
        Référentiel (ou son dossier).

    Returns
    -------
    Path
        Le dossier écrit.
    """
    if not isinstance(referentiel, Referentiel):
        referentiel = charger_referentiel(DEPARTEMENTS_DEMO, referentiel)
    dossier = Path(sortie)
    drapeau = {
        "demonstration": True,
        "description": "Données illustratives reproduisant les chiffres publiés du rapport "
        "d'activité 2023 du Pôle ressources ; ce ne sont pas des données réelles.",
    }
    dossier_de_demonstration(dossier)
    registre, par_annee = registre_demo({annee: generer_demo(annee, referentiel) for annee in annees})
    texte_centre = texte_du_centre(
        NOM_CENTRE_DEMO, DEPARTEMENTS_DEMO, libelle=LIBELLE_CENTRE_DEMO, adherents=ADHERENTS_DEMO
    )
    ecrire_atomique(dossier / NOM_FICHIER_CENTRE, texte_centre.encode("utf-8"))
    ecrire_table_demo(registre, dossier / "lieux.csv")
    a_propos = pd.DataFrame(
        [{"cle": "demonstration", "valeur": "oui"}, {"cle": "description", "valeur": drapeau["description"]}]
    )
    for annee, tables in par_annee.items():
        dossier_annee = dossier / str(annee)
        for nom, table in tables.items():
            ecrire_table_demo(table, dossier_annee / f"{nom}.csv")
        ecrire_drapeau(dossier_annee, drapeau)
        ecrire_classeur_demo(dossier / f"activite_{annee}.xlsx", {**tables, "_a_propos": a_propos})
    ecrire_drapeau(dossier, drapeau)
    return dossier
