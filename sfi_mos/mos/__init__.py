"""MOS prediction model: backbones (SFI student | resampling baseline | + SR embedding) and the listener head."""
from .backbone import Backbone, build_backbone
from .head import MOSHead, to_mos, to_norm
from .model import MOSModel

__all__ = ["Backbone", "build_backbone", "MOSHead", "MOSModel", "to_mos", "to_norm"]
