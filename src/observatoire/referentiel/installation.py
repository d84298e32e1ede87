"""Installation du référentiel d'un territoire depuis un miroir national, d'un coup.

Les contours (QPV, communes, EPCI, EPT, départements) ne sont installés que pour les
départements demandés ; les tables nationales le sont toujours. Rien n'est remplacé tant que
tout n'a pas été écrit et relu.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from ..commun.codes import normaliser_departements
from ..commun.erreurs import ErreurParametre, ErreurReferentiel
from ..commun.fichiers import (
    MARQUEUR,
    appliquer_droits,
    dossier_referentiel_par_defaut,
    marquer_dossier,
    remplacer_dossier,
    sha256_fichier,
    usage_du_dossier,
)
from ..commun.garde import Entree, verifier_sorties
from ..commun.typographie import accord
from .chargement import vider_cache
from .couches import (
    COUCHES,
    COUCHES_PAR_NOM,
    LICENCE_OUVERTE,
    MILLESIME_COG,
    MILLESIME_QPV,
    MIROIR_NATIONAL,
    NOM_MANIFESTE,
    colonne_population,
    lire_couche_brute,
    lire_table_de_reference,
)

__all__ = ["completer_qpv", "installer_fichiers", "installer_referentiel"]


def installer_referentiel(
    depuis: str | Path,
    vers: str | Path | None = None,
    *,
    departements: str | Iterable[object] | None = None,
    region: str | None = None,
    origine: str | None = None,
) -> dict:
    """Installe le référentiel d'un territoire depuis un miroir national, le vérifie, le décrit.

    Les contours (QPV, communes, EPCI, EPT, départements) ne sont installés que pour les
    départements demandés ; les tables nationales (toutes les communes avec leur département,
    leur région et leur population, les anciens codes, les départements) le sont toujours,
    pour nommer et contrôler n'importe quelle commune. Rien n'est remplacé tant que tout n'a
    pas été écrit et relu : en cas d'erreur, le référentiel déjà installé reste intact.

    Parameters
    ----------
    depuis : str or Path
        Dossier miroir : celui qui contient ``france/`` (par exemple ``../shared/reference``)
        ou ``france/`` lui-même.
    vers : str or Path, optional
        Dossier d'installation ; par défaut ``dossier_referentiel_par_defaut()``.
    departements : str or iterable, optional
        Départements du territoire (``"13 83 84"``, ``("13", "83", "84")``).
    region : str, optional
        Code INSEE d'une région : tous ses départements (``"93"``).
    origine : str, optional
        Description de l'origine pour le manifeste (par défaut, le nom du miroir).

    Returns
    -------
    dict
        Le manifeste écrit.

    Raises
    ------
    ErreurParametre
        Ni départements ni région, ou un code inconnu (le message liste les codes valides).
    ErreurReferentiel
        Miroir absent, incomplet ou illisible.
    """
    cible = Path(vers) if vers else dossier_referentiel_par_defaut()
    verifier_sorties([("le dossier du référentiel (--vers)", cible)], [Entree(Path(depuis), "miroir")])
    national = _dossier_national(Path(depuis))
    communes_france = lire_table_de_reference(
        national / MIROIR_NATIONAL["communes_france"], "communes_france"
    )
    codes = _departements_a_installer(communes_france, departements, region)
    with tempfile.TemporaryDirectory(prefix=".extraction-") as dossier:
        fichiers = _extraire_territoire(national, communes_france, codes, Path(dossier))
        provenance = Path(depuis) / "PROVENANCE.md"
        if not provenance.is_file():
            provenance = national.parent / "PROVENANCE.md"
        return installer_fichiers(
            fichiers,
            cible,
            mode="miroir",
            origine=origine or f"miroir {Path(depuis).name or depuis}",
            documents=[provenance] if provenance.is_file() else [],
            departements=codes,
            absentes={
                nom: f"absente du miroir ({MIROIR_NATIONAL[nom]})"
                for nom in ("qpv_contexte", "qpv_correspondance")
                if nom not in fichiers
            },
        )


def _dossier_national(miroir: Path) -> Path:
    for candidat in (miroir / "france", miroir):
        if (candidat / MIROIR_NATIONAL["communes_france"]).is_file():
            manquants = [
                fichier
                for nom, fichier in MIROIR_NATIONAL.items()
                if COUCHES_PAR_NOM[nom].obligatoire and not (candidat / fichier).is_file()
            ]
            if manquants:
                raise ErreurReferentiel(
                    f"Le dossier miroir {candidat} ne contient pas les couches : {', '.join(manquants)}. "
                    "Vérifiez le chemin ou complétez le miroir."
                )
            return candidat
    if not miroir.is_dir():
        raise ErreurReferentiel(
            f"Dossier miroir introuvable : {miroir}. Indiquez le dossier qui contient france/ "
            "(communes_france.csv, qpv_2024_france.geojson…), par exemple ../shared/reference, "
            "ou utilisez « observatoire referentiel telecharger »."
        )
    raise ErreurReferentiel(
        f"Le dossier miroir {miroir} ne contient pas les couches nationales (france/communes_france.csv, "
        "france/qpv_2024_france.geojson…). Vérifiez le chemin ou complétez le miroir."
    )


def _departements_a_installer(communes_france: pd.DataFrame, departements, region) -> tuple[str, ...]:
    disponibles = sorted(set(communes_france["insee_dep"]))
    if region not in (None, ""):
        code_region = str(region).strip().zfill(2)
        codes = tuple(
            sorted(set(communes_france.loc[communes_france["insee_reg"] == code_region, "insee_dep"]))
        )
        if not codes:
            regions = communes_france[["insee_reg", "nom_reg"]].drop_duplicates().sort_values("insee_reg")
            raise ErreurParametre(
                f"Région inconnue : {region!r}. Codes INSEE des régions : "
                + ", ".join(f"{c} ({n})" for c, n in regions.itertuples(index=False))
                + "."
            )
        return codes
    if departements in (None, "", (), []):
        raise ErreurParametre(
            "Indiquez le territoire à installer : --departements (par exemple 13 83 84) ou --region "
            "(par exemple 93), ou les départements du fichier observatoire.toml du centre (--donnees)."
        )
    codes = normaliser_departements(departements)
    inconnus = [code for code in codes if code not in disponibles]
    if inconnus:
        raise ErreurParametre(
            f"{accord(len(inconnus), 'Département inconnu', 'Départements inconnus')} : {', '.join(inconnus)}. "
            f"Codes disponibles : {', '.join(disponibles)}."
        )
    return codes


def _extraire_territoire(
    national: Path, communes_france: pd.DataFrame, codes: tuple[str, ...], dossier: Path
) -> dict[str, Path]:
    """Écrit dans ``dossier`` les couches du territoire ; renvoie couche → fichier à installer."""
    filtre = "insee_dep IN (" + ", ".join(f"'{code}'" for code in codes) + ")"
    communes = _lire_filtre(national / MIROIR_NATIONAL["communes"], filtre)
    anciennes_chemin = national / MIROIR_NATIONAL["communes_anciennes"]
    anciennes = (
        lire_table_de_reference(anciennes_chemin, "communes_anciennes")
        if anciennes_chemin.is_file()
        else None
    )
    qpv = _lire_filtre(national / MIROIR_NATIONAL["qpv"], filtre)
    couches = {
        "qpv": completer_qpv(qpv, communes_france, anciennes),
        "communes": communes,
        "departements": _lire_filtre(national / MIROIR_NATIONAL["departements"], filtre),
    }
    for nom, colonne in (("epci", "siren_epci"), ("ept", "code_ept")):
        membres = sorted(set(communes[colonne].dropna()) - {""})
        if membres:
            liste = ", ".join(f"'{code}'" for code in membres)
            couches[nom] = _lire_filtre(national / MIROIR_NATIONAL[nom], f"{colonne} IN ({liste})")
    fichiers = {}
    for nom, table in couches.items():
        chemin = dossier / COUCHES_PAR_NOM[nom].fichier
        pyogrio.write_dataframe(table, chemin, driver="GeoJSON", layer=nom, COORDINATE_PRECISION=6)
        fichiers[nom] = chemin
    fichiers["communes_france"] = national / MIROIR_NATIONAL["communes_france"]
    fichiers["departements_france"] = national / MIROIR_NATIONAL["departements"]
    if anciennes is not None:
        fichiers["communes_anciennes"] = anciennes_chemin
    codes_qp = set(couches["qpv"]["code_qp"])
    for nom in ("qpv_contexte", "qpv_correspondance"):
        source = national / MIROIR_NATIONAL[nom]
        if source.is_file():
            fichiers[nom] = _extraire_lignes(source, COUCHES_PAR_NOM[nom], codes_qp, dossier)
    return fichiers


def _extraire_lignes(source: Path, couche, codes_qp: set[str], dossier: Path) -> Path:
    """Les lignes des QPV du territoire d'une table nationale, valeurs gardées telles quelles."""
    table = lire_couche_brute(source, couche)
    if "dans_qpv_2024_france" in table.columns:
        table = table[table["dans_qpv_2024_france"].str.lower() == "true"]
    chemin = dossier / couche.fichier
    table[table["code_qp"].isin(codes_qp)].to_csv(chemin, index=False, lineterminator="\n")
    return chemin


def _lire_filtre(chemin: Path, filtre: str) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(chemin, where=filtre)
    except Exception as erreur:  # pyogrio lève des erreurs GDAL variées
        raise ErreurReferentiel(
            f"Fichier de référence illisible ou tronqué : {chemin} ({erreur}). Vérifiez ou recopiez le miroir."
        ) from erreur


def completer_qpv(
    qpv: gpd.GeoDataFrame, communes_france: pd.DataFrame, anciennes: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """Ajoute aux QPV les noms, EPCI et EPT de leurs communes d'accueil (codes actuels).

    Les codes d'accueil qui ne sont plus des communes (fusion après la publication des QPV)
    sont remplacés par la commune actuelle (table des anciens codes).

    Parameters
    ----------
    qpv : geopandas.GeoDataFrame
        QPV avec ``code_qp``, ``lib_qp``, ``insee_com`` (codes d'accueil séparés par des virgules).
    communes_france : pandas.DataFrame
        Table nationale des communes.
    anciennes : pandas.DataFrame, optional
        Table des anciens codes.

    Returns
    -------
    geopandas.GeoDataFrame
        Copie avec ``insee_dep`` (tiré du code du QPV), ``insee_com``, ``lib_com``,
        ``n_communes``, ``siren_epci``, ``nom_epci``, ``code_ept``, ``nom_ept``.
    """
    table = communes_france.set_index("insee_com")
    actuels = (
        {} if anciennes is None else dict(zip(anciennes["code_ancien"], anciennes["insee_com"], strict=True))
    )

    def hotes(valeur) -> list[str]:
        codes = [c.strip() for c in str(valeur).split(",") if c.strip()]
        codes = [c if c in table.index else actuels.get(c, c) for c in codes]
        return list(dict.fromkeys(c for code in codes for c in code.split(",")))

    def joindre(codes: list[str], colonne: str) -> str:
        valeurs = [str(table[colonne].get(c, "") or "") for c in codes]
        return ",".join(dict.fromkeys(v for v in valeurs if v))

    resultat = qpv.copy()
    listes = resultat["insee_com"].map(hotes)
    resultat["insee_com"] = listes.map(",".join)
    resultat["insee_dep"] = resultat["code_qp"].str[2:5].str.lstrip("0").str.zfill(2)
    resultat["lib_com"] = listes.map(lambda c: ",".join(str(table["nom_com"].get(x, "")) for x in c))
    resultat["n_communes"] = listes.map(len)
    for colonne in ("siren_epci", "nom_epci", "code_ept", "nom_ept"):
        resultat[colonne] = listes.map(lambda c, colonne=colonne: joindre(c, colonne))
    return resultat


def installer_fichiers(
    fichiers: dict[str, Path],
    cible: Path,
    *,
    mode: str,
    origine: str,
    documents: list[Path],
    departements: tuple[str, ...],
    absentes: dict[str, str] | None = None,
) -> dict:
    """Copie, relit et installe des couches d'un coup (miroir ou téléchargement).

    Le référentiel en place n'est remplacé qu'une fois tout copié et relu sans erreur.

    Parameters
    ----------
    fichiers : dict
        Nom de couche → fichier source.
    cible : Path
        Dossier d'installation.
    mode, origine : str
        Pour le manifeste (``miroir`` ou ``telechargement`` ; d'où viennent les fichiers).
    documents : list of Path
        Documents copiés tels quels (``PROVENANCE.md``).
    departements : tuple of str
        Départements du territoire installé.
    absentes : dict, optional
        Couches facultatives qui ne peuvent être installées, et pourquoi (dit par les rapports).

    Returns
    -------
    dict
        Le manifeste écrit.
    """
    absentes = dict(absentes or {})
    manquantes = [c.nom for c in COUCHES if c.obligatoire and c.nom not in fichiers]
    if manquantes:
        raise ErreurReferentiel(f"Couches manquantes pour l'installation : {', '.join(manquantes)}.")
    cible.parent.mkdir(parents=True, exist_ok=True)
    temporaire = Path(tempfile.mkdtemp(prefix=".reference-", dir=cible.parent))
    try:
        couches: dict[str, dict[str, Any]] = {}
        population = None
        for nom, chemin in fichiers.items():
            couche = COUCHES_PAR_NOM[nom]
            destination = temporaire / couche.fichier
            shutil.copyfile(chemin, destination)
            table = lire_couche_brute(destination, couche)
            if nom == "communes_france":
                population = colonne_population(table)
            couches[nom] = {
                "fichier": couche.fichier,
                "source": couche.source,
                "origine": chemin.name if mode == "miroir" else origine,
                "licence": couche.licence or LICENCE_OUVERTE,
                "millesime": couche.millesime or (MILLESIME_QPV if nom == "qpv" else MILLESIME_COG),
                "entites": int(len(table)),
                "octets": destination.stat().st_size,
                "sha256": sha256_fichier(destination),
            }
            if couche.precautions:
                couches[nom]["precautions"] = list(couche.precautions)
        for document in documents:
            shutil.copyfile(document, temporaire / document.name)
        manifeste = {
            "mode": mode,
            "origine": origine,
            "installe_le": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "departements": list(departements),
            "millesime_qpv": MILLESIME_QPV,
            "millesime_cog": MILLESIME_COG,
            "millesime_population": int(population[len("pop_mun_") :]) if population else None,
            "couches": couches,
            "absentes": {
                c.nom: absentes.get(c.nom, "absente du miroir")
                for c in COUCHES
                if not c.obligatoire and c.nom not in fichiers and c.nom in absentes
            },
        }
        (temporaire / NOM_MANIFESTE).write_text(
            json.dumps(manifeste, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        appliquer_droits(temporaire)
        _reconnaitre_ancienne_installation(cible)
        en_place = _installation_identique(temporaire, cible, manifeste)
        if en_place is not None:
            manifeste = en_place  # rien ne change : le dossier en place n'est pas touché
        else:
            remplacer_dossier(temporaire, cible, "referentiel")
    finally:
        shutil.rmtree(temporaire, ignore_errors=True)
    vider_cache()
    return manifeste


def _installation_identique(temporaire: Path, cible: Path, manifeste: dict) -> dict | None:
    """Le manifeste en place si ``cible`` contient déjà exactement ce qui vient d'être préparé
    (mêmes fichiers, mêmes octets, même manifeste à la date près), sinon ``None``.

    Réinstaller un référentiel identique ne remplace rien : les rapports et notebooks qui le
    lisent au même moment ne le voient jamais disparaître."""
    if usage_du_dossier(cible) != "referentiel":
        return None
    try:
        en_place = json.loads((cible / NOM_MANIFESTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sans_date = {k: v for k, v in manifeste.items() if k != "installe_le"}
    if (
        not isinstance(en_place, dict)
        or {k: v for k, v in en_place.items() if k != "installe_le"} != sans_date
    ):
        return None
    noms = {p.name for p in temporaire.iterdir()} | {MARQUEUR}
    if {p.name for p in cible.iterdir()} != noms:
        return None
    for nom in noms - {MARQUEUR, NOM_MANIFESTE}:
        if not (cible / nom).is_file() or sha256_fichier(cible / nom) != sha256_fichier(temporaire / nom):
            return None
    return en_place


def _reconnaitre_ancienne_installation(cible: Path) -> None:
    """Un référentiel installé par une version sans marqueur (son manifeste le dit) est reconnu."""
    manifeste = cible / NOM_MANIFESTE
    if usage_du_dossier(cible) is None and manifeste.is_file():
        try:
            contenu = json.loads(manifeste.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(contenu, dict) and "couches" in contenu and "installe_le" in contenu:
            marquer_dossier(cible, "referentiel")
