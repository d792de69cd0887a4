"""The ``sam2`` engine (GPU): SAM 2.1's video predictor carries the templates' masks.

``engine`` is the protocol's face, ``tracker`` steps the model frame by frame, ``features``
caches image-encoder outputs, ``model`` builds and loads the network, ``letterbox`` maps any
frame into the model's square input and back.  Nothing is imported here, so that
``import traitrack.letterbox`` does not build the model's imports.
"""
