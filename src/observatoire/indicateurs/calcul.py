"""Tables d'indicateurs au format long : ``territoire;indicateur;modalite;libelle;valeur;part``.

Les clés ``indicateur`` sont une interface publique (documentées dans ``data/README.md``) : le
rapport d'activité annuel est écrit à partir d'elles. ``modalite`` porte le code (INSEE, SIREN,
``code_qp``, code de vocabulaire, ``AAAA-MM``) pour joindre d'autres données ; ``libelle`` le
nom lisible. Les parts sont exactes (fractions de 0 à 1) ; l'arrondi n'intervient qu'à
l'affichage. Chaque répartition se réconcilie : des lignes de reste (``hors_territoire``,
``non_renseigne``, ``inconnue``) complètent les modalités jusqu'au total annoncé.

Périmètre d'un département : les participations dont l'origine est dans le département, les
séances qui s'y tiennent (et les actions qui y ont au moins une séance), les demandes qui en
viennent. La synthèse compte tout une fois, y compris les séances à distance et les origines
hors du territoire (``autre``). La couverture des QPV d'un département compte toutes les
séances placées de l'année (voir ``couverture_qpv``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..activite.vocabulaires import libelle as libelle_vocabulaire
from ..commun.codes import SYNTHESE, normaliser_territoire
from ..commun.fichiers import DEBUTS_DE_FORMULE, ecrire_csv
from ..commun.typographie import format_mois
from ..jointures import ActiviteSituee
from ..referentiel.chargement import Referentiel
from .catalogue import indicateur
from .couverture import couverture_adherents, couverture_communes_pv, couverture_qpv, restreindre

__all__ = [
    "COLONNES_INDICATEURS",
    "LIBELLES_RESTES",
    "calculer_indicateurs",
    "ecrire_indicateurs",
    "lire_indicateurs",
    "valeur",
]

COLONNES_INDICATEURS = ["territoire", "indicateur", "modalite", "libelle", "valeur", "part"]
POUR_HABITANTS = 10_000
LIBELLES_RESTES = {
    "autre": "Autres territoires",
    "hors_territoire": "Hors du territoire",
    "non_renseigne": "Commune ou intercommunalité non renseignée",
    "inconnue": "Origine inconnue",
    "departement_inconnu": "Département non renseigné (« autre »)",
    "territoire": "Territoire du centre",
    "total": "Total",
}
LIBELLES_SITUATIONS = {
    "coordonnees": "Placée par ses coordonnées",
    "commune": "Placée à la commune (sans coordonnées)",
    "distanciel": "À distance",
    "dans_qpv": "Dans un QPV",
    "proximite_qpv": "À proximité d'un QPV",
    "hors_qpv": "Hors QPV",
    "non_situee": "Sans coordonnées (non placée)",
}
LIBELLES_PLACEMENTS = {
    "coordonnees": "Coordonnées saisies",
    "numero": "Adresse (numéro)",
    "rue": "Rue",
    "lieu-dit": "Lieu-dit",
    "commune": "Commune seulement (centre ou lieu à vérifier)",
    "non_placee": "Non placée",
    "distanciel": "À distance",
}


def calculer_indicateurs(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    territoire: str = SYNTHESE,
    precedente: ActiviteSituee | None = None,
    adherents: tuple[str, ...] = (),
    annee: int | None = None,
) -> pd.DataFrame:
    """Calcule les indicateurs d'un territoire (un département ou la synthèse).

    Parameters
    ----------
    situee : ActiviteSituee
        Activité de l'année, rattachée (``situer_activite``).
    referentiel : Referentiel
        Référentiel de tout le territoire du centre.
    territoire : str
        Code de département (``"95"``) ou ``"synthese"``.
    precedente : ActiviteSituee, optional
        Activité de l'année précédente, pour l'évolution.
    adherents : tuple of str
        Communes (code INSEE) et intercommunalités (SIREN) adhérentes du centre
        (``couverture_adherents``).
    annee : int, optional
        Année du rapport (ses douze mois sont toujours listés) ; par défaut celle de l'activité.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``territoire, indicateur, modalite, libelle, valeur, part`` (part exacte ou NaN).
        Chaque clé est au catalogue (``indicateurs.catalogue``).
    """
    code = normaliser_territoire(territoire)
    perimetre = _perimetre(situee, code)
    noms_departements = dict(
        zip(referentiel.departements["insee_dep"], referentiel.departements["nom_dep"], strict=True)
    )
    territoire_du_centre = tuple(referentiel.departements_demandes)
    annee = annee if annee is not None else situee.activite.annee
    lignes = _indicateurs_activite(perimetre, code, noms_departements, territoire_du_centre)
    lignes += _indicateurs_mois(situee, perimetre, code, annee)
    lignes += _indicateurs_couverture(situee, referentiel, code)
    lignes += _indicateurs_demandes(perimetre, code)
    if code == SYNTHESE:
        lignes += _indicateurs_hors_territoire(perimetre, referentiel, code)
    if adherents:
        lignes += _indicateurs_adherents(couverture_adherents(situee, referentiel, code, adherents), code)
    if precedente is not None:
        lignes += _indicateurs_evolution(perimetre, _perimetre(precedente, code), code)
    tableau = pd.DataFrame(lignes, columns=COLONNES_INDICATEURS)
    for cle in tableau["indicateur"].unique():
        indicateur(cle)  # toute clé publiée est au catalogue (KeyError sinon)
    tableau["valeur"] = tableau["valeur"].astype(float)
    tableau["part"] = tableau["part"].astype(float)
    return tableau


@dataclass(frozen=True)
class _Perimetre:
    seances: pd.DataFrame
    participations: pd.DataFrame
    demandes: pd.DataFrame


def _perimetre(situee: ActiviteSituee, code: str) -> _Perimetre:
    return _Perimetre(
        restreindre(situee.seances, "insee_dep", code),
        restreindre(situee.participations, "departement", code),
        restreindre(situee.demandes, "departement", code),
    )


def _ligne(territoire, indicateur, modalite, valeur, part=np.nan, libelle=None) -> dict:
    modalite = str(modalite)
    return {
        "territoire": territoire,
        "indicateur": indicateur,
        "modalite": modalite,
        "libelle": LIBELLES_RESTES.get(modalite, modalite) if libelle is None else str(libelle),
        "valeur": valeur,
        "part": part,
    }


def _repartition(
    territoire: str,
    indicateur: str,
    modalites: pd.Series,
    poids: pd.Series | None,
    libelles: Callable[[str], str] | dict | None = None,
    denominateur: float | None = None,
    ordre: list | None = None,
    restes: dict[str, float] | None = None,
) -> list[dict]:
    """Répartition d'un total par modalité ; ``restes`` ajoute les lignes de reste à la fin."""
    poids = pd.Series(1, index=modalites.index, dtype="int64") if poids is None else poids
    sommes = poids.groupby(modalites.to_numpy()).sum()
    if ordre is not None:
        sommes = sommes.reindex(ordre, fill_value=0)
    else:
        sommes = sommes.sort_values(ascending=False, kind="stable")
    restes = {cle: n for cle, n in (restes or {}).items() if n}
    total = denominateur if denominateur is not None else poids.sum() + sum(restes.values())
    nommer = libelles.get if isinstance(libelles, dict) else libelles
    lignes = [
        _ligne(territoire, indicateur, m, float(n), _part(n, total), nommer(m) if nommer else None)
        for m, n in sommes.items()
    ]
    lignes += [_ligne(territoire, indicateur, m, float(n), _part(n, total)) for m, n in restes.items()]
    return lignes


def _libelles_vocabulaire(vocabulaire: str) -> Callable[[str], str]:
    def nommer(code: str) -> str:
        return libelle_vocabulaire(vocabulaire, code)

    return nommer


def _part(numerateur: float, denominateur: float) -> float:
    return numerateur / denominateur if denominateur else np.nan


def mois_listes(situee: ActiviteSituee, annee: int | None) -> list[str]:
    """Les mois d'une répartition par mois : les douze de l'année du rapport, plus tout mois hors
    de l'année qui a des participations dans l'activité entière (même liste pour chaque
    territoire, si bien que les départements s'additionnent mois par mois)."""
    presents = set(situee.participations["date"].dropna().dt.strftime("%Y-%m"))
    if annee is None:
        annees = sorted({int(m[:4]) for m in presents})
        annee = annees[len(annees) // 2] if annees else None
    douze = {f"{annee}-{m:02d}" for m in range(1, 13)} if annee is not None else set()
    return sorted(douze | presents)


def _indicateurs_mois(situee: ActiviteSituee, p: _Perimetre, t: str, annee: int | None) -> list[dict]:
    participations = p.participations
    return _repartition(
        t,
        "participations_par_mois",
        participations["date"].dt.strftime("%Y-%m"),
        participations["nombre"].astype("int64"),
        format_mois,
        ordre=mois_listes(situee, annee),
    )


def _indicateurs_activite(
    p: _Perimetre, t: str, noms_departements: dict[str, str], territoire: tuple[str, ...]
) -> list[dict]:
    participations = p.participations
    nombre = participations["nombre"].astype("int64")
    total = int(nombre.sum())
    lignes = [
        _ligne(t, "actions", "total", p.seances["id_action"].nunique()),
        _ligne(t, "seances", "total", len(p.seances)),
        _ligne(t, "demi_journees", "total", int(p.seances["demi_journees"].sum())),
        _ligne(t, "participations", "total", total),
    ]
    ordre_departements = sorted(d for d in participations["departement"].unique() if d != "autre")
    lignes += _repartition(
        t,
        "participations_par_departement_origine",
        participations["departement"],
        nombre,
        lambda d: noms_departements.get(d, LIBELLES_RESTES.get(d, d)),
        ordre=[*ordre_departements, "autre"] if t == SYNTHESE else None,
    )
    for cle in ("public", "axe", "thematique"):
        lignes += _repartition(
            t,
            f"participations_par_{cle}",
            participations[cle],
            nombre,
            _libelles_vocabulaire(cle),
        )
    dans_territoire = participations["dans_territoire"].to_numpy(dtype=bool)
    hors = int(nombre[~dans_territoire].sum())
    avec_interco = participations[dans_territoire & (participations["code_intercommunalite"] != "")]
    lignes += _repartition(
        t,
        "participations_par_intercommunalite",
        avec_interco["code_intercommunalite"],
        avec_interco["nombre"].astype("int64"),
        _noms(avec_interco, "code_intercommunalite", "intercommunalite"),
        restes={"hors_territoire": hors, "non_renseigne": total - hors - int(avec_interco["nombre"].sum())},
    )
    avec_commune = participations[dans_territoire & (participations["niveau_origine"] == "commune")]
    lignes += _repartition(
        t,
        "participations_par_commune_origine",
        avec_commune["code_commune_origine"],
        avec_commune["nombre"].astype("int64"),
        _noms(avec_commune, "code_commune_origine", "nom_com"),
        restes={"hors_territoire": hors, "non_renseigne": total - hors - int(avec_commune["nombre"].sum())},
    )
    commune_pv = participations["commune_pv"].to_numpy(dtype=bool)
    pv = int(nombre[commune_pv].sum())
    lignes.append(_ligne(t, "participations_communes_pv", "total", pv, _part(pv, total)))
    if t == SYNTHESE:
        hors_pv = int(nombre[commune_pv & ~dans_territoire].sum())
        lignes.append(
            _ligne(t, "participations_hors_territoire_communes_pv", "total", hors_pv, _part(hors_pv, hors))
        )
    seances = p.seances
    lignes += _repartition(
        t,
        "seances_par_precision",
        seances["precision"],
        None,
        LIBELLES_SITUATIONS,
        ordre=["coordonnees", "commune", "distanciel"],
    )
    lignes += _repartition(
        t,
        "seances_par_placement",
        seances["placement"],
        None,
        LIBELLES_PLACEMENTS,
        ordre=list(LIBELLES_PLACEMENTS),
    )
    placees = seances[seances["precision"] == "coordonnees"]
    lignes += _repartition(
        t,
        "seances_par_situation_qpv",
        placees["situation_qpv"],
        None,
        LIBELLES_SITUATIONS,
        ordre=["dans_qpv", "proximite_qpv", "hors_qpv"],
    )
    lignes += [
        _ligne(t, "seances_par_situation_qpv", cle, int((seances["precision"] == precision).sum()), np.nan,
               LIBELLES_SITUATIONS[cle])
        for cle, precision in (("non_situee", "commune"), ("distanciel", "distanciel"))
    ]  # fmt: skip
    lieu = seances["insee_dep"].fillna("").astype(str)
    lieu = lieu.where(lieu.isin(territoire), "hors_territoire").where(
        seances["precision"] != "distanciel", "distanciel"
    )
    ordre = [d for d in territoire if d in set(lieu)] + ["hors_territoire", "distanciel"]
    for cle, poids in (
        ("seances_par_departement", None),
        ("demi_journees_par_departement", seances["demi_journees"].astype("int64")),
    ):
        lignes += [
            ligne
            for ligne in _repartition(
                t,
                cle,
                lieu,
                poids,
                lambda d: noms_departements.get(d, LIBELLES_SITUATIONS.get(d, LIBELLES_RESTES.get(d, d))),
                ordre=ordre,
            )
            if ligne["valeur"] or ligne["modalite"] in territoire
        ]
    return lignes


def _noms(table: pd.DataFrame, colonne_code: str, colonne_nom: str) -> dict[str, str]:
    paires = table[[colonne_code, colonne_nom]].drop_duplicates(colonne_code)
    return dict(zip(paires[colonne_code], paires[colonne_nom].fillna("").astype(str), strict=True))


def _indicateurs_couverture(situee: ActiviteSituee, referentiel: Referentiel, t: str) -> list[dict]:
    communes_pv = couverture_communes_pv(situee, referentiel, t)
    atteintes = (communes_pv["participations"] > 0).to_numpy()
    total_pv = len(communes_pv)
    n_atteintes = int(atteintes.sum())
    lignes = [
        _ligne(t, "communes_pv", "total", total_pv),
        _ligne(t, "communes_pv_atteintes", "total", n_atteintes, _part(n_atteintes, total_pv)),
        _ligne(
            t,
            "communes_pv_non_atteintes",
            "total",
            total_pv - n_atteintes,
            _part(total_pv - n_atteintes, total_pv),
        ),
    ]
    lignes += [
        _ligne(t, "communes_pv_non_atteintes", code, 0, libelle=nom)
        for code, nom in zip(
            communes_pv.loc[~atteintes, "insee_com"], communes_pv.loc[~atteintes, "nom_com"], strict=True
        )
    ]
    qpv = couverture_qpv(situee, referentiel, t)
    total_qpv = len(qpv)
    atteints = (qpv["atteinte"] != "non").to_numpy()
    n_dedans = int((qpv["atteinte"] == "dedans").sum())
    n_proches = int((qpv["atteinte"] == "proximite").sum())
    lignes += [
        _ligne(t, "qpv", "total", total_qpv),
        _ligne(t, "qpv_seance_dedans", "total", n_dedans, _part(n_dedans, total_qpv)),
        _ligne(t, "qpv_seance_proximite", "total", n_proches, _part(n_proches, total_qpv)),
        _ligne(t, "qpv_atteints", "total", n_dedans + n_proches, _part(n_dedans + n_proches, total_qpv)),
        _ligne(t, "qpv_non_atteints", "total", int((~atteints).sum()), _part((~atteints).sum(), total_qpv)),
    ]
    non_atteints = qpv[~atteints]
    lignes += [
        _ligne(t, "qpv_non_atteints", code, 0, libelle=nom)
        for code, nom in zip(non_atteints["code_qp"], non_atteints["lib_qp"], strict=True)
    ]
    if referentiel.correspondance_disponible:
        nouveaux = (qpv["statut_2024"] == "nouveau").to_numpy()
        n_nouveaux, n_nouveaux_atteints = int(nouveaux.sum()), int((nouveaux & atteints).sum())
        lignes += [
            _ligne(t, "qpv_nouveaux", "total", n_nouveaux),
            _ligne(
                t,
                "qpv_nouveaux_atteints",
                "total",
                n_nouveaux_atteints,
                _part(n_nouveaux_atteints, n_nouveaux),
            ),
        ]
    if referentiel.contexte_disponible:
        lignes += _indicateurs_population(situee, qpv, atteints, t)
    return lignes


def _indicateurs_population(
    situee: ActiviteSituee, qpv: pd.DataFrame, atteints: np.ndarray, t: str
) -> list[dict]:
    """Population des QPV, de ceux atteints et de ceux qui ne le sont pas ; séances pour 10 000
    habitants des QPV (dont le numérateur vient des quartiers : séances dedans ou à proximité)."""
    population = qpv["population"].fillna(0)
    total = float(population.sum())
    atteinte = float(population[atteints].sum())
    lignes = [
        _ligne(t, "population_qpv", "total", total),
        _ligne(t, "population_qpv_atteints", "total", atteinte, _part(atteinte, total)),
        _ligne(t, "population_qpv_non_atteints", "total", total - atteinte, _part(total - atteinte, total)),
    ]
    non_atteints = qpv[~atteints].assign(population=population[~atteints])
    non_atteints = non_atteints.sort_values(["population", "code_qp"], ascending=[False, True], kind="stable")
    lignes += [
        _ligne(t, "population_qpv_non_atteints", code, float(nombre), _part(nombre, total), libelle=nom)
        for code, nom, nombre in zip(
            non_atteints["code_qp"], non_atteints["lib_qp"], non_atteints["population"], strict=True
        )
    ]
    paires = situee.paires_qpv
    seances = int(paires.loc[paires["code_qp"].isin(set(qpv["code_qp"])), "id_seance"].nunique())
    lignes.append(_ligne(t, "seances_qpv", "total", seances))
    taux = seances / total * POUR_HABITANTS if total else np.nan
    lignes.append(_ligne(t, "seances_qpv_pour_10000_habitants", "total", taux))
    return lignes


def _indicateurs_demandes(p: _Perimetre, t: str) -> list[dict]:
    demandes = p.demandes
    inconnue = (demandes["niveau_origine"] == "inconnue").to_numpy(dtype=bool)
    dans_territoire = demandes["dans_territoire"].to_numpy(dtype=bool)
    connues = demandes[~inconnue]
    hors = int((~connues["dans_territoire"]).sum())
    lignes = [_ligne(t, "demandes", "total", len(demandes))]
    for cle in ("type_demandeur", "thematique"):
        lignes += _repartition(t, f"demandes_par_{cle}", demandes[cle], None, _libelles_vocabulaire(cle))
    avec_interco = connues[connues["dans_territoire"] & (connues["code_intercommunalite"] != "")]
    lignes += _repartition(
        t,
        "demandes_par_intercommunalite",
        avec_interco["code_intercommunalite"],
        None,
        _noms(avec_interco, "code_intercommunalite", "intercommunalite"),
        restes={"hors_territoire": hors, "non_renseigne": len(connues) - hors - len(avec_interco)},
    )
    origine = np.where(inconnue, "inconnue", np.where(dans_territoire, "territoire", "hors_territoire"))
    lignes += _repartition(
        t,
        "demandes_par_origine",
        pd.Series(origine, index=demandes.index),
        None,
        ordre=["territoire", "hors_territoire", "inconnue"],
    )
    lignes.append(_ligne(t, "demandes_hors_territoire", "total", hors, _part(hors, len(connues))))
    return lignes


def _indicateurs_hors_territoire(p: _Perimetre, referentiel: Referentiel, t: str) -> list[dict]:
    """Participations et demandes venues de l'extérieur du territoire, par département et par région."""
    noms = referentiel.noms_departements_france
    regions = dict(referentiel.regions_des_departements.values())
    lignes = []
    for quoi, table, poids in (
        ("participations", p.participations, "nombre"),
        ("demandes", p.demandes[p.demandes["niveau_origine"] != "inconnue"], None),
    ):
        dehors = table[~table["dans_territoire"].to_numpy(dtype=bool)]
        nombres = dehors[poids].astype("int64") if poids else pd.Series(1, index=dehors.index, dtype="int64")
        connus = (dehors["code_departement"] != "").to_numpy()
        non_renseigne = int(nombres[~connus].sum())
        for niveau, colonne, nommer in (
            ("departement", "code_departement", lambda d: f"{noms.get(d, d)} ({d})"),
            ("region", "code_region", lambda r: str(regions.get(r, r))),
        ):
            lignes += _repartition(
                t,
                f"{quoi}_hors_territoire_par_{niveau}",
                dehors.loc[connus, colonne],
                nombres[connus],
                nommer,
                restes={"departement_inconnu": non_renseigne},
            )
    return lignes


def _indicateurs_adherents(adherents: pd.DataFrame, t: str) -> list[dict]:
    atteints = adherents["atteint"].to_numpy(dtype=bool)
    total = len(adherents)
    lignes = [
        _ligne(t, "adherents", "total", total),
        _ligne(t, "adherents_atteints", "total", int(atteints.sum()), _part(atteints.sum(), total)),
        _ligne(t, "adherents_non_atteints", "total", int((~atteints).sum()), _part((~atteints).sum(), total)),
    ]
    lignes += [
        _ligne(t, "adherents_non_atteints", code, 0, libelle=nom)
        for code, nom in zip(adherents.loc[~atteints, "code"], adherents.loc[~atteints, "nom"], strict=True)
    ]
    return lignes


def _indicateurs_evolution(p: _Perimetre, precedent: _Perimetre, t: str) -> list[dict]:
    lignes = []
    for cle, actuel, ancien in (
        (
            "participations",
            p.participations["nombre"].astype("int64").sum(),
            precedent.participations["nombre"].astype("int64").sum(),
        ),
        ("demandes", len(p.demandes), len(precedent.demandes)),
        (
            "demi_journees",
            p.seances["demi_journees"].astype("int64").sum(),
            precedent.seances["demi_journees"].astype("int64").sum(),
        ),
        ("actions", p.seances["id_action"].nunique(), precedent.seances["id_action"].nunique()),
    ):
        lignes.append(_ligne(t, f"annee_precedente_{cle}", "total", int(ancien)))
        lignes.append(
            _ligne(
                t,
                f"evolution_{cle}",
                "total",
                int(actuel - ancien),
                actuel / ancien - 1 if ancien else np.nan,
            )
        )
    lignes += [
        {**ligne, "indicateur": "annee_precedente_demandes_par_type_demandeur"}
        for ligne in _repartition(
            t,
            "x",
            precedent.demandes["type_demandeur"],
            None,
            lambda c: libelle_vocabulaire("type_demandeur", c),
        )
    ]
    return lignes


def valeur(
    indicateurs: pd.DataFrame,
    indicateur: str,
    modalite: str = "total",
    territoire: str | None = None,
    colonne: str = "valeur",
) -> float:
    """Lit une valeur (ou une part) d'une table d'indicateurs ; NaN si absente."""
    masque = (indicateurs["indicateur"] == indicateur) & (indicateurs["modalite"] == modalite)
    if territoire is not None:
        masque &= indicateurs["territoire"] == territoire
    trouve = indicateurs.loc[masque, colonne]
    return float(trouve.iloc[0]) if len(trouve) else float("nan")


def ecrire_indicateurs(indicateurs: pd.DataFrame, chemin: str | Path) -> Path:
    """Écrit ``indicateurs.csv`` pour Excel : UTF-8 avec BOM, séparateur « ; », formules neutralisées.

    Les parts gardent 10 chiffres significatifs ; l'arrondi d'affichage est celui des rapports.
    """
    return ecrire_csv(indicateurs[COLONNES_INDICATEURS], chemin, float_format="%.10g")


def lire_indicateurs(chemin: str | Path) -> pd.DataFrame:
    """Relit un ``indicateurs.csv`` : codes en texte, nombres en nombres, textes tels qu'écrits
    avant la neutralisation des formules (l'apostrophe ajoutée par ``ecrire_indicateurs`` est
    retirée).

    Returns
    -------
    pandas.DataFrame
        Les colonnes de ``COLONNES_INDICATEURS`` ; ``valeur`` et ``part`` en flottants.
    """
    table = pd.read_csv(chemin, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for colonne in ("territoire", "indicateur", "modalite", "libelle"):
        texte = table[colonne]
        ajoutee = texte.str.startswith("'") & texte.str[1:2].isin(list(DEBUTS_DE_FORMULE))
        table[colonne] = texte.where(~ajoutee, texte.str[1:])
    for colonne in ("valeur", "part"):
        table[colonne] = pd.to_numeric(table[colonne].replace("", None), errors="coerce").astype(float)
    return table[COLONNES_INDICATEURS]
