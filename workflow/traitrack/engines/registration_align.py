"""Silhouette registration for the registration engine: global alignment, then demons.

Geometry convention: every image is registered at a small working size where one pixel is one
physical unit (spacing 1, origin 0).  Its full-resolution grid is described in the same
physical frame (spacing = working / full size, origin shifted half a pixel), so a transform
found at the working size applies unchanged to full-resolution label maps.  Transforms map
points of the fixed (target) image to points of the moving (template) image, as SimpleITK's
resampling expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import SimpleITK as sitk

from ..foreground import clean_silhouette, foreground_mask


@dataclass
class Silhouette:
    """One image prepared for registration.

    mask : bool silhouette at the working size (appendages included).
    body : the silhouette without thin appendages (a morphological opening): legs and antennae
        take a different pose in every specimen and would dominate the alignment.
    smooth : the body blurred (float sitk image, spacing 1), which gives the mean-squares
        metric a gradient far from the boundary; this is what gets registered.
    full_shape : (H, W) of the original image.
    spacing, origin : (x, y) geometry of the full-resolution grid in working-pixel units.
    """

    mask: np.ndarray
    body: np.ndarray
    smooth: sitk.Image
    full_shape: tuple[int, int]
    spacing: tuple[float, float]
    origin: tuple[float, float]

    def full_grid(self, array: np.ndarray) -> sitk.Image:
        """``array`` (full resolution, 2-D) as a sitk image placed in this working frame."""
        image = sitk.GetImageFromArray(np.ascontiguousarray(array, dtype=np.float32))
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        return image


@dataclass
class Alignment:
    """A template registered onto a target: the transform (target -> template) and its quality."""

    transform: sitk.Transform
    dice: float


def working_shape(shape: tuple[int, int], working_size: int) -> tuple[int, int]:
    """(h, w) of an image of ``shape`` scaled so its longest side is ``working_size``."""
    scale = working_size / max(shape)
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def prepare_silhouette(
    image: np.ndarray,
    *,
    working_size: int,
    sigma: float,
    body_radius: int,
    grabcut_iterations: int,
    seed: int,
    known_foreground: np.ndarray | None = None,
) -> Silhouette:
    """Downscale ``image``, find its foreground, strip thin appendages and blur the body.

    ``known_foreground`` (full resolution, bool) replaces the GrabCut silhouette: a template's
    label map already says where the specimen is, and is more trustworthy than GrabCut on a
    pale specimen on a white mount.
    """
    full_shape = image.shape[:2]
    height, width = working_shape(full_shape, working_size)
    if known_foreground is not None and np.any(known_foreground):
        mask = cv2.resize(
            np.asarray(known_foreground, np.float32), (width, height), interpolation=cv2.INTER_AREA
        ) >= 0.5
    else:
        small = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_AREA)
        mask = foreground_mask(small, iterations=grabcut_iterations, seed=seed)
    body = body_of(mask, body_radius)
    smooth = sitk.GetImageFromArray(body.astype(np.float32))
    if sigma > 0:
        smooth = sitk.SmoothingRecursiveGaussian(smooth, float(sigma))
    spacing = (width / full_shape[1], height / full_shape[0])
    origin = (0.5 * spacing[0] - 0.5, 0.5 * spacing[1] - 0.5)
    return Silhouette(mask, body, smooth, tuple(full_shape), spacing, origin)


def body_of(mask: np.ndarray, radius: int) -> np.ndarray:
    """The silhouette opened by a disc of ``radius`` px, largest part(s) kept.

    Falls back to the whole silhouette when the opening would leave nothing (a very thin or
    tiny specimen), so registration always has a shape to align.
    """
    if radius <= 0:
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
    body = clean_silhouette(opened, min_component_fraction=0.2)
    return body if body.any() else mask.copy()


def align_global(
    fixed: Silhouette,
    moving: Silhouette,
    *,
    start_angles: int,
    similarity_iterations: int,
    affine_iterations: int,
) -> sitk.Transform:
    """Multi-start similarity, then affine, on the blurred silhouettes by mean squares.

    A silhouette's moments fix its centre and scale but not its heading, so the similarity
    optimisation starts from ``start_angles`` equally spaced rotations (4: 0/90/180/270) about
    the matched centroids and the start that ends with the lowest metric wins.
    """
    centre_fixed = _centroid(fixed.mask)
    centre_moving = _centroid(moving.mask)
    scale = math.sqrt(max(moving.mask.sum(), 1) / max(fixed.mask.sum(), 1))
    best, best_value = None, math.inf
    for index in range(max(1, int(start_angles))):
        start = sitk.Similarity2DTransform()
        start.SetCenter(centre_fixed)
        start.SetTranslation(tuple(np.subtract(centre_moving, centre_fixed)))
        start.SetScale(scale)
        start.SetAngle(2 * math.pi * index / max(1, int(start_angles)))
        transform, value = _optimise(
            fixed.smooth, moving.smooth, start, similarity_iterations, shrink_factors=(4, 2)
        )
        if value < best_value:
            best, best_value = transform, value
    affine = sitk.AffineTransform(2)
    affine.SetCenter(best.GetCenter())
    affine.SetMatrix(best.GetMatrix())
    affine.SetTranslation(best.GetTranslation())
    if affine_iterations > 0:
        affine, _ = _optimise(
            fixed.smooth, moving.smooth, affine, affine_iterations, shrink_factors=(2, 1)
        )
    return affine


def deform(
    fixed: Silhouette,
    moving: Silhouette,
    global_transform: sitk.Transform,
    *,
    iterations: int,
    smoothing: float,
) -> sitk.Transform:
    """Fast symmetric-forces demons between the globally aligned silhouettes.

    Returns the composite "displacement, then global" transform (target -> template).  The
    displacement field lives on the target's working grid and is linearly interpolated, so the
    composite also applies to full-resolution grids.
    """
    if iterations <= 0:
        return global_transform
    aligned = sitk.Resample(moving.smooth, fixed.smooth, global_transform, sitk.sitkLinear, 0.0)
    demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
    demons.SetNumberOfIterations(int(iterations))
    demons.SetStandardDeviations(float(smoothing))
    demons.SetSmoothDisplacementField(True)
    field = demons.Execute(fixed.smooth, aligned)
    displacement = sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))
    # CompositeTransform applies the last transform added first: x -> global(x + d(x)).
    return sitk.CompositeTransform([global_transform, displacement])


def register(
    fixed: Silhouette,
    moving: Silhouette,
    *,
    start_angles: int,
    similarity_iterations: int,
    affine_iterations: int,
    demons_iterations: int,
    demons_smoothing: float,
) -> Alignment:
    """Global alignment then demons; quality is the Dice of the silhouettes once aligned."""
    transform = align_global(
        fixed, moving,
        start_angles=start_angles,
        similarity_iterations=similarity_iterations,
        affine_iterations=affine_iterations,
    )
    transform = deform(
        fixed, moving, transform, iterations=demons_iterations, smoothing=demons_smoothing
    )
    return Alignment(transform, silhouette_dice(fixed, moving, transform))


def silhouette_dice(fixed: Silhouette, moving: Silhouette, transform: sitk.Transform) -> float:
    """Dice overlap of the target body and the template body warped onto it."""
    moving_mask = sitk.GetImageFromArray(moving.body.astype(np.uint8))
    reference = sitk.GetImageFromArray(fixed.body.astype(np.uint8))
    warped = sitk.GetArrayFromImage(
        sitk.Resample(moving_mask, reference, transform, sitk.sitkNearestNeighbor, 0)
    ).astype(bool)
    total = warped.sum() + fixed.body.sum()
    return float(2 * (warped & fixed.body).sum() / total) if total else 0.0


def warp_maps(
    maps: np.ndarray, moving: Silhouette, fixed: Silhouette, transform: sitk.Transform
) -> np.ndarray:
    """Warp full-resolution template maps (N, h, w) onto the target's full grid (N, H, W).

    Linear interpolation of per-structure probability maps keeps thin structures as partial
    votes instead of dropping them the way nearest-neighbour label warping would.
    """
    reference = fixed.full_grid(np.zeros(fixed.full_shape, np.float32))
    warped = [
        sitk.GetArrayFromImage(
            sitk.Resample(moving.full_grid(layer), reference, transform, sitk.sitkLinear, 0.0)
        )
        for layer in maps
    ]
    return np.stack(warped) if warped else np.zeros((0, *fixed.full_shape), np.float32)


def _optimise(
    fixed: sitk.Image,
    moving: sitk.Image,
    initial: sitk.Transform,
    iterations: int,
    shrink_factors: tuple[int, ...],
) -> tuple[sitk.Transform, float]:
    """Mean-squares gradient descent over a pyramid, full sampling.

    The learning rate is re-estimated every iteration with steps of at most one working pixel:
    a fixed regular step overshoots on the affine matrix entries and diverges.

    Full sampling (no random subset) keeps the result deterministic; at ~200 px it is cheap.
    The multi-start similarity runs only on the coarse levels (the starts are compared there,
    and only the winner is refined), which is where most of the time would otherwise go.
    """
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetMetricSamplingStrategy(method.NONE)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsGradientDescent(
        learningRate=1.0, numberOfIterations=int(iterations),
        convergenceMinimumValue=1e-6, convergenceWindowSize=10,
        estimateLearningRate=method.EachIteration, maximumStepSizeInPhysicalUnits=1.0,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(shrink_factors))
    method.SetSmoothingSigmasPerLevel([max(0.0, (f - 1) / 1.5) for f in shrink_factors])
    method.SetInitialTransform(initial, inPlace=False)
    result = method.Execute(fixed, moving)
    if isinstance(result, sitk.CompositeTransform) and result.GetNumberOfTransforms() == 1:
        result = result.GetNthTransform(0)
    result = result.Downcast() if hasattr(result, "Downcast") else result
    return result, float(method.GetMetricValue())


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) centre of mass of a silhouette, in working pixels (the image centre if empty)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (mask.shape[1] - 1) / 2, (mask.shape[0] - 1) / 2
    return float(xs.mean()), float(ys.mean())
