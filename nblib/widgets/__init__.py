"""Step-by-step widgets whose frames are precomputed in Python and played in the browser.

``Stepper`` is the generic widget (renderers 'graph', 'matrix', 'bars'); subclasses such as
``BackpropStepper`` only build frames. They work live in Jupyter and in the static book.
"""
from .stepper import MAX_JSON_BYTES, RENDERERS, Stepper, jsonable, validate_frames
from .backprop import BackpropStepper, backprop_frames

__all__ = ["Stepper", "BackpropStepper", "backprop_frames", "jsonable", "validate_frames",
           "RENDERERS", "MAX_JSON_BYTES"]
