"""Sections des rapports : ce que les notebooks appellent, une méthode par section.

``preparer_rapport`` lit, valide, rattache et calcule une fois ; chaque méthode de ``Rapport``
renvoie un objet HTML affichable (JupyterLab, papermill, nbconvert) et, si un dossier de
sortie est donné, écrit ses fichiers (``indicateurs.csv``, ``carte.html``, ``figures/*.png``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from .activite.centre import Centre
from .activite.donnees import Activite
from .commun.codes import SYNTHESE, normaliser_territoire
from .commun.erreurs import ErreurParametre
from .commun.fichiers import chemin_affichable, version_observatoire
from .commun.garde import entrees_des_donnees, verifier_sorties
from .commun.parametres import Parametres
from .commun.typographie import (
    accord,
    arrondir,
    format_date,
    format_distance,
    format_nombre,
    format_part,
    nombre_de,
)
from .ensemble import Ensemble
from .indicateurs.calcul import calculer_indicateurs, ecrire_indicateurs, valeur
from .indicateurs.catalogue import EVOLUTION
from .indicateurs.couverture import couverture_adherents, couverture_communes_pv, couverture_qpv, restreindre
from .jointures import ActiviteSituee
from .presentation.cartes import carte_activite, carte_statique, ecrire_carte, html_carte
from .presentation.chiffres import chiffres_du_territoire, texte_chiffre_cle
from .presentation.gabarits import NAVIGATION_TERRITOIRE, Section, macro, paragraphe, rendre
from .presentation.graphiques import figure_html, graphique_barres
from .presentation.tableaux import lien, tableau_html
from .referentiel.chargement import Referentiel
from .referentiel.quartiers import SOURCE_QUARTIERS

__all__ = ["SECTIONS_DEPARTEMENT", "SECTIONS_SYNTHESE", "Rapport", "preparer_rapport"]

TAILLE_MAX_CARTE_INTEGREE = 1_000_000  # octets : au-delà, le rapport du lot renvoie à carte.html
# La carte d'un territoire ouverte seule (reçue par courriel, ou lien « carte interactive seule »).
NAVIGATION_CARTE = (NAVIGATION_TERRITOIRE[0], ("rapport.html", "Le rapport"), NAVIGATION_TERRITOIRE[1])
# L'ordre des sections des deux notebooks du lot (un test vérifie que chacun les appelle ainsi).
SECTIONS_DEPARTEMENT = (
    "titre", "chiffres_cles", "carte", "couverture", "activite_detaillee", "demandes", "evolution", "methode",
)  # fmt: skip
SECTIONS_SYNTHESE = (
    "titre", "chiffres_cles", "comparaison_departements", "carte", "couverture", "activite_detaillee",
    "origines", "demandes", "evolution", "methode",
)  # fmt: skip


@dataclass
class Rapport:
    """Un rapport (un département ou la synthèse) : son ensemble, ses indicateurs, ses sections.

    Attributes
    ----------
    ensemble : Ensemble
        L'année préparée (la part du territoire).
    territoire : str
        Code de département ou ``"synthese"``.
    indicateurs : pandas.DataFrame
        Les indicateurs du territoire (``calculer_indicateurs``).
    sortie : Path, optional
        Dossier où les sections écrivent leurs fichiers (carte, figures).
    dans_un_lot : bool
        Préparé par le lot, qui publie aussi les fiches QPV et l'index de l'année.
    """

    ensemble: Ensemble
    territoire: str
    indicateurs: pd.DataFrame
    sortie: Path | None = None
    dans_un_lot: bool = False

    @property
    def annee(self) -> int:
        """Année du rapport."""
        return self.ensemble.parametres.annee

    @property
    def parametres(self) -> Parametres:
        """Paramètres du calcul."""
        return self.ensemble.parametres

    @property
    def referentiel(self) -> Referentiel:
        """Référentiel du territoire du centre."""
        return self.ensemble.referentiel

    @property
    def activite(self) -> Activite:
        """Données validées de l'année."""
        return self.ensemble.activite

    @property
    def situee(self) -> ActiviteSituee:
        """Activité de l'année rattachée."""
        return self.ensemble.situee

    @property
    def precedente(self) -> ActiviteSituee | None:
        """Activité de l'année précédente rattachée, si elle est fournie."""
        return self.ensemble.precedente

    @property
    def source_precedente(self) -> str | None:
        """D'où vient l'année précédente."""
        return self.ensemble.source_precedente

    @property
    def centre(self) -> Centre:
        """Le centre de ressources."""
        return self.ensemble.centre

    # ------------------------------------------------------------------ utilitaires
    @property
    def nom_territoire(self) -> str:
        """« Val-d'Oise (95) » ou « Synthèse du territoire (78, 92, 95) »."""
        if self.territoire == SYNTHESE:
            return f"Synthèse du territoire ({', '.join(self.referentiel.departements_demandes)})"
        return self._nom_departement(self.territoire)

    def _nom_departement(self, code: str) -> str:
        noms = self.referentiel.departements.set_index("insee_dep")["nom_dep"]
        return f"{noms.get(code, code)} ({code})"

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
        maximum: int = 12,
    ) -> str:
        """Graphique et tableau d'une répartition ; la légende dit le dénominateur.

        Au-delà de ``maximum`` barres, les plus petites modalités sont regroupées en « Autres (n) »,
        chacune plus petite que toutes celles montrées ; les lignes de reste (hors du territoire,
        non renseigné) restent des barres à part. Le tableau se réconcilie toujours avec le total.
        """
        lignes = self._serie(indicateur)
        if lignes.empty or lignes["valeur"].sum() == 0:
            return paragraphe(f"{titre} : aucune donnée pour ce territoire.")
        lignes = regrouper_queue(lignes, maximum) if horizontal else lignes
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
        total = (
            ["Total", format_nombre(valeurs.sum()), format_part(1)]
            if round(parts.sum(min_count=1), 9) == 1
            else None
        )
        return _morceau(
            "repartition",
            Markup(self._figure(figure, nom_figure, alternative)),
            Markup(tableau_html(tableau, titre_complet, total=total)),
            Markup(_note_arrondi(parts)),
        )

    def _lien_fiches(self) -> str | None:
        """Chemin relatif des fiches QPV quand le lot les publie (``../fiches/``), sinon rien."""
        return "../fiches/" if self.dans_un_lot else None

    def _nom_qpv(self, code: str, nom: str):
        lien_fiches = self._lien_fiches()
        return lien(f"{lien_fiches}{code}.html", nom) if lien_fiches is not None else nom

    # ------------------------------------------------------------------ sections
    def titre(self) -> Section:
        """Titre (``<h1>``), sous-titre, message du rapport en une phrase, avertissements."""
        centre = self.centre.libelle
        titre = f"Activité {self.annee} — {self.nom_territoire}" + (f" — {centre}" if centre else "")
        return Section(
            rendre(
                "titre.html.j2",
                titre=titre,
                sous_titre=self._sous_titre(),
                message=self._message(),
                demonstration=self.activite.demonstration,
                centre=self.centre.nom,
            )
        )

    def _sous_titre(self) -> str:
        sujet = (
            "où l'activité du centre de ressources a porté, quels quartiers prioritaires de la politique de la ville "
            "(QPV 2024) elle a atteints et lesquels elle n'a pas atteints."
        )
        if self.centre.nom:
            return f"{self.centre.nom} : {sujet}"
        return sujet[0].upper() + sujet[1:]

    def _message(self) -> str:
        """Le rapport en une phrase : combien d'activité, quels quartiers, combien d'habitants."""
        participations = self._v("participations")
        origine = (
            ""
            if self.territoire == SYNTHESE
            else (" venue du département" if participations < 2 else " venues du département")
        )
        ou = "sur le territoire du centre" if self.territoire == SYNTHESE else "dans le département"
        debut = (
            f"En {self.annee} : {nombre_de(participations, 'participation')}{origine}, {nombre_de(self._v('actions'), 'action')} "
            f"et {nombre_de(self._v('demi_journees'), 'demi-journée ou soirée', 'demi-journées ou soirées')} {ou}"
        )
        qpv, atteints = self._v("qpv"), self._v("qpv_atteints")
        if not qpv:
            return f"{debut} ; aucun quartier prioritaire dans ce territoire."
        couverture = (
            f"{format_nombre(atteints)} de ses {nombre_de(qpv, 'quartier prioritaire', 'quartiers prioritaires')} "
            f"{'atteint' if atteints < 2 else 'atteints'}"
        )
        if "population_qpv" in set(self.indicateurs["indicateur"]):
            couverture += (
                f", où vivent {format_nombre(self._v('population_qpv_atteints'))} de leurs "
                f"{format_nombre(self._v('population_qpv'))} habitants ({format_part(self._v('population_qpv_atteints', colonne='part'))})"
            )
        return f"{debut} ; {couverture}."

    def chiffres_cles(self) -> Section:
        """Cartes de chiffres clés (catalogue) et ce qui limite les chiffres (lignes écartées)."""
        cartes = [
            {"valeur": texte_chiffre_cle(c, self.indicateurs), "libelle": c.libelle}
            for c in chiffres_du_territoire(self.indicateurs, self.territoire)
        ]
        ecartees = self.activite.ecartees()
        bandeau = ""
        if ecartees["lignes"]:
            part = (
                ecartees["participations"] / ecartees["participations_lues"]
                if ecartees["participations_lues"]
                else 0
            )
            cartes.append(
                {
                    "valeur": format_nombre(ecartees["participations"]),
                    "libelle": f"participations écartées (sur {format_nombre(ecartees['participations_lues'])} lues, {format_part(part)})",
                    "classe": "obs-alerte",
                }
            )
            bandeau = _morceau(
                "ecartees",
                f"Mode tolérant : {nombre_de(ecartees['lignes'], 'ligne')} en erreur "
                f"{'a été écartée' if ecartees['lignes'] < 2 else 'ont été écartées'} des données, dont "
                f"{nombre_de(ecartees['participations'], 'participation')} ; les chiffres de ce rapport ne les comptent pas.",
                "../rejets.csv" if self.dans_un_lot else "",
            )
        return Section(rendre("chiffres_cles.html.j2", cartes=cartes) + Markup(bandeau))

    def carte(self) -> Section:
        """Carte interactive intégrée (et ``carte.html``, ``figures/carte.png`` si sortie)."""
        carte = carte_activite(
            self.situee, self.referentiel, self.territoire, self._lien_fiches(), self.annee
        )
        titre = f"Carte de l'activité {self.annee} — {self.nom_territoire}"
        statique = ""
        liee = False
        if self.sortie is None:
            page = html_carte(carte, titre)
        else:
            page = ecrire_carte(
                carte,
                self.sortie / "carte.html",
                titre,
                navigation=NAVIGATION_CARTE if self.dans_un_lot else (),
            )
            # Au-delà d'un mégaoctet (une synthèse nationale), le rapport publié ne contient pas la
            # carte interactive : il montre la carte statique et renvoie à carte.html, posé à côté ;
            # il reste sous 2 Mo et lisible seul (envoyé par courriel).
            liee = len(page.encode("utf-8")) > TAILLE_MAX_CARTE_INTEGREE
            figure = carte_statique(
                self.situee, self.referentiel, self.territoire, titre=titre, annee=self.annee
            )
            # Une carte haute (la synthèse de 78, 92, 95) a droit à plus de hauteur imprimée.
            classes = ["obs-carte-statique", *(["obs-portrait"] if _portrait(figure) else [])]
            statique = figure_html(
                figure,
                f"{titre} : participations pour 10 000 habitants par commune d'origine, cercles proportionnels "
                "aux participations, périmètres des QPV 2024 et lieux des séances.",
                self.sortie / "figures" / "carte.png",
                palette=True,
                classe=" ".join([*classes, *(["obs-visible"] if liee else [])]),
            )
        return Section(
            rendre(
                "carte.html.j2",
                titre=titre,
                page="" if liee else page,
                largeur_min=300,
                hauteur=620,
                statique=Markup(statique),
                liens=self.sortie is not None,
            )
        )

    def couverture(self) -> Section:
        """QPV, habitants des QPV et communes en politique de la ville atteints et non atteints."""
        comptes = couverture_qpv(self.situee, self.referentiel, self.territoire)
        blocs = [self._phrase_couverture(), self._precision_des_lieux(comptes), self._geographie()]
        non = comptes[comptes["atteinte"] == "non"].sort_values(
            ["population", "lib_qp"], ascending=[False, True], na_position="last"
        )
        avec_population = self.referentiel.contexte_disponible
        tableau_non = pd.DataFrame(
            {
                "QPV": [self._nom_qpv(c, n) for c, n in zip(non["code_qp"], non["lib_qp"], strict=True)],
                "Code": non["code_qp"],
                "Communes": non["lib_com"].str.replace(",", ", "),
                **({"Population": non["population"].map(format_nombre)} if avec_population else {}),
                "Statut 2024": non["statut_2024"].map(_STATUTS_COURTS).fillna(""),
            }
        )
        total_non = None
        if avec_population and len(non):
            total_non = ["Total", "", "", format_nombre(non["population"].sum()), ""]
        blocs.append(
            tableau_html(
                tableau_non,
                f"Quartiers prioritaires non atteints ({len(non)}), le plus peuplé d'abord",
                vide="Tous les quartiers prioritaires du territoire ont été atteints.",
                total=total_non,
            )
        )
        oui = comptes[comptes["atteinte"] != "non"].sort_values(
            ["population", "lib_qp"], ascending=[False, True], na_position="last"
        )
        tableau_oui = pd.DataFrame(
            {
                "QPV": [self._nom_qpv(c, n) for c, n in zip(oui["code_qp"], oui["lib_qp"], strict=True)],
                "Code": oui["code_qp"],
                "Communes": oui["lib_com"].str.replace(",", ", "),
                **({"Population": oui["population"].map(format_nombre)} if avec_population else {}),
                "Séances dedans": oui["seances_dedans"].map(format_nombre),
                "Séances à proximité": oui["seances_proximite"].map(format_nombre),
            }
        )
        blocs.append(
            _morceau(
                "depliable",
                f"Quartiers prioritaires atteints ({len(oui)})",
                Markup(
                    tableau_html(
                        tableau_oui,
                        "Quartiers prioritaires atteints",
                        vide="Aucun quartier prioritaire n'a été atteint.",
                    )
                ),
            )
        )
        pv = couverture_communes_pv(self.situee, self.referentiel, self.territoire).sort_values(
            ["participations", "nom_com"], kind="stable"
        )
        tableau_pv = pd.DataFrame(
            {
                "Commune": pv["nom_com"] + " (" + pv["insee_com"] + ")",
                "QPV 2024": pv["n_qpv_2024"].map(format_nombre),
                "Participations": pv["participations"].map(format_nombre),
            }
        )
        blocs.append(
            tableau_html(
                tableau_pv,
                "Communes accueillant un QPV : participations venues de chacune (les moins atteintes d'abord)",
                vide="Aucune commune du territoire n'accueille de quartier prioritaire.",
                total=[
                    "Total",
                    format_nombre(pv["n_qpv_2024"].sum()),
                    format_nombre(pv["participations"].sum()),
                ]
                if len(pv)
                else None,
            )
        )
        blocs.append(self._adherents())
        return Section("".join(blocs))

    def _phrase_couverture(self) -> str:
        distance = format_distance(self.situee.distance_proximite_m)
        dedans, proches = self._v("qpv_seance_dedans"), self._v("qpv_seance_proximite")
        non = self._v("qpv") - self._v("qpv_atteints")
        phrase = (
            f"{nombre_de(dedans, 'QPV a', 'QPV ont')} accueilli au moins une séance ; "
            f"{format_nombre(proches)} {'autre en a eu une' if proches < 2 else 'autres en ont eu une'} à moins de {distance} ; "
            f"{nombre_de(non, 'QPV n’a', 'QPV n’ont')} été {'atteint' if non < 2 else 'atteints'} ni dedans ni à proximité."
        )
        if self.referentiel.contexte_disponible and self._v("population_qpv"):
            phrase += (
                f" Les quartiers atteints comptent {format_nombre(self._v('population_qpv_atteints'))} habitants, "
                f"{format_part(self._v('population_qpv_atteints', colonne='part'))} des "
                f"{format_nombre(self._v('population_qpv'))} habitants des QPV du territoire (population municipale, "
                f"recensement 2020) ; {nombre_de(self._v('seances_qpv'), 'séance')} dans un QPV ou à proximité, "
                f"soit {format_nombre(self._v('seances_qpv_pour_10000_habitants'), 1)} pour 10 000 habitants des QPV."
            )
        elif not self.referentiel.contexte_disponible:
            phrase += f" Population des QPV indisponible : {self.referentiel.raison_absence('qpv_contexte')}."
        if self.referentiel.correspondance_disponible:
            nouveaux = self._v("qpv_nouveaux")
            if nouveaux:
                phrase += (
                    f" Quartiers nouveaux en 2024 : {format_nombre(self._v('qpv_nouveaux_atteints'))} sur "
                    f"{format_nombre(nouveaux)} {'atteint' if self._v('qpv_nouveaux_atteints') < 2 else 'atteints'}."
                )
        return paragraphe(phrase)

    def _geographie(self) -> str:
        """La géographie prioritaire en vigueur pendant l'année du rapport."""
        if self.annee >= 2024:
            return ""
        return paragraphe(
            f"En {self.annee}, la géographie prioritaire en vigueur était celle des QPV 2015 ; ce rapport rapporte "
            "l'activité aux périmètres des QPV 2024 (ceux des contrats de ville « Engagements quartiers 2030 »), "
            "les périmètres de 2015 n'étant pas disponibles hors ligne.",
            classe="obs-note",
        )

    def _adherents(self) -> str:
        """Adhérents du centre atteints et non atteints (si la configuration en déclare)."""
        if not self.centre.adherents:
            return ""
        table = couverture_adherents(self.situee, self.referentiel, self.territoire, self.centre.adherents)
        if table.empty:
            return _morceau("intertitre", "Adhérents du centre") + paragraphe(
                "Aucun adhérent du centre dans ce département."
            )
        tableau = pd.DataFrame(
            {
                "Adhérent": table["nom"] + " (" + table["type"] + " " + table["code"] + ")",
                "Participations venues de ses communes": table["participations"].map(format_nombre),
                "Séances tenues sur son territoire": table["seances"].map(format_nombre),
            }
        )
        atteints = table["atteint"].to_numpy(dtype=bool)
        n_atteints, n_non = int(atteints.sum()), int((~atteints).sum())
        return (
            _morceau("intertitre", "Adhérents du centre")
            + paragraphe(
                f"{nombre_de(n_atteints, 'adhérent atteint', 'adhérents atteints')} sur {format_nombre(len(table))} "
                f"({format_part(self._v('adherents_atteints', colonne='part'))}) : au moins une participation venue de "
                "ses communes ou une séance tenue sur son territoire."
            )
            + tableau_html(
                tableau[~atteints],
                f"Adhérents non atteints ({n_non})",
                vide="Tous les adhérents du centre dans ce territoire ont été atteints.",
            )
            + _morceau(
                "depliable",
                f"Adhérents atteints ({n_atteints})",
                Markup(tableau_html(tableau[atteints], "Adhérents atteints", vide="Aucun adhérent atteint.")),
            )
        )

    def origines(self) -> Section:
        """Participations et demandes venues de l'extérieur du territoire, par département et région."""
        if self.territoire != SYNTHESE:
            return Section(paragraphe("Les origines hors du territoire sont détaillées dans la synthèse."))
        hors = _zero(self._v("participations_par_departement_origine", "autre"))
        sur = f"sur {format_nombre(hors)} participations venues de l'extérieur du territoire"
        demandes = self._serie("demandes_hors_territoire_par_departement")["valeur"].sum()
        sur_demandes = f"sur {format_nombre(demandes)} demandes venues de l'extérieur du territoire"
        blocs = [
            paragraphe(
                f"{nombre_de(hors, 'participation')} ({format_part(self._v('participations_par_departement_origine', 'autre', 'part'))}) "
                f"et {nombre_de(demandes, 'demande')} viennent de l'extérieur du territoire "
                f"({', '.join(self.referentiel.departements_demandes)})."
            ),
            self._repartition(
                "participations_hors_territoire_par_departement",
                "Participations hors du territoire par département d'origine",
                "participations",
                "origines_departements",
                sur,
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
            f"Précision des lieux : {nombre_de(n('coordonnees', 'numero'), 'séance placée', 'séances placées')} à l'adresse "
            f"(coordonnées saisies ou numéro géocodé), {format_nombre(n('rue', 'lieu-dit'))} à la rue ou au lieu-dit, "
            f"{format_nombre(n('commune'))} à la seule commune (centre de la commune ou géocodage à vérifier), "
            f"{format_nombre(n('non_placee'))} sans lieu, {format_nombre(n('distanciel'))} à distance. Une séance "
            "sans coordonnées n'est jamais rattachée à un QPV."
        )
        non_atteintes = set()
        for communes in comptes.loc[comptes["atteinte"] == "non", "insee_com"]:
            non_atteintes |= {c.strip() for c in str(communes).split(",")}
        douteuses = seances[
            seances["placement"].isin(["commune", "non_placee"]) & seances["code_commune"].isin(non_atteintes)
        ]
        if len(douteuses):
            texte += paragraphe(
                f"{nombre_de(len(douteuses), 'séance sans lieu précis s’est tenue', 'séances sans lieu précis se sont tenues')} "
                "dans des communes dont un QPV est compté « non atteint » : placées à leur adresse (observatoire "
                "geocoder), elles pourraient en atteindre. Le nombre de QPV atteints est un minimum.",
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
                "participations_par_public", "Participations par public", "participations", "publics", sur
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
                f"{nombre_de(self._v('demandes'), 'demande enregistrée', 'demandes enregistrées')} ; "
                f"{format_part(self._v('demandes_hors_territoire', colonne='part'))} des demandes d'origine connue "
                f"({format_nombre(connues)}) viennent de l'extérieur du territoire."
            )
        else:
            texte = paragraphe(
                f"{nombre_de(self._v('demandes'), 'demande venue', 'demandes venues')} du département (les demandes "
                "d'autres territoires et d'origine inconnue sont dans la synthèse)."
            )
        return Section(
            texte
            + self._repartition(
                "demandes_par_type_demandeur",
                "Demandes par type de demandeur",
                "demandes",
                "demandeurs",
                sur_demandes,
            )
            + self._repartition(
                "demandes_par_thematique",
                "Demandes par thématique",
                "demandes",
                "demandes_thematiques",
                sur_demandes,
            )
            + self._repartition(
                "demandes_par_intercommunalite",
                "Demandes par EPCI ou EPT",
                "demandes",
                "demandes_intercommunalites",
                f"sur les {format_nombre(connues)} demandes d'origine connue",
            )
        )

    def evolution(self) -> Section:
        """Évolution sur l'année précédente, si ses données sont fournies."""
        if self.precedente is None:
            return Section(paragraphe(f"Pas de données pour {self.annee - 1} : pas de comparaison."))
        lignes = []
        for cle, nom in EVOLUTION:
            lignes.append(
                {
                    "Indicateur": nom,
                    str(self.annee - 1): format_nombre(self._v(f"annee_precedente_{cle}")),
                    str(self.annee): format_nombre(self._v(cle)),
                    "Évolution": _signe(self._v(f"evolution_{cle}", colonne="part")),
                }
            )
        avant = self._v("annee_precedente_demandes_par_type_demandeur", "institution", "part")
        apres = self._v("demandes_par_type_demandeur", "institution", "part")
        lignes.append(
            {
                "Indicateur": "Part des demandes venant d'institutions",
                str(self.annee - 1): format_part(avant),
                str(self.annee): format_part(apres),
                "Évolution": _points(avant, apres),
            }
        )
        return Section(tableau_html(pd.DataFrame(lignes), f"{self.annee} comparé à {self.annee - 1}"))

    def comparaison_departements(self) -> Section:
        """Synthèse : chiffres clés côte à côte pour chaque département."""
        lignes = []
        # Chaque département est calculé sur ses seules participations (mêmes chiffres, voir
        # ``Decoupage``, calculé par le lot et venu avec l'ensemble) : à l'échelle nationale, 101
        # passages sur un million de lignes sinon.
        total = self._v("participations")
        for code in self.referentiel.departements_demandes:
            part = self.ensemble.pour(code)
            indicateurs = calculer_indicateurs(part.situee, self.referentiel, code, annee=self.annee)

            def v(indicateur: str, lues=indicateurs) -> float:
                return valeur(lues, indicateur)

            ligne = {
                "Département": self._nom_departement(code),
                "Participations (origine)": format_nombre(v("participations")),
                "Part du total": format_part(v("participations") / total if total else float("nan")),
                "Séances tenues": format_nombre(v("seances")),
                "Demi-journées": format_nombre(v("demi_journees")),
                "QPV atteints": f"{format_nombre(v('qpv_atteints'))} / {format_nombre(v('qpv'))}",
            }
            if self.referentiel.contexte_disponible:
                ligne["Habitants des QPV atteints"] = format_part(
                    valeur(indicateurs, "population_qpv_atteints", colonne="part")
                )
            ligne["Communes PV atteintes"] = (
                f"{format_nombre(v('communes_pv_atteintes'))} / {format_nombre(v('communes_pv'))}"
            )
            ligne["Demandes"] = format_nombre(v("demandes"))
            lignes.append(ligne)
        return Section(tableau_html(pd.DataFrame(lignes), "Comparaison des départements"))

    def methode(self) -> Section:
        """Méthode en prose : rattachements, périmètres, sources et licence (une fois), calcul."""
        provenance = self.referentiel.provenance
        parametres = self.parametres
        couches = provenance.get("couches", {})
        precautions = [
            p
            for nom in ("qpv_contexte", "qpv_correspondance")
            for p in couches.get(nom, {}).get("precautions", [])
        ]
        return Section(
            rendre(
                "methode.html.j2",
                distance=format_distance(self.situee.distance_proximite_m),
                outre_mer=any(c.startswith("97") for c in self.referentiel.departements_demandes),
                demonstration=self.activite.demonstration,
                centre=self.centre.nom,
                adherents=bool(self.centre.adherents),
                millesime_cog=self.referentiel.millesime_cog,
                millesime_population=self.referentiel.millesime_population or "",
                attribution=self.referentiel.attribution,
                installe_le=_date_iso(provenance.get("installe_le")),
                depuis="un miroir des sources officielles"
                if provenance.get("mode") == "miroir"
                else "les sources officielles",
                sources=sorted({str(c["source"]) for c in couches.values()}),
                annee=self.annee,
                avant_2024=self.annee < 2024,
                contexte=self.referentiel.contexte_disponible,
                raison_contexte=self.referentiel.raison_absence("qpv_contexte"),
                correspondance=self.referentiel.correspondance_disponible,
                precautions=precautions,
                source_quartiers=SOURCE_QUARTIERS,
                donnees=chemin_affichable(self.activite.source),
                precedente=self.source_precedente,
                mode="mode tolérant : les lignes en erreur sont écartées et comptées"
                if parametres.tolerant
                else "mode strict : toute erreur arrête le calcul",
                avertissements=nombre_de(self.activite.nombre_avertissements, "avertissement"),
                ecartees=nombre_de(
                    int(self.activite.bilan["lignes_ecartees"].sum()), "ligne écartée", "lignes écartées"
                ),
                version=version_observatoire(),
            )
        )


_STATUTS_COURTS = {
    "nouveau": "nouveau",
    "modifie": "modifié",
    "inchange": "inchangé",
    "commune": "commune entière",
}


def _zero(nombre: float) -> float:
    return 0.0 if pd.isna(nombre) else nombre


def _date_iso(horodatage: object) -> str:
    """« 2026-12-01T19:28:48+00:00 » → « 1er décembre 2026 »."""
    try:
        return format_date(str(horodatage)[:10])
    except ValueError:
        return "à une date inconnue"


RESTES = ("hors_territoire", "non_renseigne", "inconnue", "departement_inconnu", "autre", "distanciel")


def regrouper_queue(lignes: pd.DataFrame, maximum: int) -> pd.DataFrame:
    """Au plus ``maximum`` barres : les lignes de reste (hors du territoire, non renseigné…) gardent
    chacune la leur ; les modalités les plus petites sont regroupées en « Autres (n) », chacune
    strictement plus petite que toutes les modalités montrées (à égalité, elles vont ensemble).
    """
    restes = lignes[lignes["modalite"].isin(RESTES)]
    modalites = lignes[~lignes["modalite"].isin(RESTES)].sort_values("valeur", ascending=False, kind="stable")
    place = maximum - len(restes)
    if len(modalites) <= place:
        return pd.concat([modalites, restes], ignore_index=True)
    garde = max(place - 1, 1)
    valeurs = modalites["valeur"].to_numpy()
    while garde > 1 and valeurs[garde - 1] == valeurs[garde]:
        garde -= 1  # une modalité à égalité avec la plus grande des regroupées est regroupée aussi
    tete, queue = modalites.iloc[:garde], modalites.iloc[garde:]
    autres = {
        "modalite": "autres",
        "libelle": f"Autres ({len(queue)})",
        "valeur": queue["valeur"].sum(),
        "part": queue["part"].sum(min_count=1),
    }
    return pd.concat([tete, pd.DataFrame([autres]), restes], ignore_index=True)


def _note_arrondi(parts: pd.Series) -> str:
    """Note de l'INSEE sous un tableau dont les parts arrondies ne font pas 100 %."""
    affichees = parts.dropna().map(lambda p: arrondir(100 * p))
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


def _points(avant: float, apres: float) -> str:
    """L'écart de deux parts en points : « +6 points », « −2 points »."""
    if pd.isna(avant) or pd.isna(apres):
        return "–"
    ecart = arrondir(100 * apres) - arrondir(100 * avant)
    signe = "+" if ecart > 0 else ("−" if ecart < 0 else "")
    return f"{signe}{nombre_de(abs(ecart), 'point')}"


def preparer_rapport(
    territoire: str | int,
    parametres: Parametres | None = None,
    *,
    sortie: str | Path | None = None,
    ensemble: str | Path | Ensemble | None = None,
    **valeurs,
) -> Rapport:
    """Prépare un rapport : lit et valide l'année (et la précédente si présente), rattache, calcule.

    Parameters
    ----------
    territoire : str or int
        Code de département (``"95"``, ``95``, ``"095"``) ou ``"synthese"`` ; vide : le premier
        département du centre.
    parametres : Parametres, optional
        Paramètres du calcul ; sinon construits à partir de ``valeurs`` (``annee``,
        ``donnees``, ``referentiel``, ``tolerant``, ``distance_proximite_m``…), les chemins
        relatifs étant cherchés depuis le répertoire courant puis depuis le projet.
    sortie : str or Path, optional
        Dossier où écrire ``indicateurs.csv``, ``carte.html`` et ``figures/`` ; rien n'est écrit
        si vide. Jamais une entrée ni un dossier qui en contient une.
    ensemble : str, Path or Ensemble, optional
        L'année déjà préparée (le fichier écrit par le lot, ou un ``Ensemble``) ; vide, les
        données sont lues ici. Avec un ensemble, tout paramètre donné doit être celui avec
        lequel il a été préparé : sinon c'est une erreur (jamais une valeur ignorée en silence).
    **valeurs
        Champs de ``Parametres``.

    Returns
    -------
    Rapport

    Raises
    ------
    ErreurParametre
        Paramètre invalide, département hors du centre, paramètre qui contredit l'ensemble,
        sortie qui touche une entrée.
    """
    valeurs = {cle: v for cle, v in valeurs.items() if v not in (None, "")}
    if ensemble is not None and str(ensemble) != "":
        prepare = ensemble if isinstance(ensemble, Ensemble) else Ensemble.lire(ensemble)
        _verifier_accord(prepare.parametres, parametres, valeurs)
    else:
        prepare = Ensemble.preparer(parametres or Parametres(**valeurs))
    if str(territoire).strip() == "":
        territoire = prepare.parametres.departements[0]
    code = normaliser_territoire(territoire)
    if code != SYNTHESE and code not in prepare.referentiel.departements_demandes:
        raise ErreurParametre(
            f"Département {code} absent du référentiel installé ; codes disponibles : "
            f"{', '.join(prepare.referentiel.departements_demandes)}."
        )
    prepare = prepare.pour(code)
    indicateurs = calculer_indicateurs(
        prepare.situee,
        prepare.referentiel,
        code,
        prepare.precedente,
        adherents=prepare.centre.adherents,
        annee=prepare.parametres.annee,
    )
    dossier = Path(sortie) if sortie else None
    if dossier:
        verifier_sorties(
            [("la sortie du rapport", dossier)],
            entrees_des_donnees(
                prepare.parametres.chemin_donnees,
                prepare.annees_lues,
                referentiel=prepare.dossier_referentiel,
            ),
        )
        ecrire_indicateurs(indicateurs, dossier / "indicateurs.csv")
    return Rapport(
        prepare, code, indicateurs, dossier, dans_un_lot=ensemble is not None and str(ensemble) != ""
    )


def _portrait(figure) -> bool:
    largeur, hauteur = figure.get_size_inches()
    return hauteur / largeur > 0.72


def _verifier_accord(prepares: Parametres, parametres: Parametres | None, valeurs: dict) -> None:
    """Un paramètre donné à côté d'un ensemble doit être celui de l'ensemble : jamais ignoré."""
    donnes = dict(valeurs)
    if parametres is not None:
        donnes.update(parametres.pour_notebook())
    if not donnes:
        return
    attendu = prepares.pour_notebook()
    recus = Parametres(**{**_champs(prepares), **donnes}).pour_notebook()
    ecarts = [
        f"{cle} = {recus[cle]!r} (l'ensemble a été préparé avec {attendu[cle]!r})"
        for cle in sorted(set(donnes) & set(attendu))
        if recus[cle] != attendu[cle]
    ]
    if ecarts:
        raise ErreurParametre(
            f"{accord(len(ecarts), 'Paramètre', 'Paramètres')} en contradiction avec l'ensemble préparé par le lot : "
            + " ; ".join(ecarts)
            + ". Relancez le lot avec ces valeurs (observatoire rapports …), ou ouvrez le notebook sans ensemble."
        )


def _champs(parametres: Parametres) -> dict:
    return {nom: getattr(parametres, nom) for nom in parametres.__dataclass_fields__}
