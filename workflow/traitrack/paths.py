"""The layout table: where every output of every stage lives, written once.

The rules (``workflow/rules/*.smk``, through ``common.smk``), the stages and the ``traitrack``
command take their paths from here, so that they cannot drift apart. Every function is pure
(strings in, strings out) and imports nothing but the standard library, so that
``common.smk`` plans the DAG without loading anything heavier. Given Snakemake wildcards
(``"{species}"``, ``"{shard}"``, ``"{stage}"``) instead of values, the same functions give
the rules' path patterns.

Examples
--------
>>> layout = SpeciesLayout("carabus_synth")
>>> layout.descriptors
'results/carabus_synth/descriptors.npz'
>>> layout.gathered("student").labels
'results/carabus_synth/student/labels'
>>> final_stage({"rounds": 2, "student": {"enabled": False}})
'round2'
"""

from __future__ import annotations

from dataclasses import dataclass

RESULTS = "results"
LOGS = "logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
#: the folders of the self-training stages under a species' results, in the order they run
SELF_TRAINING_STAGES = ("round2", "student")


@dataclass(frozen=True)
class Gathered:
    """What ``gather`` writes into a stage's folder: the species' labels and tables."""

    folder: str

    @property
    def labels(self) -> str:
        """The label maps, one ``{specimen}.png`` per target and template."""
        return f"{self.folder}/labels"

    @property
    def predictions(self) -> str:
        """One row per prediction: engine, templates, confidence."""
        return f"{self.folder}/predictions.tsv"

    @property
    def qc(self) -> str:
        """The QC round trip's scores, ranks and flags."""
        return f"{self.folder}/qc.tsv"

    @property
    def coco(self) -> str:
        """The label maps as COCO RLE."""
        return f"{self.folder}/masks.coco.json"

    @property
    def evaluation(self) -> str:
        """IoU against the sheet's ``gt_mask`` of this stage's labels."""
        return f"{self.folder}/evaluation.tsv"

    def shard(self, shard: str) -> Shard:
        """One shard's outputs, which ``gather`` joins into this folder."""
        return Shard(f"{self.folder}/shards/{shard}")


@dataclass(frozen=True)
class Shard:
    """What one ``propagate`` (or ``pseudo_round``, ``predict_student``) job writes."""

    folder: str

    @property
    def labels(self) -> str:
        """The shard's label maps."""
        return f"{self.folder}/labels"

    @property
    def table(self) -> str:
        """``shard.json``: the shard's prediction rows and raw round-trip rows, written last."""
        return f"{self.folder}/shard.json"


@dataclass(frozen=True)
class SpeciesLayout:
    """Every per-species output path; ``species`` may be the wildcard ``"{species}"``."""

    species: str
    results: str = RESULTS

    @property
    def folder(self) -> str:
        """``results/{species}``: the first round's outputs and the species' plan."""
        return f"{self.results}/{self.species}"

    @property
    def validation(self) -> str:
        """``validate``: every problem of the species' images and template masks."""
        return f"{self.folder}/validation.tsv"

    @property
    def ground_truth_validation(self) -> str:
        """``validate_ground_truth``: every problem of its ``gt_mask`` files."""
        return f"{self.folder}/ground_truth_validation.tsv"

    @property
    def descriptors(self) -> str:
        """``describe``: one descriptor per specimen."""
        return f"{self.folder}/descriptors.npz"

    @property
    def selection(self) -> str:
        """``select``: the nearest templates of every target."""
        return f"{self.folder}/selection.tsv"

    @property
    def pseudovideo(self) -> str:
        """``order``: the pseudo-video's chunks."""
        return f"{self.folder}/pseudovideo.json"

    def bulk(self, name: str) -> str:
        """``bulk_sample``'s files (``self_training.student.bulk``): ``sample.tsv``, the
        targets the teacher labels, and ``pseudovideo.json``, the pseudo-video cut to them."""
        return f"{self.folder}/bulk/{name}"

    def gathered(self, stage: str = "") -> Gathered:
        """The labels and tables of a stage: ``""`` the first round, else a folder of
        :data:`SELF_TRAINING_STAGES` (or the wildcard ``"{stage}"``)."""
        return Gathered(f"{self.folder}/{stage}" if stage else self.folder)

    @property
    def scale_table(self) -> str:
        """``calibrate``: each specimen's pixel size, how it was found, its status."""
        return f"{self.folder}/scale.tsv"

    @property
    def scale_overlays(self) -> str:
        """``calibrate``: one picture per scale-bar reading."""
        return f"{self.folder}/scale_overlays"

    @property
    def annotate_next(self) -> str:
        """``annotate_next``: which specimens to annotate first."""
        return f"{self.folder}/annotate_next.tsv"

    @property
    def overlays(self) -> str:
        """``overlays``: one PNG per specimen."""
        return f"{self.folder}/overlays"

    @property
    def traits_table(self) -> str:
        """``measure``: the species' trait table."""
        return f"{self.results}/traits/{self.species}.csv"

    @property
    def traits_dir(self) -> str:
        """``measure``: one trait CSV per specimen."""
        return f"{self.results}/traits/{self.species}"

    @property
    def corrections(self) -> str:
        """``export_corrections``: labelme JSON and a COCO file of the targets to correct."""
        return f"{self.folder}/corrections"

    def finetune(self, name: str) -> str:
        """``finetune``'s files: ``weights.pt``, ``loss.tsv``, ``loss.png``, ``state.pt``."""
        return f"{self.folder}/finetune/{name}"

    def student(self, name: str) -> str:
        """``train_student``'s files: ``weights.pt``, ``losses.tsv``, ``losses.png``,
        ``training.tsv``, ``state.pt``."""
        return f"{self.folder}/student/{name}"


@dataclass(frozen=True)
class PooledLayout:
    """The outputs over all species: the pooled tables and the report's figures."""

    results: str = RESULTS

    @property
    def traits(self) -> str:
        """Every species' traits in one table."""
        return f"{self.results}/traits.csv"

    @property
    def evaluation(self) -> str:
        """Every evaluated specimen's IoU, of the final stage."""
        return f"{self.results}/evaluation.tsv"

    @property
    def evaluation_summary(self) -> str:
        """The mean IoU per species and structure."""
        return f"{self.results}/evaluation_summary.tsv"

    @property
    def report_traits(self) -> str:
        """The report's trait figures, one PNG per structure."""
        return f"{self.results}/report/traits"

    @property
    def report_qc(self) -> str:
        """The report's QC table."""
        return f"{self.results}/report/qc.html"

    @property
    def report_evaluation(self) -> str:
        """The report's evaluation table."""
        return f"{self.results}/report/evaluation.html"

    @property
    def data_dictionary(self) -> str:
        """The report's data dictionary of every trait column."""
        return f"{self.results}/report/data_dictionary.html"

    @property
    def review(self) -> str:
        """The review page: every species' targets, the doubtful ones first."""
        return f"{self.results}/review.html"

    def retrieval(self, specimen: str, structure: str, suffix: str) -> str:
        """``retrieve``: the ranked table (``.tsv``) or contact sheet (``.png``) of a query."""
        return f"{self.results}/retrieval/{specimen}/{structure}{suffix}"


@dataclass(frozen=True)
class TrayLayout:
    """The outputs of the tray split (``trays.smk``); ``tray`` may be the wildcard."""

    results: str = RESULTS

    @property
    def folder(self) -> str:
        """``results/trays``: every tray's split, the tray table and the sheets."""
        return f"{self.results}/trays"

    def split(self, tray: str) -> str:
        """``split``: one tray's folder (instances, COCO, overlay, crops, ``tray.json``)."""
        return f"{self.folder}/{tray}"

    @property
    def table(self) -> str:
        """``tray_table``: one row per tray (count, status, excluded objects)."""
        return f"{self.folder}/trays.tsv"

    @property
    def crops(self) -> str:
        """``tray_table``: one row per crop, for the user's per-crop species sheet."""
        return f"{self.folder}/crops.tsv"

    @property
    def samples(self) -> str:
        """``tray_table``: the user's sample sheet plus the crops' rows; read in its place
        once it exists."""
        return f"{self.folder}/samples.tsv"

    @property
    def traits(self) -> str:
        """``tray_traits``: each tray's specimens' traits with their tray and box."""
        return f"{self.folder}/traits"


def teacher_stage(self_training: dict) -> str:
    """The last propagate round's folder under a species: ``round2`` with ``rounds: 2``,
    else ``""`` (the first round, ``results/{species}``)."""
    return "round2" if self_training["rounds"] > 1 else ""


def final_stage(self_training: dict) -> str:
    """The folder of a species' final labels, which ``measure``, ``overlays``,
    ``annotate_next`` and the pooled tables read: ``student`` with the student on, else
    :func:`teacher_stage`. With self-training off it is ``""``, so every path is what it
    would be without self-training."""
    return "student" if self_training["student"]["enabled"] else teacher_stage(self_training)


def self_trained_stages(self_training: dict) -> list[str]:
    """The self-training stages a config runs, in order (none with self-training off)."""
    stages = ["round2"] if self_training["rounds"] > 1 else []
    return stages + (["student"] if self_training["student"]["enabled"] else [])


def log_path(rule: str, *names: str) -> str:
    """A rule's log, ``logs/{rule}/{names}.log`` (``names`` joined by ``/``)."""
    return f"{LOGS}/{rule}/{'/'.join(names)}.log"


def benchmark_path(rule: str, *names: str) -> str:
    """A heavy rule's Snakemake benchmark, ``results/benchmarks/{rule}/{names}.tsv``."""
    return f"{BENCHMARKS}/{rule}/{'/'.join(names)}.tsv"
