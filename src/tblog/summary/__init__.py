"""Summary construction: pure functions, values in, ``Summary`` protos out.

One module per kind, as TensorBoard keeps ``plugins/<kind>/``. Each module
holds the plugin's metadata (plugin name, content) and its builders. Inputs
are already converted (Python numbers, numpy arrays); ``SummaryWriter``
converts user values with ``tblog._convert`` before calling these.
"""
