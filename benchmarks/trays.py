"""The tray split on trays composed from real beetles (a script, not a test).

Each tray holds ``--specimens`` beetles of ``../shared/data/beetles-5part`` (East et al. 2026,
doi 10.57967/hf/8716, CC BY 4.0; part masks from Imageomics BeetleFlow), each cut out by the
union of its part masks, at random positions, angles and sizes (0.85-1.15), about a third
slid against a neighbour until they touch, with a printed label and a scale bar in the top
strip and a pin line across (``traitrack.trays.compose``). The trays cycle through the four
backgrounds (white foam, cream card, grey, dark). Per tray: the count found against the
truth, instance precision and recall at IoU 0.5 (one-to-one matching), the mean IoU of the
matched instances, whether the label and the scale bar were recorded (box IoU >= 0.5), the
split's seconds and its peak memory (tracemalloc: numpy and Python allocations). The split
is given the tray's count (``n_expected``) unless ``--blind``.

``--big`` splits one 24 MP tray (4000 x 6000) of 20 specimens in a fresh process on one
thread and prints its seconds and peak resident memory (VmHWM of that process, reset at its
start, so the photograph, Python and the libraries count, the composing parent does not).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/trays.py --seeds 0-7     # tuning set
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/trays.py --seeds 100-115 # benchmark set
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/trays.py --big --seeds 200
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from traitrack.trays import split_tray  # noqa: E402
from traitrack.trays.compose import BACKGROUNDS, compose_tray  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "beetles-5part"


def load_beetles(folder: Path = DATA) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every beetle of the set, cropped to the union of its part masks."""
    beetles = []
    for image_file in sorted((folder / "images").glob("*.png")):
        image = np.array(Image.open(image_file).convert("RGB"))
        mask = np.array(Image.open(folder / "masks" / image_file.name).convert("RGB")).any(-1)
        rows, cols = np.nonzero(mask)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        beetles.append((image[box], mask[box]))
    return beetles


def match_instances(found: np.ndarray, truth: np.ndarray) -> list[float]:
    """IoUs of the one-to-one matches (Hungarian on IoU) with IoU >= 0.5."""
    return [iou for _, _, iou in _matches(found, truth)]


def match_pairs(found: np.ndarray, truth: np.ndarray) -> list[tuple[int, int]]:
    """(found label, truth label) of the one-to-one matches with IoU >= 0.5, by found label."""
    return sorted((k, j) for k, j, _ in _matches(found, truth))


def _matches(found: np.ndarray, truth: np.ndarray) -> list[tuple[int, int, float]]:
    n_found, n_truth = int(found.max()), int(truth.max())
    if not n_found or not n_truth:
        return []
    joint = np.bincount(
        found.astype(np.int64).ravel() * (n_truth + 1) + truth.ravel(),
        minlength=(n_found + 1) * (n_truth + 1),
    ).reshape(n_found + 1, n_truth + 1)[1:, 1:]
    area_found = np.bincount(found.ravel(), minlength=n_found + 1)[1:]
    area_truth = np.bincount(truth.ravel(), minlength=n_truth + 1)[1:]
    iou = joint / (area_found[:, None] + area_truth[None, :] - joint)
    rows, cols = linear_sum_assignment(-iou)
    return [
        (int(r) + 1, int(c) + 1, float(iou[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if iou[r, c] >= 0.5
    ]


def box_iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def make_tray(beetles, seed: int, *, shape, specimens: int, background: str | None = None):
    """The composed tray of a seed (background cycling with the seed unless given)."""
    rng = np.random.default_rng(seed)
    names = list(BACKGROUNDS)
    background = background or names[seed % len(names)]
    chosen = rng.choice(len(beetles), specimens, replace=False)
    composed = compose_tray(
        [beetles[i] for i in chosen], shape=shape, background=background, rng=rng
    )
    return composed, background


def score_tray(composed, *, blind: bool) -> dict:
    """Split one tray and score it against its truth."""
    n_truth = int(composed.instances.max())
    tracemalloc.start()
    start = time.perf_counter()
    result = split_tray(composed.image, n_expected=None if blind else n_truth)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    ious = match_instances(result.labels, composed.instances)
    boxes = {
        kind: [e.box for e in result.excluded if e.kind == kind] for kind in ("label", "scale_bar")
    }
    return {
        "n_truth": n_truth,
        "n_found": result.n_found,
        "status": result.status,
        "matched": len(ious),
        "iou_sum": sum(ious),
        "label": any(box_iou(b, composed.label_box) >= 0.5 for b in boxes["label"]),
        "scale_bar": any(box_iou(b, composed.scale_bar_box) >= 0.5 for b in boxes["scale_bar"]),
        "excluded": len(result.excluded),
        "touching": composed.touching,
        "seconds": seconds,
        "peak_mib": peak,
    }


def seed_range(text: str) -> list[int]:
    """'0-7' -> [0..7]; '3' -> [3]."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def run_set(args) -> None:
    """Score the trays of the seeds and print one row each, then the totals per background."""
    beetles = load_beetles()
    shape = tuple(int(v) for v in args.shape.split("x"))
    rows = []
    print("seed background touching n_truth n_found status P R mean_iou label bar seconds peak_MiB")
    for seed in seed_range(args.seeds):
        composed, background = make_tray(beetles, seed, shape=shape, specimens=args.specimens)
        row = score_tray(composed, blind=args.blind) | {"seed": seed, "background": background}
        rows.append(row)
        precision = row["matched"] / max(1, row["n_found"])
        recall = row["matched"] / row["n_truth"]
        mean_iou = row["iou_sum"] / max(1, row["matched"])
        print(
            f"{seed} {background} {row['touching']} {row['n_truth']} {row['n_found']} "
            f"{row['status']} {precision:.3f} {recall:.3f} {mean_iou:.4f} {row['label']:d} "
            f"{row['scale_bar']:d} {row['seconds']:.2f} {row['peak_mib']:.0f}",
            flush=True,
        )
    for name in [*BACKGROUNDS, "all"]:
        chosen = [r for r in rows if name in ("all", r["background"])]
        if not chosen:
            continue
        matched = sum(r["matched"] for r in chosen)
        print(
            f"{name}: trays {len(chosen)}, exact count "
            f"{sum(r['n_found'] == r['n_truth'] for r in chosen)}/{len(chosen)}, "
            f"precision {matched / max(1, sum(r['n_found'] for r in chosen)):.4f}, "
            f"recall {matched / sum(r['n_truth'] for r in chosen):.4f}, "
            f"mean matched IoU {sum(r['iou_sum'] for r in chosen) / max(1, matched):.4f}, "
            f"labels {sum(r['label'] for r in chosen)}/{len(chosen)}, "
            f"scale bars {sum(r['scale_bar'] for r in chosen)}/{len(chosen)}, "
            f"seconds mean {np.mean([r['seconds'] for r in chosen]):.2f}, "
            f"peak MiB max {max(r['peak_mib'] for r in chosen):.0f}"
        )


def run_big(args) -> None:
    """A 24 MP tray of 20 specimens, split in a fresh one-thread process."""
    beetles = load_beetles()
    seed = seed_range(args.seeds)[0]
    composed, background = make_tray(beetles, seed, shape=(4000, 6000), specimens=20)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tray.npy"
        np.save(path, composed.image)
        np.save(Path(tmp) / "truth.npy", composed.instances)
        np.save(Path(tmp) / "count.npy", np.array(composed.instances.max()))
        env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, __file__, "--split-one", str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    print(f"24 MP tray (4000 x 6000, {background}, 20 specimens, seed {seed}): {out.strip()}")


def split_one(path: str) -> None:
    """Split a saved tray on one thread; print seconds, peak RSS and the score."""
    import cv2

    cv2.setNumThreads(1)
    # a forked child starts with its parent's high-water mark (the composed tray): reset it
    Path("/proc/self/clear_refs").write_text("5")
    image = np.load(path)
    n_truth = int(np.load(Path(path).with_name("count.npy")))
    start, cpu = time.perf_counter(), time.process_time()
    result = split_tray(image, n_expected=n_truth)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = peak_rss_mib()  # before the scoring
    del image
    ious = match_instances(result.labels, np.load(Path(path).with_name("truth.npy")))
    print(
        f"seconds {seconds:.1f} (CPU {cpu:.1f}), peak RSS {rss:.0f} MiB (whole process with the photograph, "
        f"before scoring), found {result.n_found}/{n_truth}, matched {len(ious)}, "
        f"mean matched IoU {np.mean(ious) if ious else 0:.4f}, status {result.status}"
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="100-115")
    parser.add_argument("--specimens", type=int, default=12)
    parser.add_argument("--shape", default="1500x2000", help="tray height x width, pixels")
    parser.add_argument("--blind", action="store_true", help="without the tray's count")
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--split-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.split_one:
        split_one(args.split_one)
    elif args.big:
        run_big(args)
    else:
        run_set(args)


if __name__ == "__main__":
    main()
