"""The high-band probe: does a model hear what resampling to 16 kHz throws away?

Blind-spot twins (``sfi_mos.data.synth.twins``) are clip pairs identical below 10 kHz that differ only
above it. A model that resamples to 16 kHz sees (nearly) the same input for both twins, so its twin
difference is ~0; a native-rate model may tell them apart. Modules:

* ``data``: the probe set as audio (a synthetic corpus's probe folder, or twins made from a Track 3
  corpus's eval clips);
* ``score``: fold-ensemble predictions and pooled backbone features of both twins, 16 kHz identity;
* ``metrics``: mean twin difference, pair accuracy, feature distance, twin-group bootstrap CIs;
* ``frontend``: share of the SFI analog filters' response energy above 8 kHz along the pipeline.

The grid stage is ``sfi_mos.train.probe_stage``; offline third-party predictors are ``sfi_mos.peers``.
"""
