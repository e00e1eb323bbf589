"""SSL teachers through s3prl and SFI students built from them.

* ``write_tiny_checkpoints(out_dir, size, seed, kinds)``: random-init (NOT pretrained) wav2vec2/HuBERT/WavLM
  checkpoints in s3prl's own formats, ``tiny`` or the real ``base`` architectures, so s3prl's real loading
  path runs offline.
* ``load_teacher(TeacherSpec) -> Teacher``: frozen 16 kHz model, ``forward(wavs, lengths) -> (hidden
  states [(B, F, H)], frame_lengths (B,))``, ``.hidden_size``, ``.num_layers``.
* ``SFIStudent``: the teacher's model class with an SFI waveform conv; ``set_sample_rate``, ``forward``,
  ``save``/``load``.

s3prl's models still use torch's deprecated ``weight_norm`` and ``jit.script_method`` (a FutureWarning
per model built) and its hub logs that ESPnet is missing (we never use that upstream): library noise
on every normal run, silenced here by exact message/logger so that any other warning still shows.
"""
import logging
import warnings

warnings.filterwarnings("ignore", message=r"`torch\.nn\.utils\.weight_norm` is deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script_method` is deprecated", category=FutureWarning)
logging.getLogger("s3prl.upstream.espnet_hubert.expert").setLevel(logging.ERROR)

from .checkpoints import write_tiny_checkpoints  # noqa: E402
from .student import SFIStudent  # noqa: E402
from .teacher import Teacher, load_teacher  # noqa: E402

__all__ = ["write_tiny_checkpoints", "load_teacher", "Teacher", "SFIStudent"]
