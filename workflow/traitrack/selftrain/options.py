"""Options of self-training as typed, frozen objects (the schema's ``self_training`` section).

Each field's meaning, type, range and default live in ``workflow/schemas/config.schema.yaml``
and config/README.md; :class:`traitrack.config.SchemaOptions` takes them from there, so no
value has a second copy here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from traitrack.config import SchemaOptions

PREDICTION_ONLY = ("teacher_weight", "test_flips")
"""``self_training.student`` keys used when the student predicts, never when the first
generation trains: a change keeps a saved training state (:meth:`StudentOptions.fingerprint`)
and, with one generation, reruns ``predict_student`` alone
(:func:`traitrack.settings.rule_settings`, :meth:`StudentOptions.prediction_only`)."""


@dataclass(frozen=True)
class StudentOptions(
    SchemaOptions, section=("self_training", "student"), label="self_training.student"
):
    """The config's ``self_training.student`` section (see the schema for each field)."""

    enabled: bool
    size: int
    encoder: str
    pretrained: bool
    channels: tuple[int, ...]
    steps: int
    epochs: int
    batch_size: int
    lr: float
    encoder_lr: float
    warmup: float
    weight_decay: float
    template_share: float
    boundary_px: float
    spare_thin_parts: bool
    refine_from: float
    disagreement_weight: float
    generations: int
    rotate_deg: float
    scale: float
    colour: float
    flips: bool
    init_weights: str
    teacher_weight: float
    test_flips: bool
    bulk: bool
    bulk_sample: int

    def total_epochs(self, images_per_epoch: int) -> int:
        """``epochs`` when set, else the fewest whole epochs that make ``steps`` steps.

        A budget in steps keeps the training's length (and cost) the same for a species of
        40 training images and one of 400; whole epochs keep resuming per epoch.
        """
        if self.epochs:
            return self.epochs
        batches = max(1, math.ceil(images_per_epoch / self.batch_size))
        return max(1, math.ceil(self.steps / batches))

    def refine_epoch(self, total_epochs: int) -> int:
        """The first epoch (0-based) whose pseudo-labels lose weight where the student
        disagrees with the teacher."""
        return int(round(self.refine_from * total_epochs))

    def prediction_only(self) -> tuple[str, ...]:
        """The keys that leave the trained weights alone: ``PREDICTION_ONLY``, except
        ``teacher_weight`` when later generations learn from labels fused at it."""
        if self.generations > 1:
            return tuple(k for k in PREDICTION_ONLY if k != "teacher_weight")
        return PREDICTION_ONLY

    def fingerprint(self) -> dict:
        """The options that decide one generation's trained weights: not ``enabled`` (whether
        to train), ``generations`` (how many trainings; a later one's labels are in its
        samples) nor the ``PREDICTION_ONLY`` keys (used when predicting)."""
        config = dataclasses.asdict(self)
        for key in ("enabled", "generations", *PREDICTION_ONLY):
            config.pop(key)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


@dataclass(frozen=True)
class SelfTrainingOptions(SchemaOptions, section="self_training", label="self_training"):
    """The config's ``self_training`` section (see the schema for each field)."""

    rounds: int
    pseudo_share: float
    pseudo_weight: float
    keep_hand_made: int
    allow_gt_targets: bool
    student: StudentOptions = dataclasses.field(default_factory=StudentOptions)

    @classmethod
    def from_config(cls, section) -> SelfTrainingOptions:
        """The options of a ``self_training`` section, the schema's defaults where it is silent.

        Parameters
        ----------
        section : Mapping or None
            The config's ``self_training`` section.

        Returns
        -------
        SelfTrainingOptions
            The options, ``student`` as :class:`StudentOptions`.

        Raises
        ------
        traitrack.config.OptionsError
            If a key is unknown or a value unusable; the message names every one.
        """
        values = dict(section or {})
        cls.check_keys(values)
        student = StudentOptions.from_config(values.pop("student", None))
        return cls(**values, student=student)
