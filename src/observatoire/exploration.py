"""Explorer sans écrire de pandas : une année prête, des filtres, des tableaux à la française,
les quartiers et leur population, les séances d'un QPV, la fiche d'un quartier, l'export.

``explorer`` prépare l'année (comme un rapport) et rend une ``Exploration`` ; ``Panneau`` en fait
un panneau ipywidgets qui met à jour ensemble les chiffres clés, la carte, un graphique et un
tableau. Les tableaux s'affichent à la française (``1 173``, ``25 %``, « mars 2023 ») ; leurs
données (``.data``) restent numériques.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .activite.vocabulaires import libelle
from .commun.codes import SYNTHESE
from .commun.fichiers import ecrire_csv
from .commun.garde import entrees_des_donnees, verifier_sorties
from .commun.parametres import Parametres
from .commun.typographie import accord, format_mois, format_nombre, typographier
from .fiches import FicheQPV
from .indicateurs.calcul import calculer_indicateurs, ecrire_indicateurs, mois_listes
from .indicateurs.catalogue import CHIFFRES_CLES
from .indicateurs.couverture import couverture_qpv, restreindre, seances_du_qpv
from .jointures import ActiviteSituee, situer_activite
from .presentation.cartes import carte_activite, html_carte
from .presentation.chiffres import texte_chiffre_cle
from .presentation.gabarits import Section, rendre
from .presentation.graphiques import figure_html, graphique_barres
from .presentation.tableaux import a_la_francaise
from .rapport import Rapport, preparer_rapport
from .referentiel.chargement import Referentiel

__all__ = [
    "COLONNES_GROUPABLES",
    "Exploration",
    "Panneau",
    "explorer",
    "filtrer_activite",
    "tableau_participations",
    "tableau_quartiers",
]

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
    "qpv": "Quartier prioritaire (séances dedans ou à proximité)",
}
NOMS_COLONNES = {
    **COLONNES_GROUPABLES,
    "participations": "Participations",
    "part": "Part",
    "code_qp": "Code",
    "lib_qp": "Quartier prioritaire",
    "lib_com": "Communes",
    "population": "Population",
    "seances_dedans": "Séances dedans",
    "seances_proximite": "Séances à proximité",
    "participants": "Participations aux séances",
    "pour_10000": "Séances pour 10 000 habitants",
    "statut_2024": "Statut 2024",
    "date": "Date",
    "nom_com_seance": "Commune",
    "lieu": "Lieu",
    "distance_qpv_m": "Distance (m)",
    "situation": "Situation",
    "id_seance": "Séance",
}


def explorer(territoire: str = SYNTHESE, parametres: Parametres | None = None, **valeurs) -> Exploration:
    """Prépare une année pour l'exploration (lecture, validation, rattachement, indicateurs).

    Parameters
    ----------
    territoire : str
        ``"synthese"`` ou un code de département.
    parametres : Parametres, optional
        Paramètres ; sinon construits à partir de ``valeurs`` (``annee``, ``donnees``,
        ``tolerant``…).
    **valeurs
        Champs de ``Parametres``.

    Returns
    -------
    Exploration
    """
    return Exploration(preparer_rapport(territoire, parametres, **valeurs))


@dataclass
class Exploration:
    """Une année prête à explorer : chaque méthode rend un objet affichable dans JupyterLab.

    Attributes
    ----------
    rapport : Rapport
        Le rapport du territoire (ses sections restent disponibles : ``exploration.rapport.couverture()``).
    """

    rapport: Rapport

    @property
    def situee(self) -> ActiviteSituee:
        """L'activité rattachée (séances, participations, demandes, paires séance–QPV)."""
        return self.rapport.situee

    @property
    def referentiel(self) -> Referentiel:
        """Le référentiel du territoire du centre."""
        return self.rapport.referentiel

    def resume(self) -> Section:
        """Bilan de la lecture : lignes lues, gardées, écartées et problèmes par type."""
        return Section(f'<pre class="obs-resume">{html.escape(self.rapport.activite.resume())}</pre>')

    def panneau(self) -> Panneau:
        """Panneau de filtres (période, axe, thématique, public, origine, QPV, distance) et ses vues."""
        return Panneau(self.rapport)

    def carte(self) -> Section:
        """La carte du rapport."""
        return self.rapport.carte()

    def tableau(self, par: list[str] | tuple[str, ...] = ("departement",)):
        """Participations du territoire regroupées (ex. ``par=["departement", "public"]``), à la
        française ; ``.data`` est la table numérique. ``par=["qpv"]`` : les quartiers avec leur
        population (``quartiers``)."""
        if list(par) == ["qpv"]:
            return self.quartiers()
        table = tableau_participations(self.situee, self.rapport.territoire, list(par), self.rapport.annee)
        return a_la_francaise(table, noms=NOMS_COLONNES)

    def quartiers(self):
        """Les QPV du territoire avec leur population, leurs séances et leur taux pour 10 000 habitants."""
        return a_la_francaise(
            tableau_quartiers(self.situee, self.referentiel, self.rapport.territoire),
            parts=(),
            noms=NOMS_COLONNES,
            legende="Quartiers prioritaires : population et séances dedans ou à proximité",
        )

    def seances(self, qpv: str):
        """Séances dans un QPV (``qpv="QN09531M"``) ou à moins de D mètres, la plus proche d'abord."""
        seances = seances_du_qpv(self.situee, qpv).rename(columns={"nom_com": "nom_com_seance"})
        return a_la_francaise(seances, parts=(), noms=NOMS_COLONNES)

    def fiche(self, code_qp: str) -> FicheQPV:
        """La fiche d'un quartier prioritaire et ses sections."""
        return FicheQPV(self.rapport.ensemble, code_qp)

    def exporter(self, dossier: str | Path) -> Path:
        """Écrit indicateurs, séances et couverture des QPV du territoire en CSV pour Excel.

        Le dossier ne peut être ni une entrée ni un dossier qui en contient une.
        """
        dossier = Path(dossier)
        ensemble = self.rapport.ensemble
        verifier_sorties(
            [("le dossier d'export", dossier)],
            entrees_des_donnees(
                ensemble.parametres.chemin_donnees,
                ensemble.annees_lues,
                referentiel=ensemble.dossier_referentiel,
            ),
        )
        return exporter_tables(self.situee, self.referentiel, self.rapport.territoire, dossier)


def filtrer_activite(
    situee: ActiviteSituee,
    referentiel: Referentiel,
    *,
    mois: tuple[str, str] | None = None,
    axes: tuple[str, ...] = (),
    thematiques: tuple[str, ...] = (),
    publics: tuple[str, ...] = (),
    departements: tuple[str, ...] = (),
    qpv: tuple[str, ...] = (),
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
    qpv : tuple of str
        Codes de QPV : seules les séances dedans ou à proximité de l'un d'eux sont gardées.
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
    if qpv:
        garder &= seances["id_seance"].isin(
            set(situee.paires_qpv.loc[situee.paires_qpv["code_qp"].isin(qpv), "id_seance"])
        )
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
    situee: ActiviteSituee,
    territoire: str = SYNTHESE,
    par: list[str] | tuple[str, ...] = ("departement",),
    annee: int | None = None,
) -> pd.DataFrame:
    """Participations regroupées par une ou plusieurs colonnes, avec leur part du total.

    Regroupées par ``mois`` seul, tous les mois de l'année sont là, zéro compris (un mois sans
    participation reste sur l'axe d'un graphique).

    Parameters
    ----------
    situee : ActiviteSituee
        Activité rattachée (éventuellement filtrée).
    territoire : str
        Code de département (participations qui en viennent) ou ``"synthese"``.
    par : list of str
        Colonnes parmi ``COLONNES_GROUPABLES`` (sauf ``qpv`` : voir ``tableau_quartiers``).
    annee : int, optional
        Année de l'activité (ses douze mois pour ``par=["mois"]``).

    Returns
    -------
    pandas.DataFrame
        Une ligne par groupe : les colonnes ``par``, ``participations`` (entier), ``part`` (0 à 1),
        du plus grand au plus petit (par mois : dans l'ordre des mois).
    """
    inconnues = [c for c in par if c not in COLONNES_GROUPABLES or c == "qpv"]
    if inconnues:
        possibles = ", ".join(c for c in COLONNES_GROUPABLES if c != "qpv")
        raise ValueError(
            f"{accord(len(inconnues), 'Colonne inconnue', 'Colonnes inconnues')} : {', '.join(inconnues)}. "
            f"Possibles : {possibles} (et qpv seul)."
        )
    participations = restreindre(situee.participations, "departement", territoire)
    participations = participations.assign(mois=participations["date"].dt.strftime("%Y-%m"))
    groupes = participations.groupby(list(par), dropna=False)["nombre"].sum().rename("participations")
    if list(par) == ["mois"]:
        groupes = groupes.reindex(mois_listes(situee, annee or situee.activite.annee), fill_value=0)
        groupes.index.name = "mois"
        table = groupes.reset_index()
    else:
        table = groupes.reset_index().sort_values("participations", ascending=False, kind="stable")
    total = table["participations"].sum()
    table["participations"] = table["participations"].astype("int64")
    table["part"] = table["participations"] / total if total else np.nan
    return table.reset_index(drop=True)


def tableau_quartiers(
    situee: ActiviteSituee, referentiel: Referentiel, territoire: str = SYNTHESE
) -> pd.DataFrame:
    """Les QPV du territoire : population, séances dedans et à proximité, participations à ces
    séances, séances pour 10 000 habitants ; le plus peuplé d'abord.

    Returns
    -------
    pandas.DataFrame
        ``code_qp``, ``lib_qp``, ``lib_com``, ``population``, ``statut_2024``,
        ``seances_dedans``, ``seances_proximite``, ``participants``, ``pour_10000``.
    """
    table = couverture_qpv(situee, referentiel, territoire)
    table = table.assign(
        lib_com=table["lib_com"].str.replace(",", ", "),
        pour_10000=(table["seances_dedans"] + table["seances_proximite"]) / table["population"] * 10_000,
    )
    colonnes = ["code_qp", "lib_qp", "lib_com", "population", "statut_2024", "seances_dedans", "seances_proximite",
                "participants", "pour_10000"]  # fmt: skip
    return table.sort_values(["population", "code_qp"], ascending=[False, True], kind="stable")[
        colonnes
    ].reset_index(drop=True)


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
        ``departement``, ``qpv``, ``distance``) ; changer une valeur met tout à jour.
    regroupement : ipywidgets.Dropdown
        Le regroupement du tableau (public, axe, thématique, quartier…).
    """

    def __init__(self, rapport: Rapport) -> None:
        self.rapport = rapport
        situee = rapport.situee
        self._par_distance: dict[float, ActiviteSituee] = {situee.distance_proximite_m: situee}
        mois = mois_listes(situee, rapport.annee)
        participations = situee.participations

        def choix(colonne: str, table: pd.DataFrame) -> list[tuple[str, str]]:
            codes = sorted(table[colonne].dropna().astype(str).unique())
            return [(self._libelle(colonne, code), code) for code in codes]

        quartiers = restreindre(rapport.referentiel.qpv, "insee_dep", rapport.territoire)
        largeur = widgets.Layout(width="auto", min_width="14em", flex="1 1 14em")
        self.filtres = {
            "periode": widgets.SelectionRangeSlider(
                options=[(format_mois(m), m) for m in mois],
                index=(0, len(mois) - 1),
                description="Période",
                style={"description_width": "5em"},
                # La valeur lue par le curseur (« janvier 2023-décembre 2023 ») tient mal dans sa
                # case, coupée dans JupyterLab : elle est écrite à côté, en entier.
                readout=False,
                layout=widgets.Layout(width="auto", flex="1 1 24em", max_width="36em"),
            ),
            "axe": widgets.SelectMultiple(
                options=choix("axe", situee.seances), description="Axe", rows=4, layout=largeur
            ),
            "thematique": widgets.SelectMultiple(
                options=choix("thematique", situee.seances), description="Thématique", rows=4, layout=largeur
            ),
            "public": widgets.SelectMultiple(
                options=choix("public", participations), description="Public", rows=4, layout=largeur
            ),
            "departement": widgets.SelectMultiple(
                options=choix("departement", participations), description="Origine", rows=4, layout=largeur
            ),
            "qpv": widgets.SelectMultiple(
                options=[
                    (typographier(f"{n} ({c})"), c)
                    for c, n in sorted(
                        zip(quartiers["code_qp"], quartiers["lib_qp"], strict=True), key=lambda p: p[1]
                    )
                ],
                description="Quartier",
                rows=4,
                layout=largeur,
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
        self.regroupement = widgets.Dropdown(
            options=[
                (typographier(COLONNES_GROUPABLES[c]), c)
                for c in ("public", "axe", "thematique", "departement", "qpv")
            ],
            value="public",
            description="Tableau par",
            style={"description_width": "initial"},
        )
        self._periode_lue = widgets.HTML(layout=widgets.Layout(flex="0 0 auto", margin="0 0 0 1em"))
        self._chiffres = widgets.HTML()
        self._carte = widgets.HTML(layout=widgets.Layout(width="100%"))
        self._graphique = widgets.HTML(layout=widgets.Layout(flex="1 1 28em", min_width="0"))
        self._tableau = widgets.HTML(layout=widgets.Layout(flex="1 1 24em", min_width="0", overflow="auto"))
        for filtre in (*self.filtres.values(), self.regroupement):
            filtre.observe(lambda _changement: self.mettre_a_jour(), names="value")
        ligne = widgets.Layout(flex_flow="row wrap", width="100%")
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    "<strong>Filtres</strong> (aucune sélection : tout ; Ctrl ou Maj pour en choisir plusieurs)"
                ),
                widgets.Box([self.filtres["periode"], self._periode_lue], layout=ligne),
                widgets.Box(
                    [self.filtres["axe"], self.filtres["thematique"], self.filtres["qpv"]], layout=ligne
                ),
                widgets.Box([self.filtres["public"], self.filtres["departement"]], layout=ligne),
                widgets.Box([self.filtres["distance"], self.regroupement], layout=ligne),
                self._chiffres,
                self._carte,
                widgets.Box([self._graphique, self._tableau], layout=ligne),
            ],
            layout=widgets.Layout(width="100%", max_width="1000px"),
        )
        self.mettre_a_jour()

    def _libelle(self, colonne: str, code: str) -> str:
        if colonne in ("axe", "thematique", "public"):
            return typographier(libelle(colonne, code))
        if colonne == "departement":
            noms = self.rapport.referentiel.departements.set_index("insee_dep")["nom_dep"]
            return (
                "Autres territoires" if code == "autre" else typographier(f"{noms.get(code, code)} ({code})")
            )
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
            qpv=tuple(f["qpv"].value),
        )

    def mettre_a_jour(self) -> None:
        """Recalcule et redessine les quatre vues d'après les filtres."""
        rapport = self.rapport
        debut, fin = self.filtres["periode"].value
        self._periode_lue.value = typographier(
            format_mois(debut) if debut == fin else f"de {format_mois(debut)} à {format_mois(fin)}"
        )
        situee = self.activite_filtree()
        indicateurs = calculer_indicateurs(
            situee, rapport.referentiel, rapport.territoire, annee=rapport.annee
        )
        cartes = [
            (texte_chiffre_cle(c, indicateurs), c.libelle)
            for c in CHIFFRES_CLES
            if c.panneau
            and c.territoires in ("tous", "synthese" if rapport.territoire == SYNTHESE else "departements")
        ]
        self._chiffres.value = str(
            Section(rendre("chiffres_cles.html.j2", cartes=cartes, role="chiffres-cles"))._repr_html_()
        )
        page = html_carte(carte_activite(situee, rapport.referentiel, rapport.territoire), "Carte filtrée")
        self._carte.value = str(
            rendre("carte.html.j2", titre="Carte filtrée", page=page, hauteur=520, largeur_min=300)
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
        par = self.regroupement.value
        if par == "qpv":
            table = a_la_francaise(
                tableau_quartiers(situee, rapport.referentiel, rapport.territoire),
                parts=(),
                noms=NOMS_COLONNES,
            )
        else:
            table = a_la_francaise(
                tableau_participations(situee, rapport.territoire, [par], rapport.annee),
                noms=NOMS_COLONNES,
                legende=f"Participations par {typographier(COLONNES_GROUPABLES[par]).lower()}",
            )
        self._tableau.value = table.to_html()

    def _repr_mimebundle_(self, **options):
        return self.widget._repr_mimebundle_(**options)
