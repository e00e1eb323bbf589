"""Synthetic multi-rate naturalness corpus in the real AudioMOS 2025 Track 3 and BVCC layouts.

    python -m sfi_mos.data.synth --out DIR --size tiny|demo|full --seed N [--rates 16000,24000,48000]

``generate(out, size, seed, rates, voices)`` writes DIR/track3, DIR/bvcc, DIR/unlabelled, DIR/probe
(blind-spot twins, ``twins``), DIR/manifest.csv and DIR/manifest.json; ``fingerprint(DIR)`` returns its content hash.
"""
from .corpus import DEFAULT_RATES, GENERATOR_VERSION, fingerprint, generate
from .plan import SIZES, SizeSpec

__all__ = ["generate", "fingerprint", "GENERATOR_VERSION", "DEFAULT_RATES", "SIZES", "SizeSpec"]
