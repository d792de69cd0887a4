"""Image features computed once per image and job: a bounded in-memory cache spilling to disk.

The image encoder is by far the most expensive step of SAM 2, and the same image is seen many
times in a job: templates in every chunk, every target again in its QC round trip.  Features
are therefore computed once and kept, but memory must not grow with the size of a species: only
the most recently used ``in_memory`` images stay in RAM (templates, used by every chunk, stay
hot); the others are written to a spill directory (a temporary one, deleted on ``close``, or a
persistent ``cache_dir`` that later jobs can reuse) and read back on demand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class ImageFeatures:
    """The three backbone feature levels of one letterboxed image, as SAM 2's ``backbone_fpn``.

    Levels 0 and 1 are already projected by the mask decoder's ``conv_s0``/``conv_s1`` (what
    ``SAM2Base.forward_image`` returns); level 2 is the stride-16 ``vision_features``.  The
    positional encodings are the same for every image and live in the tracker, not here.

    Attributes
    ----------
    levels : tuple of torch.Tensor
        The three levels, each (1, C, h, w), finest first.
    """

    levels: tuple[torch.Tensor, ...]

    def nbytes(self) -> int:
        """Return the bytes the levels occupy.

        Returns
        -------
        int
            The sum over the levels.
        """
        return sum(level.numel() * level.element_size() for level in self.levels)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> ImageFeatures:
        """Return the features moved to ``device`` (and cast to ``dtype``).

        Parameters
        ----------
        device : torch.device or str
            Where the levels go.
        dtype : torch.dtype, optional
            Their new dtype; unchanged when None.

        Returns
        -------
        ImageFeatures
            New features; levels already on ``device`` in ``dtype`` are not copied.
        """
        return ImageFeatures(tuple(level.to(device=device, dtype=dtype) for level in self.levels))


def image_key(name: str, image: np.ndarray) -> str:
    """Return a cache key naming the specimen and fingerprinting its pixels.

    A changed image gets a new key, so the cache never hands out stale features.

    Parameters
    ----------
    name : str
        The specimen's name (made file-name safe and cut to 80 characters).
    image : numpy.ndarray
        The image whose pixels are hashed.

    Returns
    -------
    str
        ``<name>-<H>x<W>-<sha1 prefix>``.
    """
    digest = hashlib.sha1(np.ascontiguousarray(image).data).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    return f"{safe}-{image.shape[0]}x{image.shape[1]}-{digest}"


@dataclass
class CacheStats:
    """How features were obtained; tests use it to prove 'encoded once per job'.

    Attributes
    ----------
    encoded : int
        Misses that ran the encoder.
    memory_hits : int
        Features found in RAM.
    disk_hits : int
        Features read back from the spill directory.
    spilled : int
        Features written to the spill directory.
    """

    encoded: int = 0
    memory_hits: int = 0
    disk_hits: int = 0
    spilled: int = 0


class FeatureCache:
    """Features by key: RAM (least recently used evicted) -> spill directory -> encoder.

    Parameters
    ----------
    encode : callable
        Computes features of one image (called on a miss only).
    in_memory : int
        How many images' features stay in RAM; bounds the job's memory.
    storage_device : torch.device or str
        Where cached features are kept (the CPU).
    storage_dtype : torch.dtype
        How cached features are kept (bfloat16 halves the footprint if wanted).
    cache_dir : str or Path, optional
        Persistent spill directory (shared across jobs); None for a temporary one.
    model_tag : str
        Names the model in spilled file names, so a persistent directory never hands features
        of one model to another.
    """

    def __init__(
        self,
        encode: Callable[[np.ndarray], ImageFeatures],
        in_memory: int = 16,
        storage_device: torch.device | str = "cpu",
        storage_dtype: torch.dtype = torch.float32,
        cache_dir: str | Path | None = None,
        model_tag: str = "sam2",
    ):
        if in_memory < 1:
            raise ValueError(f"sam2 features_in_memory must be >= 1, got {in_memory}")
        self.encode = encode
        self.in_memory = in_memory
        self.storage_device = torch.device(storage_device)
        self.storage_dtype = storage_dtype
        self.model_tag = model_tag
        self.stats = CacheStats()
        self._memory: OrderedDict[str, ImageFeatures] = OrderedDict()
        self._on_disk: set[str] = set()
        self._temporary: str | None = None
        if cache_dir:
            self.spill_dir = Path(cache_dir)
            self.spill_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._temporary = tempfile.mkdtemp(prefix="traitrack-sam2-features-")
            self.spill_dir = Path(self._temporary)
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._temporary, True)

    def get(self, key: str, image: np.ndarray) -> ImageFeatures:
        """Return the features of ``image``, computing them only if neither RAM nor disk has them.

        Parameters
        ----------
        key : str
            The image's cache key (:func:`image_key`).
        image : numpy.ndarray
            The image, encoded on a miss.

        Returns
        -------
        ImageFeatures
            On the storage device, in the storage dtype.
        """
        if key in self._memory:
            self._memory.move_to_end(key)
            self.stats.memory_hits += 1
            return self._memory[key]
        path = self._path(key)
        if path.is_file():
            features = ImageFeatures(
                tuple(torch.load(path, map_location=self.storage_device, weights_only=True))
            )
            self._on_disk.add(key)
            self.stats.disk_hits += 1
        else:
            features = self.encode(image).to(self.storage_device, self.storage_dtype)
            self.stats.encoded += 1
            if self._temporary is None:  # persistent directory: later jobs reuse it at once
                self._spill(key, features)
        self._remember(key, features)
        return features

    def __len__(self) -> int:
        return len(self._memory)

    def memory_bytes(self) -> int:
        """Return the bytes the features held in RAM occupy.

        Returns
        -------
        int
            The sum over the cached images.
        """
        return sum(features.nbytes() for features in self._memory.values())

    def close(self) -> None:
        """Drop the RAM cache and delete a temporary spill directory."""
        self._memory.clear()
        if self._temporary is not None:
            self._finalizer()

    def _path(self, key: str) -> Path:
        # the storage dtype too: bfloat16 features read by a float32 engine would not be
        # the features it computes itself
        dtype = str(self.storage_dtype).replace("torch.", "")
        return self.spill_dir / f"{self.model_tag}-{dtype}-{key}.pt"

    def _remember(self, key: str, features: ImageFeatures) -> None:
        self._memory[key] = features
        while len(self._memory) > self.in_memory:
            old_key, old = self._memory.popitem(last=False)
            if old_key not in self._on_disk:
                self._spill(old_key, old)

    def _spill(self, key: str, features: ImageFeatures) -> None:
        path = self._path(key)
        # a name of its own: jobs sharing a persistent directory may spill the same image at once
        handle, temporary = tempfile.mkstemp(dir=self.spill_dir, prefix=path.stem, suffix=".part")
        os.close(handle)
        torch.save([level.cpu() for level in features.levels], temporary)
        os.replace(temporary, path)
        self._on_disk.add(key)
        self.stats.spilled += 1
