"""Self-training on the shared real specimens: none, pseudo-templates, student, both.

Split and templates as ``benchmarks/learning_curve.py``: the images of a set sorted by name,
every 4th an evaluation target (``--targets`` of them, evenly spaced; ``--tuning-split``: the
split settings are chosen on), the rest the pool; the N templates are the first N of
``annotate_next``'s ranking of the pool, and each specimen's templates are its min(5, N)
nearest of them by the specimen descriptor.  ``--unlabelled`` pool specimens that are not
templates (evenly spaced) play the species' unlabelled specimens: their ground truth is never
read.  The evaluation targets have ground truth used for scoring, so they never become
pseudo-templates or student training images (``self_training.allow_gt_targets: false``).

For each N, with the registration engine (each set's ``config/datasets`` options):

* **none**: round 1 on the targets;
* **pseudo**: round 1 on the unlabelled specimens, QC (round trip to the nearest hand-made
  template, the prediction's evidence, ``qc_rank`` over them); the top ``pseudo_share`` by
  rank become pseudo-templates (fusion prior ``pseudo_weight``); round 2 on the targets, each
  with its 5 nearest of templates and pseudo-templates, its nearest ``keep_hand_made``
  hand-made ones always kept (``--keep-hand-made``);
* **student**: a student trained on the templates and round 1's labels of the unlabelled
  specimens (weighted by their ``qc_rank``, confidence and boundary distance) predicts the
  targets;
* **both**: round 2 also on the unlabelled specimens (never their own template), and a
  student trained on those labels.

``--no-student``: the none and pseudo columns only (choosing pseudo-template settings).
A student's training cost: ``benchmarks/student_timing.py``.

``self_training.student.teacher_weight`` > 0 (``--option teacher_weight=W``) adds the columns
``student+teacher`` and ``both+teacher``: each student's softmax fused with its teacher's labels
(round 1's, round 2's); ``--teacher-weights W ...`` prints each student fused at those weights,
with and without ``test_flips`` (choosing ``teacher_weight`` and ``test_flips``), without
training it again.

``--option generations=G`` trains G students one after the other
(:mod:`traitrack.selftrain.generations`) and scores each: generation g > 1 as ``student-gG``
(and ``student-gG+teacher``).  ``--qc-choice`` adds ``+qc`` columns: per target and structure,
the fused student's or the teacher's mask, whichever's QC round trip to the target's nearest
hand-made template scored higher (a selection by the cycle-consistency QC, no ground truth).

Torch uses ``--threads`` threads (printed); run two benchmarks side by side with one thread
each (and ``OMP_NUM_THREADS=1``), not one with two: a two-thread training next to another busy
process slowed from 3.6 to 30 s an epoch on a 2-core machine.  Registrations are cached per (specimen,
templates, priors) in ``--cache`` (a folder of .npz), and each student's training state by its
training set and settings, so an interrupted run resumes.

Data: ../shared/data (beetles-5part: NEON "Beetles as Sentinel Taxa" images, East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0, masks from Imageomics BeetleFlow; ants-4part: AntWeb images,
www.antweb.org, CC BY 4.0, masks by EPFL CS-433 "ml-project-2-kalamariunionen" with UNIL).
Example::

    .venv/bin/python benchmarks/self_training.py --set both --targets 20 --unlabelled 40 \
        --workers 2 --threads 2 --cache /tmp/self_training_cache
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from registration_real import SET_OPTIONS, SETS, describe_paths, yaml_pairs  # noqa: E402
from self_training_specimens import (  # noqa: E402
    add_specimen_arguments,
    choose_specimens,
    nearest,
    print_table,
    run_tasks,
)

from traitrack.describe import centre_descriptors, pairwise_distances  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
    RegistrationOptions,
)
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.qc import round_trip, summarise_round_trips  # noqa: E402
from traitrack.selftrain.options import SelfTrainingOptions  # noqa: E402
from traitrack.selftrain.pseudo import assign_templates, choose_pseudo_templates  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

FUSED = 5


def run_set(key: str, args: argparse.Namespace, settings: SelfTrainingOptions) -> dict:
    import torch

    from traitrack.selftrain import student
    from traitrack.selftrain.generations import Labelled, train_generations, training_samples
    from traitrack.selftrain.inference import fuse_with_teacher, image_softmax

    folder, config = SETS[key]
    structures = StructureTable.from_config(config)
    options = RegistrationOptions.from_config(SET_OPTIONS[key])
    targets, pool, ordered, unlabelled = choose_specimens(
        key, args.targets, args.unlabelled, max(args.sizes), args.tuning_split
    )
    everyone = targets + unlabelled + pool
    desc = np.vstack(centre_descriptors(describe_paths(everyone, "specimen", options)))
    dist = pairwise_distances(desc, desc)
    row = {p.stem: i for i, p in enumerate(everyone)}
    mask_of = lambda p: read_mask(p.parent.parent / "masks" / p.name, structures)  # noqa: E731
    print(
        f"\n## {folder}, {'tuning' if args.tuning_split else 'benchmark'} split: "
        f"{len(targets)} targets, {len(unlabelled)} unlabelled, pool {len(pool)}, sizes "
        f"{args.sizes}, torch threads {torch.get_num_threads()}, {args.workers} worker(s), "
        f"self_training {settings.as_config()}",
        flush=True,
    )

    def one_size(n: int) -> dict:
        start = time.perf_counter()
        true = [pool[i] for i in ordered[:n]]
        true_frames = {p.stem: (p.stem, p, mask_of(p)) for p in true}

        def templates_of(p: Path, k: int = FUSED) -> list:
            picks = nearest(dist[row[p.stem]], [row[t.stem] for t in true], min(k, n))
            return [true_frames[everyone[j].stem] for j in picks]

        def round_one(paths: list[Path]) -> dict:
            tasks = [
                (
                    p.stem,
                    p,
                    templates_of(p),
                    (),
                    config,
                    options,
                    {t.stem for t in true},
                    args.cache,
                )
                for p in paths
            ]
            return run_tasks(tasks, args.workers)

        first = round_one(targets + unlabelled)
        truth = {p.stem: mask_of(p) for p in targets}

        per_structure: dict[str, list[float]] = {}

        def score(labels_of) -> float:
            """Mean over the targets of their mIoU; each structure's mean IoU is kept too."""
            ious = [class_iou(labels_of(p.stem), truth[p.stem], structures.labels) for p in targets]
            per_structure[f"N={n}"] = per_structure.get(f"N={n}", []) + [
                float(np.nanmean([iou[label] for iou in ious])) for label in structures.labels
            ]
            return float(np.mean([mean_iou(iou) for iou in ious]))

        scores = {"none": score(lambda s: first[s][0])}
        qc = pd.DataFrame(
            summarise_round_trips([r for p in unlabelled for r in first[p.stem][2]], 0.0)
        )
        pseudo = choose_pseudo_templates(
            qc, settings.pseudo_share, exclude={p.stem for p in targets + true}
        )
        by_name = {p.stem: p for p in everyone}
        pseudo_frames = {s: (s, by_name[s], first[s][0]) for s in pseudo}
        round_two = {**true_frames, **pseudo_frames}

        def round_two_of(paths: list[Path]) -> dict:
            names = list(round_two)
            assigned = assign_templates(
                [p.stem for p in paths],
                desc[[row[p.stem] for p in paths]],
                names,
                desc[[row[s] for s in names]],
                FUSED,
                true_templates=true_frames,
                keep_hand_made=settings.keep_hand_made,
            )
            if not any(set(names) & set(pseudo_frames) for names in assigned.values()):
                # no target receives a pseudo-template: round 2 is round 1 (as pseudo_round)
                return {p.stem: first[p.stem] for p in paths}
            tasks = [
                (
                    p.stem,
                    p,
                    [round_two[s] for s in assigned[p.stem]],
                    tuple(sorted((s, settings.pseudo_weight) for s in pseudo_frames)),
                    config,
                    options,
                    set(true_frames),
                    args.cache,
                )
                for p in paths
            ]
            return run_tasks(tasks, args.workers)

        second = round_two_of(targets + (unlabelled if args.both else []))
        scores["pseudo"] = score(lambda s: second[s][0])

        trained: dict[str, object] = {}
        target_images = [read_image(p) for p in targets]

        def plain_score(labels_of: dict) -> float:
            """:func:`score` without keeping its per-structure means (for the weights grid)."""
            ious = [class_iou(labels_of[p.stem], truth[p.stem], structures.labels) for p in targets]
            return float(np.mean([mean_iou(iou) for iou in ious]))

        def student_scores(column: str, labels: dict, qc_table: pd.DataFrame) -> None:
            """The student of these labels alone, and fused with the teacher's labels."""
            ranks = dict(zip(qc_table["specimen"], qc_table["qc_rank"]))
            templates = [Labelled(t.stem, read_image(t), true_frames[t.stem][2]) for t in true]
            pseudo_labels = [
                Labelled(
                    p.stem,
                    read_image(p),
                    labels[p.stem][0],
                    ranks.get(p.stem, 0.0),
                    labels[p.stem][1]["confidence"],
                )
                for p in unlabelled
            ]
            samples = training_samples(templates, pseudo_labels, structures, settings.student)
            key = student.fingerprint(samples, settings.student, 0)
            if key in trained:  # the same training set (round 2 changed no label): same student
                print(f"  student N={n}: the same training set as before, not trained again")
            else:
                trained[key] = {}
                state = Path(args.cache) / f"student-{key[:24]}.pt" if args.cache else None
                _, losses, _ = train_generations(
                    templates,
                    pseudo_labels,
                    structures,
                    settings.student,
                    seed=0,
                    state_path=state,
                    log=str,
                    on_generation=trained[key].__setitem__,
                    first_samples=samples,
                )
                for generation, rows in losses.groupby("generation"):
                    print(
                        f"  student N={n} generation {generation}: {len(rows)} epochs, "
                        f"{rows['seconds'].mean():.1f} s per epoch, final loss "
                        f"{rows['loss'].iloc[-1]:.3f}",
                        flush=True,
                    )
            for generation, network in trained[key].items():
                name = column if generation == 1 else f"{column}-g{generation}"
                scores_of(name, network, labels)

        def scores_of(column: str, network, labels: dict) -> None:
            """Score one student alone and fused with its teacher (``labels``)."""
            size = settings.student.size

            def softmax_of(test_flips: bool) -> dict:
                """Each target's softmax (its four flips averaged with ``test_flips``)."""
                return {
                    p.stem: image_softmax(network, image, size, test_flips)
                    for p, image in zip(targets, target_images)
                }

            def predictions(weight: float, softmax: dict) -> dict:
                """Each target's labels, the student fused with its teacher at ``weight``."""
                return {
                    name: fuse_with_teacher(probabilities, labels[name][0], weight).argmax(axis=0)
                    for name, probabilities in softmax.items()
                }

            flips = settings.student.test_flips
            softmax = softmax_of(flips)
            if args.teacher_weights:
                for grid_flips in (flips, not flips):
                    views = softmax if grid_flips == flips else softmax_of(grid_flips)
                    grid = {w: plain_score(predictions(w, views)) for w in args.teacher_weights}
                    print(
                        f"  N={n} {column} (test_flips {grid_flips}) fused with its teacher "
                        "at weight w: " + ", ".join(f"{w:g} {v:.3f}" for w, v in grid.items()),
                        flush=True,
                    )
            scores[column] = score(predictions(0.0, softmax).__getitem__)
            if settings.student.teacher_weight > 0:
                fused = predictions(settings.student.teacher_weight, softmax)
                scores[f"{column}+teacher"] = score(fused.__getitem__)
                if args.qc_choice:
                    chosen = {
                        p.stem: qc_choice(p, image, fused[p.stem], labels[p.stem])
                        for p, image in zip(targets, target_images)
                    }
                    scores[f"{column}+qc"] = score(chosen.__getitem__)

        def qc_choice(
            p: Path, image: np.ndarray, student_labels: np.ndarray, teacher
        ) -> np.ndarray:
            """Per structure, the teacher's or the student's mask, whichever's QC round trip
            to the target's nearest hand-made template scored higher (the teacher's on a tie)."""
            name, path, true_labels = templates_of(p)[0]
            engine = RegistrationEngine(options, seed=0)
            (row,) = round_trip(
                engine,
                Frame(p.stem, image),
                student_labels,
                [Frame(name, read_image(path), true_labels)],
                structures,
            )
            teacher_rows = [r for r in teacher[2] if r["template"] == name]
            out = np.zeros_like(teacher[0])
            for structure in structures.structures:
                key = f"iou_{structure.name}"
                mine = float(np.nan_to_num(row[key], nan=-1.0))
                theirs = (
                    float(np.nan_to_num(teacher_rows[0][key], nan=-1.0)) if teacher_rows else -1.0
                )
                source = student_labels if mine > theirs else teacher[0]
                out[source == structure.label] = structure.label
            return out

        if args.student:
            student_scores("student", first, qc)
        if args.student and args.both:
            qc2 = pd.DataFrame(
                summarise_round_trips([r for p in unlabelled for r in second[p.stem][2]], 0.0)
            )
            student_scores("both", second, qc2)
        names = [structure.name for structure in structures.structures]
        values = per_structure[f"N={n}"]
        for column, name in enumerate(scores):
            cells = values[column * len(names) : (column + 1) * len(names)]
            print(
                f"  N={n} {name}: " + ", ".join(f"{a} {v:.3f}" for a, v in zip(names, cells)),
                flush=True,
            )
        print(
            f"N={n}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
            + f" ({len(pseudo)} pseudo-templates, {time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        return scores

    table = {n: one_size(n) for n in args.sizes}
    print_table(table, list(table[args.sizes[0]]))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_specimen_arguments(parser)
    parser.add_argument("--no-both", dest="both", action="store_false")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--cache", type=str, default="")
    parser.add_argument(
        "--teacher-weights",
        type=float,
        nargs="*",
        default=[],
        help="also print each student fused with its teacher at these weights (choosing "
        "teacher_weight)",
    )
    parser.add_argument("--pseudo-share", type=float, default=None)
    parser.add_argument("--pseudo-weight", type=float, default=None)
    parser.add_argument("--keep-hand-made", type=int, default=None)
    parser.add_argument(
        "--qc-choice",
        action="store_true",
        help="also score, per structure, the fused student's or the teacher's mask by QC",
    )
    parser.add_argument(
        "--no-student", dest="student", action="store_false", help="none and pseudo only"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    section = {"student": yaml_pairs(args.option)}
    if args.pseudo_share is not None:
        section["pseudo_share"] = args.pseudo_share
    if args.pseudo_weight is not None:
        section["pseudo_weight"] = args.pseudo_weight
    if args.keep_hand_made is not None:
        section["keep_hand_made"] = args.keep_hand_made
    settings = SelfTrainingOptions.from_config(section)
    for key in ("beetles", "ants") if args.set == "both" else (args.set,):
        run_set(key, args, settings)


if __name__ == "__main__":
    main()
