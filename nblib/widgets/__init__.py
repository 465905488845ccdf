"""Step-by-step widgets whose frames are precomputed in Python and played in the browser.

``Stepper`` is the generic widget (renderers 'graph', 'matrix', 'bars'); subclasses such as
``BackpropStepper`` only build frames. They work live in Jupyter and in the static book.
"""
from .stepper import MAX_JSON_BYTES, RENDERERS, Stepper, jsonable, validate_frames
from .backprop import BackpropStepper, backprop_frames
from .attention import AttentionStepper, attention_frames
from .conv import ConvStepper, conv_frames
from .bptt import BPTTStepper, bptt_frames

__all__ = ["Stepper", "BackpropStepper", "backprop_frames", "jsonable", "validate_frames",
           "RENDERERS", "MAX_JSON_BYTES"]
__all__ += ["AttentionStepper", "attention_frames"]
__all__ += ["ConvStepper", "conv_frames"]
__all__ += ["BPTTStepper", "bptt_frames"]
