"""Sections des rapports : ce que les notebooks appellent, une méthode par section.

``preparer_rapport`` lit, valide, rattache et calcule une fois ; chaque méthode de ``Rapport``
renvoie un objet HTML affichable (JupyterLab, papermill, nbconvert) et, si un dossier de
sortie est donné, écrit ses fichiers (``indicateurs.csv``, ``carte.html``, ``figures/*.png``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from .activite import Activite, chemin_donnees_annee, lire_activite
from .cartes import carte_activite, carte_statique, ecrire_carte, html_carte
from .centre import Centre, trouver_centre
from .commun import chemin_affichable, version_observatoire
from .erreurs import ErreurParametre
from .formats import format_nombre, format_part
from .gabarits import macro, paragraphe, rendre
from .graphiques import figure_html, graphique_barres, tableau_html
from .indicateurs import (
    SYNTHESE,
    calculer_indicateurs,
    couverture_adherents,
    couverture_communes_pv,
    couverture_qpv,
    ecrire_indicateurs,
    membres_adherents,
    restreindre,
    valeur,
)
from .jointures import ActiviteSituee, situer_activite
from .parametres import Parametres
from .referentiel import Referentiel, charger_referentiel
from .territoires import normaliser_departement

__all__ = ["Rapport", "Section", "ecrire_ensemble", "preparer_rapport", "preparer_ensemble"]

TAILLE_MAX_CARTE_INTEGREE = 1_000_000  # octets : au-delà, le rapport du lot renvoie à carte.html
STYLE = """
<style>
.obs-bandeau{background:#fff4e5;border-left:5px solid #e69f00;padding:.6em 1em;margin:1em 0}
.obs-sous-titre{color:#444;margin-top:-.4em}
.obs-cartes{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.obs-carte{border:1px solid #d0d7de;border-radius:6px;padding:.7em 1em;min-width:9.5em;background:#fafbfc}
.obs-carte .valeur{font-size:1.7em;font-weight:700;color:#0b4f8a;display:block}
.obs-carte .libelle{font-size:.9em;color:#333}
.obs-duo{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start;margin:1em 0}
.obs-duo img.graphique{max-width:640px;width:100%;height:auto}
table.donnees{border-collapse:collapse;font-size:.9em;margin:.5em 0}
table.donnees caption{text-align:left;font-weight:600;padding:.3em 0}
table.donnees th,table.donnees td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left}
table.donnees td:nth-child(n+2){text-align:right}
table.donnees.texte td{text-align:left}
iframe.obs-carte-interactive{width:100%;height:620px;border:1px solid #d0d7de;border-radius:6px}
.obs-note{font-size:.85em;color:#555;margin:.2em 0 1em}
img.obs-carte-statique{display:none;max-width:100%}
img.obs-carte-statique.obs-visible{display:block}
@media print{iframe.obs-carte-interactive,.obs-liens{display:none}img.obs-carte-statique{display:block}
.obs-duo{break-inside:avoid}}
</style>
"""


class Section:
    """Section de rapport affichable par Jupyter, seule dans sa cellule ou dans un rapport.

    Chaque section porte sa feuille de style : affichée seule (JupyterLab, exploration), la
    carte garde sa taille et les cartes de chiffres leur mise en page. Sa représentation texte
    est stable (aucune adresse mémoire dans le notebook exécuté).
    """

    def __init__(self, contenu: str):
        # Texte ordinaire : concaténer un ``Markup`` à du texte l'échapperait (« <style> » visible).
        self.contenu = str(contenu)

    def _repr_html_(self) -> str:
        return STYLE + self.contenu

    def __str__(self) -> str:
        return self.contenu

    def __repr__(self) -> str:
        return "Section du rapport (HTML)"


@dataclass
class Rapport:
    """Données d'un rapport (un département ou la synthèse) et ses sections."""

    territoire: str
    annee: int
    referentiel: Referentiel
    activite: Activite
    situee: ActiviteSituee
    precedente: ActiviteSituee | None
    indicateurs: pd.DataFrame
    sortie: Path | None
    parametres: Parametres
    source_precedente: str | None = None
    dans_un_lot: bool = False  # préparé par le lot, qui publie aussi les fiches QPV
    centre: Centre | None = None

    # ------------------------------------------------------------------ utilitaires
    @property
    def nom_territoire(self) -> str:
        """« Val-d'Oise (95) » ou « Synthèse du territoire (78, 92, 95) »."""
        if self.territoire == SYNTHESE:
            return f"Synthèse du territoire ({', '.join(self.referentiel.departements_demandes)})"
        noms = self.referentiel.departements.set_index("insee_dep")["nom_dep"]
        return f"{noms.get(self.territoire, self.territoire)} ({self.territoire})"

    def _v(self, indicateur: str, modalite: str = "total", colonne: str = "valeur") -> float:
        return valeur(self.indicateurs, indicateur, modalite, colonne=colonne)

    def _serie(self, indicateur: str) -> pd.DataFrame:
        return self.indicateurs[self.indicateurs["indicateur"] == indicateur]

    def _figure(self, figure, nom: str, alternative: str) -> str:
        chemin = self.sortie / "figures" / f"{nom}.png" if self.sortie else None
        return figure_html(figure, alternative, chemin)

    def _repartition(
        self,
        indicateur: str,
        titre: str,
        unite: str,
        nom_figure: str,
        denominateur: str,
        horizontal: bool = True,
        maximum: int = 15,
    ) -> str:
        """Graphique et tableau d'une répartition ; la légende dit le dénominateur.

        Au-delà de ``maximum`` modalités, les suivantes sont regroupées en « Autres (n) » pour que
        le tableau se réconcilie toujours avec le total annoncé.
        """
        lignes = self._serie(indicateur)
        if lignes.empty or lignes["valeur"].sum() == 0:
            return paragraphe(f"{titre} : aucune donnée pour ce territoire.")
        lignes = _regrouper_queue(lignes, maximum)
        libelles = lignes["libelle"].to_numpy()
        valeurs = pd.Series(lignes["valeur"].to_numpy(), index=libelles)
        parts = pd.Series(lignes["part"].to_numpy(), index=libelles)
        titre_complet = f"{titre} ({denominateur})"
        figure = graphique_barres(valeurs, titre_complet, parts=parts, horizontal=horizontal, unite=unite)
        alternative = f"{titre_complet} : " + " ; ".join(
            f"{m} {format_nombre(v)} ({format_part(p)})"
            for m, v, p in zip(valeurs.index, valeurs, parts, strict=True)
        )
        tableau = pd.DataFrame(
            {
                "Modalité": valeurs.index,
                unite.capitalize(): valeurs.map(format_nombre).to_numpy(),
                "Part": parts.map(format_part).to_numpy(),
            }
        )
        return _morceau(
            "repartition",
            Markup(self._figure(figure, nom_figure, alternative)),
            Markup(tableau_html(tableau, titre_complet)),
            Markup(_note_arrondi(parts)),
        )

    def _lien_fiches(self) -> str | None:
        """Chemin relatif des fiches QPV quand le lot les publie (``../fiches/``), sinon rien."""
        return "../fiches/" if self.dans_un_lot else None

    def fiche_qpv(self, code_qp: str):
        """La fiche d'un quartier prioritaire et ses sections (``FicheQPV``)."""
        from .fiches import FicheQPV

        return FicheQPV(self.situee, self.referentiel, code_qp)

    # ------------------------------------------------------------------ exploration
    def tableau(self, par: list[str] | tuple[str, ...] = ("departement",)):
        """Participations du territoire regroupées (ex. ``par=["departement", "public"]``).

        Colonnes possibles : ``departement``, ``public``, ``axe``, ``thematique``,
        ``intercommunalite``, ``nom_com``, ``mois``, ``intitule``. S'affiche à la française ;
        ``.data`` est la table numérique.
        """
        from .exploration import a_la_francaise, tableau_participations

        return a_la_francaise(tableau_participations(self.situee, self.territoire, list(par)))

    def seances(self, qpv: str):
        """Séances dans un QPV (``qpv="QN09531M"``) ou à moins de D mètres, la plus proche d'abord."""
        from .exploration import a_la_francaise, seances_du_qpv

        return a_la_francaise(seances_du_qpv(self.situee, qpv), parts=())

    def exporter(self, dossier: str | Path) -> Path:
        """Écrit indicateurs, séances et couverture des QPV du territoire en CSV pour Excel."""
        from .exploration import exporter_tables

        return exporter_tables(self.situee, self.referentiel, self.territoire, dossier)

    def panneau(self):
        """Panneau de filtres (période, axe, thématique, public, origine, distance) et ses vues."""
        from .exploration import Panneau

        return Panneau(self)

    # ------------------------------------------------------------------ sections
    def titre(self) -> Section:
        """Titre (``<h1>``), sous-titre et avertissement « données de démonstration »."""
        return Section(
            rendre(
                "titre.html.j2",
                titre=f"Activité {self.annee} — {self.nom_territoire}",
                sous_titre=self._sous_titre(),
                demonstration=self.activite.demonstration,
                centre=self.centre.nom if self.centre else "",
            )
        )

    def _sous_titre(self) -> str:
        sujet = "où l'activité du centre de ressources a porté, quels quartiers prioritaires (QPV 2024) elle a atteints ou non."
        if self.centre and self.centre.libelle:
            return f"{self.centre.libelle} : {sujet}"
        return sujet[0].upper() + sujet[1:]

    def chiffres_cles(self) -> Section:
        """Cartes de chiffres clés."""
        qpv_total = self._v("qpv")
        cartes = [
            (format_nombre(self._v("participations")), "participations cumulées"),
            (format_nombre(self._v("actions")), "actions"),
            (format_nombre(self._v("demi_journees")), "demi-journées ou soirées"),
            (
                f"{format_nombre(self._v('qpv_atteints'))} / {format_nombre(qpv_total)}",
                "QPV 2024 atteints (séance dedans ou à proximité)",
            ),
            (
                f"{format_nombre(self._v('communes_pv_atteintes'))} / {format_nombre(self._v('communes_pv'))}",
                "communes en politique de la ville d'où viennent des participations",
            ),
            (format_nombre(self._v("demandes")), "demandes info-doc"),
        ]
        if self.territoire == SYNTHESE:
            cartes.insert(
                1,
                (
                    format_part(self._v("participations_par_departement_origine", "autre", "part")),
                    "des participations viennent d'autres territoires",
                ),
            )
        return Section(rendre("chiffres_cles.html.j2", cartes=cartes))

    def carte(self) -> Section:
        """Carte interactive intégrée (et ``carte.html``, ``figures/carte.png`` si sortie)."""
        carte = carte_activite(self.situee, self.referentiel, self.territoire, self._lien_fiches())
        titre = f"Carte de l'activité {self.annee} — {self.nom_territoire}"
        statique = ""
        if self.sortie is None:
            page = html_carte(carte, titre)
        else:
            page = ecrire_carte(carte, self.sortie / "carte.html", titre)
            statique = figure_html(
                carte_statique(self.situee, self.referentiel, self.territoire),
                f"{titre} : participations pour 10 000 habitants par commune d'origine, cercles proportionnels "
                "aux participations, périmètres des QPV 2024 et lieux des séances.",
                self.sortie / "figures" / "carte.png",
                palette=True,
            ).replace('class="graphique"', 'class="obs-carte-statique"', 1)
        # Au-delà d'un mégaoctet (une synthèse nationale), le rapport publié ne contient pas la carte
        # interactive : il montre la carte statique et renvoie à carte.html, posé à côté ; il reste
        # sous 2 Mo et lisible seul (envoyé par courriel).
        liee = self.sortie is not None and len(page.encode("utf-8")) > TAILLE_MAX_CARTE_INTEGREE
        if liee:
            statique = statique.replace(
                'class="obs-carte-statique"', 'class="obs-carte-statique obs-visible"', 1
            )
        return Section(
            rendre(
                "carte.html.j2",
                titre=titre,
                page="" if liee else page,
                largeur_min=320,
                hauteur=620,
                statique=Markup(statique),
                liens=self.sortie is not None,
            )
        )

    def couverture(self) -> Section:
        """QPV et communes en politique de la ville atteints et non atteints (tableaux)."""
        comptes = couverture_qpv(self.situee, self.referentiel, self.territoire)
        lien = self._lien_fiches()
        noms = comptes["lib_qp"]
        if lien is not None:
            noms = pd.Series(
                [
                    Markup('<a href="{}{}.html">{}</a>').format(lien, code, nom)
                    for code, nom in zip(comptes["code_qp"], comptes["lib_qp"], strict=True)
                ],
                index=comptes.index,
                dtype=object,
            )
        tableau_qpv = pd.DataFrame(
            {
                "QPV": noms,
                "Code": comptes["code_qp"],
                "Commune(s)": comptes["lib_com"].str.replace(",", ", "),
                "Séances dedans": comptes["seances_dedans"],
                "Séances à proximité": comptes["seances_proximite"],
                "Atteint": comptes["atteinte"].map(
                    {"dedans": "oui (dedans)", "proximite": "oui (à proximité)", "non": "non"}
                ),
            }
        )
        tableau_qpv = tableau_qpv.sort_values(
            ["Atteint", "QPV"], key=lambda s: s.map({"non": 0}).fillna(1) if s.name == "Atteint" else s
        )
        pv = couverture_communes_pv(self.situee, self.referentiel, self.territoire)
        tableau_pv = pd.DataFrame(
            {
                "Commune": pv["nom_com"] + " (" + pv["insee_com"] + ")",
                "QPV 2024": pv["n_qpv_2024"],
                "Participations": pv["participations"],
            }
        ).sort_values(["Participations", "Commune"])
        distance = format_nombre(self.situee.distance_proximite_m)
        texte = paragraphe(
            f"{format_nombre(self._v('qpv_seance_dedans'))} QPV ont accueilli au moins une séance, "
            f"{format_nombre(self._v('qpv_seance_proximite'))} autres en ont eu une à moins de {distance} m ; "
            f"{format_nombre(self._v('qpv') - self._v('qpv_atteints'))} QPV n'ont été atteints ni dedans ni à "
            "proximité (séances placées par leurs coordonnées ; une séance sans coordonnées n'est jamais "
            "rattachée à un QPV)."
        ) + self._precision_des_lieux(comptes)
        for colonne in ("Séances dedans", "Séances à proximité"):
            tableau_qpv[colonne] = tableau_qpv[colonne].map(format_nombre)
        tableau_pv["Participations"] = tableau_pv["Participations"].map(format_nombre)
        non_atteints = tableau_qpv[tableau_qpv["Atteint"] == "non"].drop(columns="Atteint")
        atteints = tableau_qpv[tableau_qpv["Atteint"] != "non"]
        return Section(
            texte
            + tableau_html(
                non_atteints, f"Quartiers prioritaires non atteints ({len(non_atteints)})", "donnees texte"
            )
            + _morceau(
                "depliable",
                f"Quartiers prioritaires atteints ({len(atteints)})",
                Markup(tableau_html(atteints, "Quartiers prioritaires atteints", "donnees texte")),
            )
            + tableau_html(
                tableau_pv,
                "Communes accueillant un QPV : participations venues de chacune "
                "(les moins atteintes d'abord)",
            )
            + self._adherents()
        )

    def _adherents(self) -> str:
        """Adhérents du centre atteints et non atteints (si la configuration en déclare)."""
        if not (self.centre and self.centre.adherents):
            return ""
        table = couverture_adherents(self.situee, self.referentiel, self.territoire, self.centre.adherents)
        if table.empty:
            return paragraphe("Aucun adhérent du centre dans ce département.")
        tableau = pd.DataFrame(
            {
                "Adhérent": table["nom"] + " (" + table["type"] + " " + table["code"] + ")",
                "Participations venues de ses communes": table["participations"].map(format_nombre),
                "Séances tenues sur son territoire": table["seances"].map(format_nombre),
            }
        )
        atteints = table["atteint"].to_numpy(dtype=bool)
        return (
            _morceau("intertitre", "Adhérents du centre")
            + paragraphe(
                f"{format_nombre(int(atteints.sum()))} adhérent(s) atteint(s) sur {format_nombre(len(table))} "
                f"({format_part(self._v('adherents_atteints', colonne='part'))}) : au moins une participation "
                "venue de ses communes ou une séance tenue sur son territoire."
            )
            + tableau_html(
                tableau[~atteints], f"Adhérents non atteints ({int((~atteints).sum())})", "donnees texte"
            )
            + _morceau(
                "depliable",
                f"Adhérents atteints ({int(atteints.sum())})",
                Markup(tableau_html(tableau[atteints], "Adhérents atteints")),
            )
        )

    def origines(self) -> Section:
        """Participations et demandes venues de l'extérieur du territoire, par département et région."""
        if self.territoire != SYNTHESE:
            return Section(paragraphe("Les origines hors du territoire sont détaillées dans la synthèse."))
        hors = self._v("participations_par_departement_origine", "autre")
        sur = f"sur {format_nombre(_zero(hors))} participations venues de l'extérieur du territoire"
        demandes = self._serie("demandes_hors_territoire_par_departement")["valeur"].sum()
        sur_demandes = f"sur {format_nombre(demandes)} demandes venues de l'extérieur du territoire"
        blocs = [
            paragraphe(
                f"{format_nombre(_zero(hors))} participations "
                f"({format_part(self._v('participations_par_departement_origine', 'autre', 'part'))}) et "
                f"{format_nombre(demandes)} demandes viennent de l'extérieur du territoire "
                f"({', '.join(self.referentiel.departements_demandes)})."
            ),
            self._repartition(
                "participations_hors_territoire_par_departement",
                "Participations hors du territoire par département d'origine",
                "participations",
                "origines_departements",
                sur,
                maximum=12,
            ),
            self._repartition(
                "participations_hors_territoire_par_region",
                "Participations hors du territoire par région d'origine",
                "participations",
                "origines_regions",
                sur,
            ),
            self._repartition(
                "demandes_hors_territoire_par_departement",
                "Demandes hors du territoire par département d'origine",
                "demandes",
                "demandes_departements",
                sur_demandes,
                maximum=12,
            ),
        ]
        return Section("".join(blocs))

    def _precision_des_lieux(self, comptes: pd.DataFrame) -> str:
        """Combien de séances sont placées à l'adresse, à la rue, à la commune, ou pas du tout."""
        seances = restreindre(self.situee.seances, "insee_dep", self.territoire)
        placement = seances["placement"].value_counts()

        def n(*cles: str) -> int:
            return int(sum(placement.get(c, 0) for c in cles))

        texte = paragraphe(
            f"Précision des lieux : {format_nombre(n('coordonnees', 'numero'))} séance(s) placée(s) à "
            f"l'adresse (coordonnées saisies ou numéro géocodé), {format_nombre(n('rue', 'lieu-dit'))} à la rue "
            f"ou au lieu-dit, {format_nombre(n('commune'))} à la seule commune (centre de la commune ou "
            f"géocodage à vérifier), {format_nombre(n('non_placee'))} non placée(s), "
            f"{format_nombre(n('distanciel'))} à distance."
        )
        non_atteintes = set()
        for communes in (
            comptes.loc[comptes["atteinte"] == "non", "insee_com"] if "insee_com" in comptes else []
        ):
            non_atteintes |= {c.strip() for c in str(communes).split(",")}
        douteuses = seances[
            seances["placement"].isin(["commune", "non_placee"]) & seances["code_commune"].isin(non_atteintes)
        ]
        if len(douteuses):
            texte += paragraphe(
                f"{format_nombre(len(douteuses))} séance(s) sans lieu précis se sont tenues dans des communes "
                "dont un QPV est compté « non atteint » : placées à leur adresse (observatoire geocoder), elles "
                "pourraient en atteindre. Le nombre de QPV atteints est un minimum.",
                classe="obs-bandeau",
                role="note",
            )
        return texte

    def activite_detaillee(self) -> Section:
        """Participations par axe, thématique, public et mois (graphiques et tableaux)."""
        sur = f"sur {format_nombre(self._v('participations'))} participations"
        blocs = [
            self._repartition(
                "participations_par_axe", "Participations par axe", "participations", "axes", sur
            ),
            self._repartition(
                "participations_par_thematique",
                "Participations par thématique",
                "participations",
                "thematiques",
                sur,
            ),
            self._repartition(
                "participations_par_public",
                "Participations par public",
                "participations",
                "publics",
                sur,
            ),
            self._repartition(
                "participations_par_mois",
                "Participations par mois",
                "participations",
                "mois",
                sur,
                horizontal=False,
            ),
        ]
        if self.territoire == SYNTHESE:
            blocs.insert(
                0,
                self._repartition(
                    "participations_par_departement_origine",
                    "Participations par département d'origine",
                    "participations",
                    "origines",
                    sur,
                ),
            )
        return Section("".join(blocs))

    def demandes(self) -> Section:
        """Demandes info-doc : types de demandeurs, thématiques, intercommunalités."""
        connues = self._v("demandes") - _zero(self._v("demandes_par_origine", "inconnue"))
        sur_demandes = f"sur {format_nombre(self._v('demandes'))} demandes"
        if self.territoire == SYNTHESE:
            texte = paragraphe(
                f"{format_nombre(self._v('demandes'))} demandes enregistrées ; "
                f"{format_part(self._v('demandes_hors_territoire', colonne='part'))} des demandes d'origine "
                f"connue ({format_nombre(connues)}) viennent de l'extérieur du territoire."
            )
        else:
            texte = paragraphe(
                f"{format_nombre(self._v('demandes'))} demandes venues du département (les demandes "
                "d'autres territoires et d'origine inconnue sont dans la synthèse)."
            )
        return Section(
            texte
            + "".join(
                [
                    self._repartition(
                        "demandes_par_type_demandeur",
                        "Demandes par type de demandeur",
                        "demandes",
                        "demandeurs",
                        sur_demandes,
                    ),
                    self._repartition(
                        "demandes_par_thematique",
                        "Demandes par thématique",
                        "demandes",
                        "demandes_thematiques",
                        sur_demandes,
                    ),
                    self._repartition(
                        "demandes_par_intercommunalite",
                        "Demandes par EPCI ou EPT",
                        "demandes",
                        "demandes_intercommunalites",
                        f"sur les {format_nombre(connues)} demandes d'origine connue",
                        maximum=12,
                    ),
                ]
            )
        )

    def evolution(self) -> Section:
        """Évolution sur l'année précédente, si ses données sont fournies."""
        if self.precedente is None:
            return Section(paragraphe(f"Pas de données pour {self.annee - 1} : pas de comparaison."))
        lignes = []
        for cle, nom in (
            ("participations", "Participations"),
            ("actions", "Actions"),
            ("demi_journees", "Demi-journées"),
            ("demandes", "Demandes info-doc"),
        ):
            lignes.append(
                {
                    "Indicateur": nom,
                    str(self.annee - 1): format_nombre(self._v(f"annee_precedente_{cle}")),
                    str(self.annee): format_nombre(self._v(cle)),
                    "Évolution": _signe(self._v(f"evolution_{cle}", colonne="part")),
                }
            )
        institution = self._v("annee_precedente_demandes_par_type_demandeur", "institution", "part")
        lignes.append(
            {
                "Indicateur": "Part des demandes venant d'institutions",
                str(self.annee - 1): format_part(institution),
                str(self.annee): format_part(self._v("demandes_par_type_demandeur", "institution", "part")),
                "Évolution": "",
            }
        )
        return Section(tableau_html(pd.DataFrame(lignes), f"{self.annee} comparé à {self.annee - 1}"))

    def comparaison_departements(self) -> Section:
        """Synthèse : chiffres clés côte à côte pour chaque département."""
        lignes = []
        # Chaque département est calculé sur ses seules participations (mêmes chiffres, voir
        # ``_Decoupage``) : à l'échelle nationale, 101 passages sur un million de lignes sinon.
        decoupage = _Decoupage(self.situee, self.referentiel, self.centre)
        total = self._v("participations")
        for code in self.referentiel.departements_demandes:
            indicateurs = calculer_indicateurs(decoupage.pour(code), self.referentiel, code)
            totaux = indicateurs[indicateurs["modalite"] == "total"]
            lues = dict(zip(totaux["indicateur"], totaux["valeur"].astype(float), strict=True))

            def v(indicateur: str, lues=lues) -> float:
                return lues.get(indicateur, float("nan"))

            lignes.append(
                {
                    "Département": code,
                    "Participations (origine)": format_nombre(v("participations")),
                    "Part du total": format_part(v("participations") / total if total else float("nan")),
                    "Séances tenues": format_nombre(v("seances")),
                    "Demi-journées": format_nombre(v("demi_journees")),
                    "QPV atteints": f"{format_nombre(v('qpv_atteints'))} / {format_nombre(v('qpv'))}",
                    "Communes PV atteintes": f"{format_nombre(v('communes_pv_atteintes'))} / "
                    f"{format_nombre(v('communes_pv'))}",
                    "Demandes": format_nombre(v("demandes")),
                }
            )
        return Section(tableau_html(pd.DataFrame(lignes), "Comparaison des départements"))

    def methode(self) -> Section:
        """Méthode, sources, licences, paramètres du calcul, date et version."""
        provenance = self.referentiel.provenance
        valeurs = {
            "territoire": self.territoire,
            **self.parametres.pour_manifeste(),
            "annee_precedente": self.source_precedente or "absente",
        }
        valeurs.pop("departements")
        parametres = pd.DataFrame({"Paramètre": list(valeurs), "Valeur": [str(v) for v in valeurs.values()]})
        return Section(
            rendre(
                "methode.html.j2",
                distance=format_nombre(self.situee.distance_proximite_m),
                outre_mer=any(c.startswith("97") for c in self.referentiel.departements_demandes),
                demonstration=self.activite.demonstration,
                centre=self.centre.nom if self.centre else "",
                adherents=bool(self.centre and self.centre.adherents),
                millesime_cog=self.referentiel.millesime_cog,
                attribution=self.referentiel.attribution,
                millesime_population=self.referentiel.millesime_population or "",
                installe_le=str(provenance.get("installe_le", "?")),
                mode=str(provenance.get("mode", "?")),
                sources=[
                    f"{c['source']} — millésime {c['millesime']} — {c['licence']}"
                    for nom, c in provenance.get("couches", {}).items()
                    if nom != "qpv_france"
                ],
                donnees=chemin_affichable(self.activite.source),
                avertissements=self.activite.nombre_avertissements,
                ecartees=int(self.activite.bilan["lignes_ecartees"].sum()),
                parametres=Markup(tableau_html(parametres, "Paramètres du calcul", "donnees texte")),
                version=version_observatoire(),
            )
        )


def _zero(nombre: float) -> float:
    return 0.0 if pd.isna(nombre) else nombre


def _regrouper_queue(lignes: pd.DataFrame, maximum: int) -> pd.DataFrame:
    """Garde ``maximum`` modalités et regroupe les suivantes en une ligne « Autres (n) »."""
    if len(lignes) <= maximum:
        return lignes
    tete, queue = lignes.iloc[: maximum - 1], lignes.iloc[maximum - 1 :]
    autres = {
        "libelle": f"Autres ({len(queue)})",
        "valeur": queue["valeur"].sum(),
        "part": queue["part"].sum(min_count=1),
    }
    return pd.concat([tete, pd.DataFrame([autres])], ignore_index=True)


def _note_arrondi(parts: pd.Series) -> str:
    """Note de l'INSEE sous un tableau dont les parts arrondies ne font pas 100 %."""
    affichees = parts.dropna().map(lambda p: float(format_part(p).split("\u202f")[0].replace(",", ".")))
    if len(affichees) < 2 or round(parts.dropna().sum(), 9) != 1 or affichees.sum() == 100:
        return ""
    return paragraphe(
        f"Parts arrondies à l'unité : leur somme fait {format_nombre(affichees.sum())} %, et non 100 %.",
        classe="obs-note",
    )


def _morceau(nom: str, *valeurs, **options) -> str:
    """Un morceau de section (macro de ``modeles/rapport.html.j2``, échappement automatique)."""
    return str(macro("rapport.html.j2", nom)(*valeurs, **options))


def _signe(part: float) -> str:
    if pd.isna(part):
        return "–"
    texte = format_part(abs(part))
    return ("+" if part >= 0 else "−") + texte


def preparer_ensemble(parametres: Parametres) -> dict:
    """Lit, valide et rattache une fois l'année (et la précédente si présente) pour tout un lot.

    Parameters
    ----------
    parametres : Parametres
        Paramètres du calcul.

    Returns
    -------
    dict
        ``parametres``, ``referentiel``, ``activite``, ``situee``, ``precedente`` et
        ``source_precedente`` : de quoi préparer chaque rapport sans relire les fichiers.
    """
    referentiel = charger_referentiel(None, parametres.chemin_referentiel)
    centre = trouver_centre(parametres.chemin_donnees) or Centre("", "", referentiel.departements_demandes)
    parametres = _territoire_du_centre(parametres, centre, referentiel)
    chemin = chemin_donnees_annee(parametres.chemin_donnees, parametres.annee)
    if chemin is None:
        raise ErreurParametre(
            f"Aucune donnée pour {parametres.annee} dans {chemin_affichable(parametres.chemin_donnees)} : "
            f"attendu {parametres.annee}/ (dossier de CSV) ou activite_{parametres.annee}.xlsx."
        )
    activite = lire_activite(
        chemin, annee=parametres.annee, tolerant=parametres.tolerant, referentiel=referentiel
    )
    situee = situer_activite(activite, referentiel, parametres.distance_proximite_m)
    precedente, source_precedente = None, None
    chemin_precedent = chemin_donnees_annee(parametres.chemin_donnees, parametres.annee - 1)
    if chemin_precedent is not None and chemin_precedent != chemin:
        anterieure = lire_activite(
            chemin_precedent, annee=parametres.annee - 1, tolerant=True, referentiel=referentiel
        )
        precedente = situer_activite(anterieure, referentiel, parametres.distance_proximite_m)
        source_precedente = chemin_affichable(chemin_precedent)
    return {
        "parametres": parametres,
        "centre": centre,
        "referentiel": referentiel,
        "activite": activite,
        "situee": situee,
        "precedente": precedente,
        "source_precedente": source_precedente,
    }


def _territoire_du_centre(parametres: Parametres, centre: Centre, referentiel: Referentiel) -> Parametres:
    """Les départements à produire : ceux demandés, sinon tout le territoire du centre."""
    installes = referentiel.departements_demandes
    hors_referentiel = [c for c in centre.departements if c not in installes]
    if hors_referentiel:
        raise ErreurParametre(
            f"Le centre ({centre.fichier}) couvre {', '.join(centre.departements)} mais le référentiel "
            f"installé ne contient que {', '.join(installes)}. Installez celui du centre : "
            "« observatoire referentiel installer --depuis ../shared/reference --donnees DOSSIER »."
        )
    inconnus = [c for c in parametres.departements if c not in centre.departements]
    if inconnus:
        raise ErreurParametre(
            f"Département(s) hors du territoire du centre : {', '.join(inconnus)}. Codes disponibles : "
            f"{', '.join(centre.departements)}."
        )
    inconnus = membres_adherents(referentiel, centre.adherents).query("type == ''")["code"].tolist()
    if inconnus:
        raise ErreurParametre(
            f"{centre.fichier} : adhérent(s) inconnu(s) : {', '.join(inconnus)} (ni code INSEE de commune "
            f"du COG {referentiel.millesime_cog}, ni SIREN d'EPCI ou d'EPT). Corrigez la liste « adherents »."
        )
    return parametres if parametres.departements else parametres.avec(departements=centre.departements)


def ecrire_ensemble(ensemble: dict, dossier: str | Path, territoires: list[str] | tuple[str, ...]) -> dict:
    """Écrit l'ensemble préparé pour que chaque notebook du lot le relise sans recalcul.

    Le référentiel est écrit une fois (``referentiel.pkl``) ; chaque territoire reçoit son fichier
    (``<territoire>.pkl``) : la synthèse toute l'activité, un département les seules participations
    qui le concernent (voir ``_Decoupage``), ce qui rend chaque notebook rapide à
    ouvrir à l'échelle nationale sans changer un seul chiffre.

    Parameters
    ----------
    ensemble : dict
        Résultat de ``preparer_ensemble``.
    dossier : str or Path
        Dossier de travail du lot (hors de l'arbre publié).
    territoires : sequence of str
        Codes de département et ``"synthese"``.

    Returns
    -------
    dict
        Le fichier de chaque territoire, à passer en paramètre ``ensemble`` de son notebook.
    """
    dossier = Path(dossier)
    _ecrire_pickle(ensemble["referentiel"], dossier / FICHIER_REFERENTIEL)
    decoupages = {
        cle: _Decoupage(ensemble[cle], ensemble["referentiel"], ensemble["centre"])
        for cle in ("situee", "precedente")
        if ensemble[cle] is not None
    }
    fichiers = {}
    for territoire in territoires:
        propre = {**ensemble, "referentiel": FICHIER_REFERENTIEL}
        if territoire != SYNTHESE:
            propre.update({cle: decoupage.pour(territoire) for cle, decoupage in decoupages.items()})
            propre["activite"] = propre["situee"].activite
        fichiers[territoire] = _ecrire_pickle(propre, dossier / f"{territoire}.pkl")
    return fichiers


FICHIER_REFERENTIEL = "referentiel.pkl"


def _ecrire_pickle(objet, chemin: Path) -> Path:
    with open(chemin, "wb") as flux:
        pickle.dump(objet, flux, protocol=pickle.HIGHEST_PROTOCOL)
    return chemin


def _lire_ensemble(chemin: str | Path) -> dict:
    with open(chemin, "rb") as flux:
        prepare = pickle.load(flux)
    if isinstance(prepare["referentiel"], str):
        with open(Path(chemin).parent / prepare["referentiel"], "rb") as flux:
            prepare["referentiel"] = pickle.load(flux)
    return prepare


class _Decoupage:
    """Découpe une activité par département : les seules participations qu'un rapport de
    département lit, calculées pour tous les départements à partir d'un seul passage.

    Un rapport de département lit les participations à ses séances (colonne ``departement``)
    et celles qui viennent de ses communes ou des communes de ses adhérents (couverture des
    communes en politique de la ville, adhérents atteints) ; séances, demandes et paires QPV
    restent entières (une séance voisine peut atteindre un de ses QPV). Les deux tables de
    participations (validée et rattachée) sont réduites aux mêmes lignes, dans leur ordre.
    """

    def __init__(self, situee: ActiviteSituee, referentiel: Referentiel, centre: Centre | None):
        participations = situee.participations
        if len(situee.activite.participations) != len(participations):
            raise RuntimeError("participations validées et rattachées désalignées")  # garde-fou interne
        self.situee, self.referentiel = situee, referentiel
        self.adherents = membres_adherents(referentiel, centre.adherents if centre else ())["communes"]
        self.par_departement = participations.groupby("departement", sort=False).indices
        self.par_commune = participations.groupby("code_commune_origine", sort=False).indices

    def pour(self, departement: str) -> ActiviteSituee:
        communes = set(restreindre(self.referentiel.communes_france, "insee_dep", departement)["insee_com"])
        for membres in self.adherents:
            if communes.intersection(membres):
                communes.update(membres)
        morceaux = [self.par_departement.get(departement, np.empty(0, dtype=np.intp))]
        morceaux += [self.par_commune[c] for c in communes if c in self.par_commune]
        gardees = np.unique(np.concatenate(morceaux))
        situee = self.situee
        activite = replace(situee.activite, participations=situee.activite.participations.iloc[gardees])
        return replace(situee, activite=activite, participations=situee.participations.iloc[gardees])


def preparer_rapport(
    territoire: str | int,
    parametres: Parametres | None = None,
    *,
    sortie: str | Path | None = None,
    ensemble: str | Path | None = None,
    **valeurs,
) -> Rapport:
    """Prépare un rapport : lit et valide l'année (et la précédente si présente), rattache, calcule.

    Parameters
    ----------
    territoire : str or int
        Code de département (``"95"``, ``95``, ``"095"``) ou ``"synthese"``.
    parametres : Parametres, optional
        Paramètres du calcul ; sinon construits à partir de ``valeurs`` (``annee``,
        ``donnees``, ``referentiel``, ``tolerant``, ``distance_proximite_m``…), les chemins
        relatifs étant cherchés depuis le répertoire courant puis depuis le projet.
    sortie : str or Path, optional
        Dossier où écrire ``indicateurs.csv``, ``carte.html`` et ``figures/`` ; rien n'est écrit
        si vide.
    ensemble : str or Path, optional
        Fichier écrit par le lot (``ecrire_ensemble``) : l'activité déjà lue et rattachée ;
        vide, les données sont lues ici.
    **valeurs
        Champs de ``Parametres``.

    Returns
    -------
    Rapport
    """
    if ensemble:
        prepare = _lire_ensemble(ensemble)
    else:
        valeurs = {cle: v for cle, v in valeurs.items() if v not in (None, "")}
        prepare = preparer_ensemble(parametres or Parametres(**valeurs))
    parametres, referentiel = prepare["parametres"], prepare["referentiel"]
    if str(territoire).strip() == "":
        territoire = parametres.departements[0]
    code = SYNTHESE if str(territoire).strip().lower() == SYNTHESE else normaliser_departement(territoire)
    if code != SYNTHESE and code not in referentiel.departements_demandes:
        raise ErreurParametre(
            f"Département {code} absent du référentiel installé ; codes disponibles : "
            f"{', '.join(referentiel.departements_demandes)}."
        )
    centre = prepare["centre"]
    indicateurs = calculer_indicateurs(
        prepare["situee"], referentiel, code, prepare["precedente"], adherents=centre.adherents
    )
    dossier = Path(sortie) if sortie else None
    if dossier:
        ecrire_indicateurs(indicateurs, dossier / "indicateurs.csv")
    return Rapport(
        code,
        parametres.annee,
        referentiel,
        prepare["activite"],
        prepare["situee"],
        prepare["precedente"],
        indicateurs,
        dossier,
        parametres,
        prepare["source_precedente"],
        dans_un_lot=bool(ensemble),
        centre=centre,
    )
