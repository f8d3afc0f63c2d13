"""User controls on top of the meta network and its transformation nets (issue 14).

Each module produces a net (an ``nn.Module``: RGB 0..255 NCHW in, RGB 0..255 out) or operates on one, and
hands it to the export stage (``mobilestyle.export.export(net, ...)``) like any other net:

- ``mixing``: one net from several styles (the meta network's hidden space, or the emitted weights).
- ``colors``: ``PreserveColors``, a wrapper that keeps the photo's chroma (YCbCr BT.601) in plain ops.
- ``detail``: ``KeepDetail``, a wrapper that adds back the photo's luma high-pass (fine detail) in plain ops.
- ``noise``: a net from a random hidden code (a Gaussian fitted to the training styles).
- ``tiles``: high-resolution stylization by tiles with instance-norm statistics fixed from a downscaled pass.
- ``refine``: a few steps of per-style training started from the emitted net (MetaStyle's adaptation).
- ``wrapper``: ``NetWrapper``, the base of the wrappers (architecture and metadata pass through).
- ``build``: what the CLI's options (`export --mix/--random/--preserve-colors/--keep-detail/--refine`, `stylize --tile`) make of them.
"""
