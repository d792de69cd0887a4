"""Centre lines of thin structures (legs, antennae): their lengths along the skeleton.

A ``thin`` structure's length is the longest geodesic path of its skeleton, measured by
chords (:func:`skeleton_path_lengths`), summed over its pieces; thick ones are skeletonised
on their mask reduced by a whole factor (:func:`centreline_lengths`), so the cost follows
the structure's thickness, not the photograph's megapixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from skimage import morphology

from traitrack import mask_runs

CHORD_STRIDE = 5  # path pixels per chord when measuring a centre line (see skeleton_path_lengths)
CENTRELINE_THICKNESS_PX = 32  # a thicker structure's centre line is found reduced


def centreline_lengths(
    mask: np.ndarray, runs: mask_runs.MaskRuns, kind: str, area: float, perimeter: float
) -> dict[str, float]:
    """Centre-line lengths of a ``thin`` structure (NaN for a ``blob``), in px.

    A structure much thicker than :data:`CENTRELINE_THICKNESS_PX` (a leg on a 50-megapixel
    photograph is 100 px across) is skeletonised on its mask reduced by a whole factor that
    keeps it that thick (blocks at least half covered,
    :func:`traitrack.mask_runs.block_majority`), and the lengths scaled back: the skeleton's
    cost grows with the pixels times the thickness, its length does not depend on them.
    """
    if kind != "thin":
        return {"centreline_length": np.nan, "centreline_longest": np.nan}
    thickness = 2 * area / max(perimeter, 1.0)  # of a long strip: twice area over perimeter
    step = max(1, int(thickness // CENTRELINE_THICKNESS_PX))
    if step > 1:
        mask = mask_runs.block_majority(runs, step)
    # each 8-connected piece on its own box (the skeleton is made by 3 x 3 steps, so pieces
    # never meet): six legs cost their own pixels, not the whole specimen's box
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(
        mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    lengths = []
    for piece in range(1, count):
        left, top, width, height = stats[piece, :4]
        box = pieces[top : top + height, left : left + width] == piece
        lengths += skeleton_path_lengths(morphology.skeletonize(np.pad(box, 1)))
    lengths = [length * step for length in lengths]
    return {
        "centreline_length": float(np.sum(lengths)),
        "centreline_longest": float(np.max(lengths, initial=0.0)),
    }


def skeleton_path_lengths(skeleton: np.ndarray, stride: int = CHORD_STRIDE) -> list[float]:
    """Length (in px) of the longest geodesic path in each 8-connected piece of a skeleton.

    The skeleton is a graph with one node per pixel and edges to its 8 neighbours (length 1
    orthogonally, sqrt(2) diagonally).  Per connected piece, a shortest-path sweep from any
    pixel finds the farthest pixel, and a second sweep from there finds the longest path
    (the "double sweep", exact for trees).  That path is then measured as a polyline through
    every ``stride``-th pixel (and the last): summing 1 / sqrt(2) steps over-estimates slanted
    lines by up to 8% (a line at 22.5 degrees is a staircase), whereas chords between pixels a
    few steps apart follow the true direction.  A single-pixel piece has length 0.

    Parameters
    ----------
    skeleton : numpy.ndarray
        (H, W) boolean skeleton (one pixel wide).
    stride : int
        Path pixels per chord.

    Returns
    -------
    list of float
        One length per connected piece.
    """
    skeleton = np.asarray(skeleton, dtype=bool)
    rows, cols = np.nonzero(skeleton)
    graph = _pixel_graph(skeleton, rows, cols)
    n_pieces, piece_of = csgraph.connected_components(graph, directed=False)
    order = np.argsort(piece_of, kind="stable")
    bounds = np.searchsorted(piece_of[order], np.arange(n_pieces + 1))
    graph = graph[order][:, order]  # pieces become contiguous blocks
    lengths = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        path = _longest_path(graph[start:stop, start:stop]) + start
        points = np.column_stack([rows[order[path]], cols[order[path]]]).astype(float)
        keep = np.unique(np.r_[np.arange(0, len(points), stride), len(points) - 1])
        lengths.append(float(np.hypot(*np.diff(points[keep], axis=0).T).sum()))
    return lengths


def _longest_path(graph: sparse.csr_matrix) -> np.ndarray:
    """Node indices of the double-sweep longest shortest path of a connected graph."""
    first = csgraph.dijkstra(graph, directed=False, indices=0)
    source = int(np.argmax(first))
    distance, predecessor = csgraph.dijkstra(
        graph, directed=False, indices=source, return_predecessors=True
    )
    node = int(np.argmax(distance))
    path = [node]
    while node != source:
        node = int(predecessor[node])
        path.append(node)
    return np.asarray(path[::-1])


def _pixel_graph(skeleton: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
    """Sparse symmetric adjacency of the pixels (rows, cols), weighted by step length."""
    height, width = skeleton.shape
    index = np.full(skeleton.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(rows.size)
    sources, targets, weights = [], [], []
    for d_row, d_col in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each undirected edge once
        to_row, to_col = rows + d_row, cols + d_col
        inside = (to_row < height) & (to_col >= 0) & (to_col < width)
        neighbour = np.full(rows.size, -1, dtype=np.int64)
        neighbour[inside] = index[to_row[inside], to_col[inside]]
        linked = neighbour >= 0
        sources.append(np.flatnonzero(linked))
        targets.append(neighbour[linked])
        weights.append(np.full(linked.sum(), np.hypot(d_row, d_col)))
    source, target, weight = (np.concatenate(parts) for parts in (sources, targets, weights))
    graph = sparse.coo_matrix((weight, (source, target)), shape=(rows.size, rows.size))
    return (graph + graph.T).tocsr()
