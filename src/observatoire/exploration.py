"""Explorer sans écrire de pandas : filtres, tableaux à la française, séances d'un QPV, export.

``filtrer_activite`` restreint une activité rattachée (période, axes, thématiques, publics,
départements d'origine, distance de proximité) ; ``Panneau`` en fait un panneau ipywidgets qui
met à jour ensemble les chiffres clés, la carte, un graphique et un tableau. Les tableaux
s'affichent à la française (``1 173``, ``25 %``) ; leurs données (``.data``) restent numériques.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .commun import ecrire_csv
from .formats import format_nombre, format_part
from .gabarits import rendre
from .indicateurs import (
    SYNTHESE,
    calculer_indicateurs,
    couverture_qpv,
    ecrire_indicateurs,
    restreindre,
    valeur,
)
from .jointures import ActiviteSituee, situer_activite
from .referentiel import Referentiel

__all__ = ["COLONNES_GROUPABLES", "Panneau", "a_la_francaise", "filtrer_activite", "tableau_participations"]

# Colonnes par lesquelles ``tableau_participations`` regroupe, et leur nom affiché.
COLONNES_GROUPABLES = {
    "departement": "Département d'origine",
    "public": "Public",
    "axe": "Axe",
    "thematique": "Thématique",
    "intercommunalite": "EPCI ou EPT d'origine",
    "nom_com": "Commune d'origine",
    "mois": "Mois",
    "intitule": "Action",
}


def a_la_francaise(table: pd.DataFrame, parts: tuple[str, ...] = ("part",), legende: str | None = None):
    """Affichage à la française d'une table numérique (``Styler`` : ``.data`` reste la table).

    Entiers avec espace fine (``1 173``), parts en pourcentage arrondi au demi supérieur
    (``25 %``), décimaux à une décimale avec virgule.
    """
    formats: dict[str, Callable[..., str]] = {}
    for colonne in table.columns:
        if colonne in parts:
            formats[colonne] = format_part
        elif pd.api.types.is_integer_dtype(table[colonne]):
            formats[colonne] = format_nombre
        elif pd.api.types.is_float_dtype(table[colonne]):
            formats[colonne] = _nombre_ou_decimal
    style = table.style.format(formats, na_rep="–").hide(axis="index")
    return style.set_caption(legende) if legende else style


def _nombre_ou_decimal(valeur: float) -> str:
    if pd.isna(valeur):
        return "–"
    return format_nombre(valeur) if float(valeur).is_integer() else format_nombre(valeur, 1)


def filtrer_activite(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    *,
    mois: tuple[str, str] | None = None,
    axes: tuple[str, ...] = (),
    thematiques: tuple[str, ...] = (),
    publics: tuple[str, ...] = (),
    departements: tuple[str, ...] = (),
    distance_proximite_m: float | None = None,
) -> ActiviteSituee:
    """Activité restreinte par des filtres ; un filtre vide garde tout.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée de l'année.
    referentiel : Referentiel
        Référentiel du territoire.
    mois : tuple of str, optional
        Premier et dernier mois gardés (``"2023-03"``, ``"2023-06"``), bornes comprises.
    axes, thematiques, publics : tuple of str
        Codes de vocabulaire gardés.
    departements : tuple of str
        Départements d'origine des participations gardés (``"95"``, ``"autre"``).
    distance_proximite_m : float, optional
        Autre distance de proximité aux QPV : l'activité est rattachée à nouveau.

    Returns
    -------
    ActiviteSituee
        Séances, participations et demandes gardées, paires (séance, QPV) des séances gardées.
    """
    if distance_proximite_m is not None and distance_proximite_m != situee.distance_proximite_m:
        situee = situer_activite(situee.activite, referentiel, float(distance_proximite_m))
    seances = situee.seances
    garder = pd.Series(True, index=seances.index)
    if mois:
        cle = seances["date"].dt.strftime("%Y-%m")
        garder &= (cle >= mois[0]) & (cle <= mois[1])
    if axes:
        garder &= seances["axe"].isin(axes)
    if thematiques:
        garder &= seances["thematique"].isin(thematiques)
    seances = seances[garder]
    participations = situee.participations[situee.participations["id_seance"].isin(seances["id_seance"])]
    if publics:
        participations = participations[participations["public"].isin(publics)]
    if departements:
        participations = participations[participations["departement"].isin(departements)]
    if publics or departements:
        # Une séance compte si elle garde au moins une participation filtrée.
        seances = seances[seances["id_seance"].isin(participations["id_seance"])]
    seances = seances.assign(
        participants=seances["id_seance"]
        .map(participations.groupby("id_seance")["nombre"].sum())
        .fillna(0)
        .astype("int64")
    )
    demandes = situee.demandes
    if mois:
        cle = demandes["date"].dt.strftime("%Y-%m")
        demandes = demandes[(cle >= mois[0]) & (cle <= mois[1])]
    paires = situee.paires_qpv[situee.paires_qpv["id_seance"].isin(seances["id_seance"])]
    return replace(
        situee, seances=seances, participations=participations, demandes=demandes, paires_qpv=paires
    )


def tableau_participations(
    situee: ActiviteSituee, territoire: str = SYNTHESE, par: list[str] | tuple[str, ...] = ("departement",)
) -> pd.DataFrame:
    """Participations regroupées par une ou plusieurs colonnes, avec leur part du total.

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée (éventuellement filtrée).
    territoire : str
        Code de département (participations qui en viennent) ou ``"synthese"``.
    par : list of str
        Colonnes parmi ``COLONNES_GROUPABLES``.

    Returns
    -------
    pandas.DataFrame
        Une ligne par groupe : les colonnes ``par``, ``participations`` (entier), ``part`` (0 à 1),
        du plus grand au plus petit.
    """
    inconnues = [c for c in par if c not in COLONNES_GROUPABLES]
    if inconnues:
        raise ValueError(
            f"Colonne(s) inconnue(s) : {', '.join(inconnues)}. Possibles : {', '.join(COLONNES_GROUPABLES)}."
        )
    participations = restreindre(situee.participations, "departement", territoire)
    participations = participations.assign(mois=participations["date"].dt.strftime("%Y-%m"))
    groupes = participations.groupby(list(par), dropna=False)["nombre"].sum().rename("participations")
    table = groupes.reset_index().sort_values("participations", ascending=False, kind="stable")
    total = table["participations"].sum()
    table["participations"] = table["participations"].astype("int64")
    table["part"] = table["participations"] / total if total else np.nan
    return table.reset_index(drop=True)


def seances_du_qpv(situee: ActiviteSituee, code_qp: str) -> pd.DataFrame:
    """Séances dans un QPV ou à moins de D mètres de lui, la plus proche d'abord."""
    paires = situee.paires_qpv[situee.paires_qpv["code_qp"] == code_qp]
    colonnes = ["id_seance", "date", "intitule", "nom_com", "lieu", "participants"]
    seances = pd.DataFrame(situee.seances[colonnes]).merge(
        paires[["id_seance", "distance_qpv_m"]], on="id_seance"
    )
    seances["situation"] = np.where(seances["distance_qpv_m"] == 0, "dans le QPV", "à proximité")
    seances["distance_qpv_m"] = seances["distance_qpv_m"].round(0).astype("int64")
    return seances.sort_values(["distance_qpv_m", "date"], kind="stable").reset_index(drop=True)


def exporter_tables(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str, dossier: str | Path
) -> Path:
    """Écrit les tables d'un territoire pour Excel : indicateurs, séances, couverture des QPV.

    Les CSV sont en UTF-8 avec BOM, séparateur ``;``, formules neutralisées ; le texte libre
    des demandes (``objet``) n'y est jamais.
    """
    dossier = Path(dossier)
    ecrire_indicateurs(calculer_indicateurs(situee, referentiel, territoire), dossier / "indicateurs.csv")
    colonnes = [
        "id_seance", "id_action", "intitule", "date", "demi_journees", "code_commune", "nom_com", "insee_dep",
        "precision", "situation_qpv", "code_qp", "distance_qpv_m", "participants",
    ]  # fmt: skip
    seances = pd.DataFrame(restreindre(situee.seances, "insee_dep", territoire)[colonnes])
    ecrire_csv(seances, dossier / "seances.csv")
    ecrire_csv(couverture_qpv(situee, referentiel, territoire), dossier / "couverture_qpv.csv")
    return dossier


class Panneau:
    """Panneau d'exploration (ipywidgets) : filtres → chiffres clés, carte, graphique, tableau.

    Parameters
    ----------
    rapport : Rapport
        Rapport préparé (``preparer_rapport``) : son territoire et son activité.

    Attributes
    ----------
    filtres : dict
        Les widgets de filtre, par nom (``periode``, ``axe``, ``thematique``, ``public``,
        ``departement``, ``distance``) ; changer une valeur met tout à jour.
    """

    def __init__(self, rapport) -> None:
        import ipywidgets as widgets

        self.rapport = rapport
        situee = rapport.situee
        self._par_distance: dict[float, ActiviteSituee] = {situee.distance_proximite_m: situee}
        mois = sorted(situee.seances["date"].dt.strftime("%Y-%m").dropna().unique())
        if not mois:
            mois = [f"{rapport.annee}-01"]
        participations = situee.participations

        def choix(colonne: str, table: pd.DataFrame) -> list[tuple[str, str]]:
            codes = sorted(table[colonne].dropna().astype(str).unique())
            return [(self._libelle(colonne, code), code) for code in codes]

        disposition = widgets.Layout(width="auto")
        self.filtres = {
            "periode": widgets.SelectionRangeSlider(
                options=[(self._libelle("mois", m), m) for m in mois],
                index=(0, len(mois) - 1),
                description="Période",
                layout=widgets.Layout(width="95%"),
            ),
            "axe": widgets.SelectMultiple(
                options=choix("axe", situee.seances), description="Axe", rows=4, layout=disposition
            ),
            "thematique": widgets.SelectMultiple(
                options=choix("thematique", situee.seances),
                description="Thématique",
                rows=4,
                layout=disposition,
            ),
            "public": widgets.SelectMultiple(
                options=choix("public", participations), description="Public", rows=4, layout=disposition
            ),
            "departement": widgets.SelectMultiple(
                options=choix("departement", participations),
                description="Origine",
                rows=4,
                layout=disposition,
            ),
            "distance": widgets.IntSlider(
                value=int(situee.distance_proximite_m),
                min=0,
                max=1000,
                step=50,
                description="Proximité (m)",
                style={"description_width": "initial"},
            ),
        }
        self._chiffres = widgets.HTML()
        self._carte = widgets.HTML(layout=widgets.Layout(width="100%"))
        self._graphique = widgets.HTML()
        self._tableau = widgets.HTML()
        for filtre in self.filtres.values():
            filtre.observe(lambda _changement: self.mettre_a_jour(), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    "<strong>Filtres</strong> (aucune sélection : tout ; Ctrl ou Maj pour en choisir plusieurs)"
                ),
                self.filtres["periode"],
                widgets.HBox([self.filtres["axe"], self.filtres["thematique"]]),
                widgets.HBox([self.filtres["public"], self.filtres["departement"]]),
                self.filtres["distance"],
                self._chiffres,
                self._carte,
                widgets.HBox([self._graphique, self._tableau]),
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.mettre_a_jour()

    def _libelle(self, colonne: str, code: str) -> str:
        from .vocabulaires import libelle

        if colonne in ("axe", "thematique", "public"):
            return libelle(colonne, code)
        if colonne == "mois":
            from .indicateurs import libelle_mois

            return libelle_mois(code)
        if colonne == "departement":
            noms = self.rapport.referentiel.departements.set_index("insee_dep")["nom_dep"]
            return "Autres territoires" if code == "autre" else f"{noms.get(code, code)} ({code})"
        return code

    def activite_filtree(self) -> ActiviteSituee:
        """L'activité selon les filtres du moment.

        L'activité rattachée à chaque distance est gardée : revenir à une distance déjà vue ne
        refait pas les jointures.
        """
        f = self.filtres
        distance = float(f["distance"].value)
        if distance not in self._par_distance:
            self._par_distance[distance] = situer_activite(
                self.rapport.situee.activite, self.rapport.referentiel, distance
            )
        return filtrer_activite(
            self._par_distance[distance],
            self.rapport.referentiel,
            mois=tuple(f["periode"].value),
            axes=tuple(f["axe"].value),
            thematiques=tuple(f["thematique"].value),
            publics=tuple(f["public"].value),
            departements=tuple(f["departement"].value),
        )

    def mettre_a_jour(self) -> None:
        """Recalcule et redessine les quatre vues d'après les filtres."""
        from .cartes import carte_activite, html_carte
        from .graphiques import figure_html, graphique_barres
        from .rapport import STYLE

        rapport = self.rapport
        situee = self.activite_filtree()
        indicateurs = calculer_indicateurs(situee, rapport.referentiel, rapport.territoire)

        def v(cle, colonne="valeur"):
            return valeur(indicateurs, cle, colonne=colonne)

        cartes = [
            (format_nombre(v("participations")), "participations"),
            (format_nombre(v("seances")), "séances"),
            (f"{format_nombre(v('qpv_atteints'))} / {format_nombre(v('qpv'))}", "QPV atteints"),
            (
                format_part(v("participations_communes_pv", colonne="part")),
                "des participations viennent de communes PV",
            ),
        ]
        self._chiffres.value = STYLE + str(
            rendre("chiffres_cles.html.j2", cartes=cartes, role="chiffres-cles")
        )
        page = html_carte(carte_activite(situee, rapport.referentiel, rapport.territoire))
        import html as _html

        self._carte.value = (
            '<iframe class="obs-carte-interactive" style="width:100%;min-width:600px;height:520px;border:1px solid '
            f'#d0d7de" title="Carte filtrée" srcdoc="{_html.escape(page, quote=True)}"></iframe>'
        )
        mois = indicateurs[indicateurs["indicateur"] == "participations_par_mois"]
        serie = pd.Series(mois["valeur"].to_numpy(), index=mois["libelle"].to_numpy())
        if serie.sum() > 0:
            figure = graphique_barres(
                serie, f"Participations par mois (sur {format_nombre(serie.sum())})", horizontal=False
            )
            self._graphique.value = figure_html(figure, "Participations par mois, selon les filtres")
        else:
            self._graphique.value = "<p>Aucune participation avec ces filtres.</p>"
        par_public = tableau_participations(situee, rapport.territoire, ["public"])
        par_public["public"] = par_public["public"].map(lambda c: self._libelle("public", c))
        self._tableau.value = a_la_francaise(
            par_public.rename(
                columns={"public": "Public", "participations": "Participations", "part": "Part"}
            ),
            parts=("Part",),
            legende="Participations par public",
        ).to_html()

    def _repr_mimebundle_(self, **options):
        return self.widget._repr_mimebundle_(**options)
