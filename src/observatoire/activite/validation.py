"""Validation des tables d'activité : normalisation des codes, contrôles par colonne (pandera),
contrôles croisés (distanciel, coordonnées, origines, dates).

Les contrôles par colonne sont déclarés avec pandera (un schéma par colonne, tous les écarts
collectés en une passe avec ``lazy=True``) et appliqués aux seules valeurs distinctes de chaque
colonne : une table d'un million de participations n'en a que quelques centaines par colonne.
Chaque cellule reçoit au plus un problème ; une ligne au nombre de champs faux n'en reçoit pas
d'autre (ses valeurs sont décalées), et aucune de ses valeurs n'est citée.
"""

from __future__ import annotations

import difflib
import re
from typing import cast

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..commun.codes import departement_de_commune
from ..commun.lecture import TableBrute, cle_colonne, montrer, probleme
from ..commun.typographie import format_date, mois_en_lettres
from ..referentiel.chargement import Referentiel
from .contrat import ANNEE_MAX, ANNEE_MIN, CONTRAT, Colonne, colonne
from .coordonnees import controler_coordonnees
from .sources import EXCEL_ERREURS
from .valeurs import FAUX, VRAI, booleens, dates, decimaux, series_excel
from .vocabulaires import normaliser_vocabulaire, suggerer

__all__ = ["controler_structure", "controles_croises", "normaliser", "valider_colonnes"]

_MOTIF_COMMUNE = r"(?:\d{5}|2[AB]\d{3})"
_MOTS_VIDES = {"de", "du", "des", "d", "la", "le", "l", "les"}


def _cle_souple(nom: str) -> str:
    """« Type de demandeur » et « type_demandeur » ont la même clé souple."""
    return "_".join(m for m in re.split(r"[_'’]+", cle_colonne(nom)) if m and m not in _MOTS_VIDES)


def controler_structure(brutes: dict[str, TableBrute], problemes: list[dict]) -> list[dict]:
    """Colonnes requises présentes, tables non vides ; renvoie les problèmes de structure (qui
    arrêtent dans tous les modes) et ajoute à ``problemes`` les colonnes hors contrat."""
    structure: list[dict] = []
    for table, brute in brutes.items():
        attendues = {c.nom for c in CONTRAT[table]}
        hors_contrat = [c for c in brute.donnees.columns if c not in attendues]
        absentes = [c for c in CONTRAT[table] if c.requise and c.nom not in brute.donnees.columns]
        renommer = {}
        for manquante in absentes:
            proche = next((h for h in hors_contrat if _cle_souple(h) == _cle_souple(manquante.nom)), None)
            if proche is not None:
                renommer[proche] = manquante.nom
                structure.append(
                    probleme(
                        table, brute.fichier, brute.ligne_en_tete, proche, "", "erreur",
                        f"l'en-tête « {proche} » semble être la colonne requise « {manquante.nom} ».",
                        f"Renommez l'en-tête « {proche} » en « {manquante.nom} ».",
                    )
                )  # fmt: skip
            else:
                structure.append(
                    probleme(
                        table, brute.fichier, brute.ligne_en_tete, manquante.nom, "", "erreur",
                        f"colonne requise « {manquante.nom} » absente.",
                        f"Ajoutez la colonne « {manquante.nom} » à la ligne d'en-tête.",
                    )
                )  # fmt: skip
        for nom in hors_contrat:
            if nom in renommer:
                continue
            problemes.append(
                probleme(
                    table, brute.fichier, brute.ligne_en_tete, nom, "", "avertissement",
                    f"colonne « {nom} » hors contrat, ignorée (jamais copiée dans les sorties).",
                    "Rien à faire, ou retirez la colonne de l'export.",
                )
            )  # fmt: skip
        # Les lecteurs omettent les lignes entièrement vides ; seule une ligne aux champs en trop
        # (tronquée à la largeur de l'en-tête, et déjà en erreur) peut le devenir ici.
        douteuses = brute.donnees.index.intersection(sorted(brute.lignes_douteuses))
        if len(douteuses) and len(brute.donnees.columns):
            extrait = brute.donnees.loc[douteuses]
            vides = extrait.apply(lambda s: s.astype(str).str.strip() == "").all(axis=1)
            brute.donnees = brute.donnees.drop(index=vides.index[vides])
    for table, brute in brutes.items():
        if brute.donnees.empty and table != "demandes":
            structure.append(
                probleme(
                    table, brute.fichier, brute.ligne_en_tete + 1, None, "", "erreur",
                    f"table {table} sans aucune ligne de données.",
                    "Exportez les lignes de l'année sous l'en-tête : une année sans activité ne fait pas de rapport.",
                )
            )  # fmt: skip
    return structure


# --------------------------------------------------------------------------- normalisation


def normaliser(
    table: str, brute: TableBrute, referentiel: Referentiel, problemes: list[dict]
) -> pd.DataFrame:
    """Textes nettoyés (espaces), valeurs d'erreur Excel signalées, codes communes réparés."""
    donnees = pd.DataFrame(index=brute.donnees.index)
    for col in CONTRAT[table]:
        if col.nom in brute.donnees.columns:
            # Une passe par valeur distincte : espaces, valeurs d'erreur Excel, code département.
            codes, distinctes = pd.factorize(brute.donnees[col.nom], use_na_sentinel=False)
            nettes = pd.Series(distinctes, dtype=object).astype(str).str.strip()
            erreurs_excel = nettes.str.upper().isin(EXCEL_ERREURS).to_numpy()[codes]
            if col.format == "departement":
                nettes = nettes.map(_normaliser_code_departement)
            valeurs = pd.Series(nettes.to_numpy(dtype=object)[codes], index=brute.donnees.index, dtype=object)
            if erreurs_excel.any():
                _signaler_erreurs_excel(
                    brute.donnees[col.nom].astype(str).str.strip(), erreurs_excel, brute, col.nom, problemes
                )
        else:
            valeurs = pd.Series(col.defaut, index=brute.donnees.index, dtype=object)
            if col.format == "departement":
                valeurs = valeurs.map(_normaliser_code_departement)
        if col.format == "commune":
            valeurs = _reparer_communes(valeurs, brute, col.nom, referentiel, problemes)
        donnees[col.nom] = valeurs.astype(object)
    return donnees


def _signaler_erreurs_excel(
    valeurs: pd.Series, erreurs: np.ndarray, brute: TableBrute, nom: str, problemes: list[dict]
) -> None:
    for index in valeurs.index[erreurs]:
        problemes.append(
            probleme(
                brute.table, brute.fichier, index + 2, brute.nom_colonne(nom), valeurs[index], "erreur",
                f"valeur d'erreur Excel « {valeurs[index]} » : la formule de la cellule a échoué.",
                "Corrigez la formule dans le classeur source, ou remplacez la cellule par sa valeur.",
            )
        )  # fmt: skip


def _normaliser_code_departement(valeur: str) -> str:
    texte = valeur.strip()
    if texte.lower() in ("autre", "autres", "hors territoire"):
        return "autre"
    if texte.isdigit() and len(texte) == 1:
        return "0" + texte
    if texte.isdigit() and len(texte) == 3 and texte.startswith("0"):
        return texte[1:]
    return texte.upper()


def _motif_ancien_code(code: str, ancien: dict, millesime_cog: int) -> str:
    actuel = f"{ancien['nom_com']} ({ancien['insee_com']})"
    if ancien["type_lien"] == "arrondissement_municipal":
        return f"arrondissement municipal {ancien['nom_ancien']}, compté dans sa commune, {actuel}"
    depuis = ""
    if ancien["date_effet"]:
        depuis = f" le {format_date(pd.Timestamp(ancien['date_effet']))}"
    libelles = {
        "commune_deleguee": "devenue commune déléguée de",
        "commune_associee": "devenue commune associée de",
        "changement_code": "a changé de code pour",
    }
    lien = libelles.get(ancien["type_lien"], "fusionnée dans")
    return f"ancien code de {ancien['nom_ancien']}, {lien} {actuel}{depuis} (COG {millesime_cog})"


def _reparer_communes(valeurs: pd.Series, brute: TableBrute, nom: str, referentiel, problemes):
    reparations: dict[str, tuple[str, str]] = {}
    anciens, connus = referentiel.anciens_codes, referentiel.codes_france
    for valeur in pd.unique(valeurs):
        code = valeur.upper().removesuffix(".0")
        motif = ""
        if re.fullmatch(r"\d{4}", code):
            # Seul un code 0XXXX (départements 01 à 09) perd un chiffre : la réparation est sûre.
            code, motif = "0" + code, "zéro initial perdu par Excel : code complété"
        ancien = anciens.get(code) if code not in connus else None
        if ancien is not None and "," not in ancien["insee_com"]:
            code, motif = ancien["insee_com"], _motif_ancien_code(code, ancien, referentiel.millesime_cog)
        if code != valeur:
            reparations[valeur] = (code, motif)
    if not reparations:
        return valeurs
    nouvelles = valeurs.map(lambda v: reparations[v][0] if v in reparations else v)
    for valeur, (code, motif) in reparations.items():
        if not motif:
            continue
        correction = (
            "Mettez la colonne au format Texte dans Excel pour faire disparaître l'avertissement."
            if motif.startswith("zéro")
            else f"Remplacez l'ancien code par le code actuel {code} pour faire disparaître l'avertissement."
        )
        for index in valeurs.index[valeurs == valeur]:
            problemes.append(
                probleme(
                    brute.table, brute.fichier, index + 2, brute.nom_colonne(nom), valeur, "avertissement",
                    f"{motif} ({valeur} → {code}).", correction,
                )
            )  # fmt: skip
    return nouvelles


def _message_commune_inconnue(code: str, referentiel: Referentiel) -> tuple[str, str]:
    """Message d'un code inconnu : ancien code partagé, ou le code valide le plus proche."""
    cog = f"COG {referentiel.millesime_cog}"
    ancien = referentiel.anciens_codes.get(code)
    if ancien is not None:  # seul reste ici un code partagé entre plusieurs communes
        date = format_date(pd.Timestamp(ancien["date_effet"])) if ancien["date_effet"] else "autrefois"
        return (
            f"la commune « {code} » ({ancien['nom_ancien']}) a été supprimée le {date}, son territoire "
            f"partagé entre {ancien['insee_com'].replace(',', ', ')}.",
            "Choisissez la commune actuelle où la séance ou la personne se trouve.",
        )
    table = referentiel.communes_france
    meme_departement = table.loc[table["insee_dep"] == departement_de_commune(pd.Series([code])).iloc[0]]
    proches = difflib.get_close_matches(code, meme_departement["insee_com"].tolist(), n=1, cutoff=0.6)
    conseil = ""
    if proches:
        nom = meme_departement.set_index("insee_com").at[proches[0], "nom_com"]
        conseil = f" Code valide le plus proche : {proches[0]} ({nom}) ?"
    return (
        f"commune « {code} » inconnue du {cog} (ni commune actuelle ni ancien code).",
        f"Vérifiez le code INSEE (et non postal) de la commune dans le {cog}.{conseil}",
    )


# --------------------------------------------------------------------------- par colonne (pandera)


def valider_colonnes(
    table: str, normalisees: dict[str, pd.DataFrame], brute: TableBrute, referentiel: Referentiel, problemes
) -> None:
    """Contrôles de format, de vocabulaire, de bornes, d'unicité et de référence d'une table."""
    donnees = normalisees[table]
    for col in CONTRAT[table]:
        valeurs = donnees[col.nom]
        if col.unique:
            remplies = valeurs[valeurs != ""]
            for index in remplies.index[remplies.duplicated(keep=False)]:
                _ajouter(problemes, table, brute, index, col.nom, "unique", valeurs[index], referentiel)
        distinctes = pd.Series(pd.unique(valeurs), dtype=object)
        schema = pa.DataFrameSchema(
            {
                col.nom: pa.Column(
                    checks=_controles(col, normalisees, referentiel), nullable=False, coerce=False
                )
            },
            strict=False,
            name=table,
        )
        try:
            schema.validate(pd.DataFrame({col.nom: distinctes}), lazy=True)
        except pa.errors.SchemaErrors as erreurs:
            cas = erreurs.failure_cases
            cas = cas[cas["index"].notna()]
            echecs: dict[str, str] = {}
            for controle, position in zip(cas["check"], cas["index"], strict=True):
                echecs.setdefault(distinctes.iloc[int(position)], controle)
            for index in valeurs.index[valeurs.isin(set(echecs))]:
                _ajouter(
                    problemes,
                    table,
                    brute,
                    index,
                    col.nom,
                    echecs[valeurs[index]],
                    valeurs[index],
                    referentiel,
                )


def _ajouter(problemes, table, brute: TableBrute, index, nom, controle, valeur, referentiel) -> None:
    message, correction = _message(table, nom, controle, valeur, referentiel)
    brute_valeur = brute.donnees.at[index, nom] if nom in brute.donnees.columns else ""
    problemes.append(
        probleme(
            table,
            brute.fichier,
            index + 2,
            brute.nom_colonne(nom),
            brute_valeur,
            "erreur",
            message,
            correction,
        )
    )


def _controles(col: Colonne, normalisees, referentiel: Referentiel) -> list[pa.Check]:
    controles = []
    if col.obligatoire:
        controles.append(pa.Check(lambda s: s != "", name="obligatoire"))
    return controles + _controles_format(col, normalisees, referentiel)


def _vide(s: pd.Series) -> pd.Series:
    return s == ""


def _controles_format(col: Colonne, normalisees, referentiel: Referentiel) -> list[pa.Check]:
    f = col.format
    if f == "vocabulaire":
        nom = col.vocabulaire or ""
        return [pa.Check(lambda s: _vide(s) | normaliser_vocabulaire(s, nom).notna(), name="vocabulaire")]
    if f == "date":
        return [
            pa.Check(lambda s: _vide(s) | dates(s).notna(), name="date"),
            pa.Check(
                lambda s: dates(s).isna() | dates(s).dt.year.between(ANNEE_MIN, ANNEE_MAX),
                name="date_plausible",
            ),
        ]
    if f == "entier":
        maximum = col.maximum if col.maximum is not None else np.inf
        return [
            pa.Check(lambda s: _vide(s) | decimaux(s).notna(), name="nombre"),
            pa.Check(lambda s: ~(decimaux(s) < 0), name="negatif"),
            pa.Check(lambda s: ~((decimaux(s) % 1).fillna(0) != 0), name="entier"),
            pa.Check(lambda s: ~(decimaux(s) > maximum), name=f"borne_{maximum:.0f}"),
        ]
    if f == "decimal":
        return [pa.Check(lambda s: _vide(s) | decimaux(s).notna(), name="nombre")]
    if f == "booleen":
        return [pa.Check(lambda s: s.str.lower().isin(VRAI | FAUX), name="booleen")]
    if f == "commune":
        connues = referentiel.codes_france
        departements = set(referentiel.noms_departements_france)

        def departement_existe(s: pd.Series) -> pd.Series:
            return departement_de_commune(s).isin(departements)

        return [
            pa.Check(lambda s: _vide(s) | s.str.fullmatch(_MOTIF_COMMUNE), name="format_commune"),
            pa.Check(
                lambda s: _vide(s) | ~s.str.fullmatch(_MOTIF_COMMUNE) | departement_existe(s),
                name="departement_inexistant",
            ),
            pa.Check(lambda s: _vide(s) | s.isin(connues) | ~departement_existe(s), name="commune_inconnue"),
        ]
    if f == "departement":
        existants = set(referentiel.noms_departements_france) | {"autre"}
        return [pa.Check(lambda s: _vide(s) | s.isin(existants), name="departement")]
    if f == "siren":
        return [pa.Check(lambda s: _vide(s) | s.str.fullmatch(r"\d{9}"), name="siren")]
    if col.reference:
        table_ref, colonne_ref = col.reference
        connus = set(normalisees[table_ref][colonne_ref])
        return [pa.Check(lambda s: _vide(s) | s.isin(connus), name="reference")]
    return []


def _message(table: str, nom: str, controle: str, valeur, referentiel: Referentiel) -> tuple[str, str]:
    valeur = montrer(valeur)
    if controle == "obligatoire":
        return "valeur manquante.", f"Remplissez la colonne « {nom} »."
    if controle == "unique":
        return (
            f"identifiant « {valeur} » en double.",
            "Chaque ligne doit avoir un identifiant unique : renumérotez ou supprimez le doublon.",
        )
    if controle == "vocabulaire":
        vocabulaire = colonne(table, nom).vocabulaire or ""
        proche = suggerer(valeur, vocabulaire)
        conseil = f" Vouliez-vous dire « {proche} » ?" if proche else ""
        return (
            f"valeur « {valeur} » hors du vocabulaire « {vocabulaire} ».",
            f"Utilisez un code ou un libellé de la liste (data/README.md).{conseil}",
        )
    if controle == "date":
        return _message_date(valeur)
    if controle == "date_plausible":
        return (
            f"date invraisemblable « {valeur} ».",
            f"Les dates vont de {ANNEE_MIN} à {ANNEE_MAX} : vérifiez l'année saisie.",
        )
    if controle.startswith("borne_"):
        return (
            f"nombre « {valeur} » au-delà du maximum plausible ({controle.removeprefix('borne_')} par ligne).",
            "Vérifiez la saisie (un effectif par ligne, un nombre de demi-journées par séance).",
        )
    if controle == "departement_inexistant":
        return (
            f"code commune « {valeur} » : aucun département n'a ce code.",
            "Un code INSEE commence par le code du département (01 à 95, 2A, 2B, 971 à 976). Vérifiez qu'il "
            "ne s'agit pas d'un code postal ou d'une faute de frappe.",
        )
    messages = {
        "nombre": (f"nombre illisible « {valeur} ».", "Écrivez un nombre (virgule ou point décimal)."),
        "negatif": (
            f"nombre négatif « {valeur} ».",
            "Un effectif ou un nombre de demi-journées est positif ou nul.",
        ),
        "entier": (
            f"nombre non entier « {valeur} ».",
            "Écrivez un nombre entier (personnes, demi-journées).",
        ),
        "booleen": (f"valeur « {valeur} » non reconnue : oui ou non attendu.", "Écrivez oui ou non."),
        "format_commune": (
            f"code commune INSEE invalide « {valeur} ».",
            "Un code INSEE a 5 caractères (par exemple 95018 ou 2A004) ; ce n'est pas le code postal.",
        ),
        "departement": (
            f"département « {valeur} » inconnu.",
            "Écrivez le code d'un département de France (78, 92, 95, 2A, 971…) ou « autre ».",
        ),
        "siren": (f"SIREN « {valeur} » invalide.", "Un SIREN d'EPCI ou d'EPT a 9 chiffres."),
    }
    if controle in messages:
        return messages[controle]
    if controle == "commune_inconnue":
        return _message_commune_inconnue(valeur, referentiel)
    if controle == "reference":
        cible = colonne(table, nom).reference or ("?", "?")
        return (
            f"« {valeur} » absent de la table {cible[0]} (colonne {cible[1]}).",
            f"Ajoutez la ligne correspondante dans {cible[0]}, ou corrigez l'identifiant.",
        )
    return f"contrôle « {controle} » en échec.", "Corrigez la valeur."


def _message_date(valeur: str) -> tuple[str, str]:
    francaise = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*", valeur)
    iso = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", valeur)
    if francaise or iso:
        trouve = francaise or iso
        assert trouve is not None
        jour, mois, annee = (int(x) for x in (trouve.groups() if francaise else reversed(trouve.groups())))
        if 1 <= mois <= 12:
            return (
                f"le {jour} {mois_en_lettres(mois)} {annee} n'existe pas.",
                "Corrigez le jour ou le mois de la date.",
            )
        return f"date « {valeur} » : il n'y a pas de mois {mois}.", "Corrigez le mois de la date (de 1 à 12)."
    conseil = ""
    if re.fullmatch(r"\d{4,6}", valeur.strip()):
        conseil = (
            " Ce nombre ressemble à un numéro de série de date Excel hors de 1990-2100 : mettez la colonne au "
            "format Date dans Excel."
        )
    return f"date illisible « {valeur} ».", "Écrivez la date au format JJ/MM/AAAA ou AAAA-MM-JJ." + conseil


# --------------------------------------------------------------------------- contrôles croisés


def controles_croises(normalisees, brutes, referentiel: Referentiel, annee: int | None, problemes) -> None:
    """Distanciel et commune, coordonnées, origine des participations, dates et année."""
    seances = normalisees["seances"]
    brute = brutes["seances"]
    distanciel = booleens(seances["distanciel"])
    sans_commune = (seances["code_commune"] == "") & ~distanciel
    for index in seances.index[sans_commune]:
        problemes.append(
            probleme(
                "seances", brute.fichier, index + 2, brute.nom_colonne("code_commune"), "", "erreur",
                "commune du lieu manquante pour une séance en présentiel.",
                "Indiquez le code INSEE de la commune du lieu, ou distanciel = oui.",
            )
        )  # fmt: skip
    presentiel = seances[~distanciel]
    for douteuse in controler_coordonnees(
        presentiel["latitude"], presentiel["longitude"], presentiel["code_commune"], referentiel
    ):
        index = douteuse.index
        problemes.append(
            probleme(
                "seances", brute.fichier, cast(int, index) + 2, brute.nom_colonne("latitude"),
                f"{seances.at[index, 'latitude']} ; {seances.at[index, 'longitude']}", douteuse.gravite,
                f"séance {montrer(seances.at[index, 'id_seance'])} : {douteuse.message}", douteuse.correction,
            )
        )  # fmt: skip
    participations = normalisees["participations"]
    sans_origine = (participations["code_commune_origine"] == "") & (
        participations["departement_origine"] == ""
    )
    for index in participations.index[sans_origine]:
        problemes.append(
            probleme(
                "participations", brutes["participations"].fichier, index + 2,
                brutes["participations"].nom_colonne("departement_origine"), "", "erreur",
                "origine inconnue : ni commune ni département.",
                "Indiquez la commune d'origine, ou le département d'origine (code ou « autre »).",
            )
        )  # fmt: skip
    for table in ("seances", "demandes"):
        _controler_dates(table, normalisees[table], brutes[table], annee, problemes)


def _controler_dates(table: str, donnees: pd.DataFrame, brute: TableBrute, annee, problemes) -> None:
    texte = donnees["date"].astype(str).str.strip()
    nom = brute.nom_colonne("date")
    series = series_excel(texte)
    for index in donnees.index[series.notna()]:
        problemes.append(
            probleme(
                table, brute.fichier, index + 2, nom, texte[index], "avertissement",
                f"date saisie comme numéro de série Excel, lue {format_date(series[index])}.",
                "Mettez la colonne au format Date (JJ/MM/AAAA) dans Excel pour lever le doute.",
            )
        )  # fmt: skip
    if annee is None:
        return
    lues = dates(donnees["date"])
    ecart = (lues.dt.year - int(annee)).abs()
    for index in donnees.index[lues.notna() & (ecart == 1)]:
        problemes.append(
            probleme(
                table, brute.fichier, index + 2, nom, texte[index], "avertissement",
                f"date hors de l'année {annee}.", "Vérifiez l'année de la date, ou le fichier de l'année.",
            )
        )  # fmt: skip
    plausible = lues.dt.year.between(ANNEE_MIN, ANNEE_MAX)
    for index in donnees.index[lues.notna() & (ecart > 1) & plausible]:
        problemes.append(
            probleme(
                table, brute.fichier, index + 2, nom, texte[index], "erreur",
                f"date à plus d'un an de l'année {annee}.",
                f"Les données de {annee} vont de {int(annee) - 1} à {int(annee) + 1} : corrigez l'année, ou "
                "rangez la ligne dans le fichier de son année.",
            )
        )  # fmt: skip
