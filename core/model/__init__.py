"""CG-MuAlign itself: configuration (``config``), layer 0 (``inputs``), the layers, one per file
(``layers/``), the encoder (``cg_mualign``), the device choice (``device``) and its construction from
a dataset (``setup``). May import core.data, core.formats, core.features, core.sampling."""
