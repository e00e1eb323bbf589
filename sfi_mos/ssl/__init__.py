"""SSL teachers through s3prl and SFI students built from them.

* ``write_tiny_checkpoints(out_dir, size, seed, kinds)``: random-init (NOT pretrained) wav2vec2/HuBERT/WavLM
  checkpoints in s3prl's own formats, ``tiny`` or the real ``base`` architectures, so s3prl's real loading
  path runs offline.
* ``load_teacher(TeacherSpec) -> Teacher``: frozen 16 kHz model, ``forward(wavs, lengths) -> (hidden
  states [(B, F, H)], frame_lengths (B,))``, ``.hidden_size``, ``.num_layers``.
* ``SFIStudent``: the teacher's model class with an SFI waveform conv; ``set_sample_rate``, ``forward``,
  ``save``/``load``.
"""
from .checkpoints import write_tiny_checkpoints
from .student import SFIStudent
from .teacher import Teacher, load_teacher

__all__ = ["write_tiny_checkpoints", "load_teacher", "Teacher", "SFIStudent"]
