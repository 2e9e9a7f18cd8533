"""Summary construction: pure functions, converted values in, serialized ``Summary`` out.

One module per kind, as TensorBoard keeps ``plugins/<kind>/``: the plugin's
metadata (plugin name, content), checks of already converted values
(``prepare_*``, ``check_*``) and the builder, ``summary(...)``, which returns
the ``Summary`` as bytes. Inputs are already converted (Python numbers, numpy
arrays): ``SummaryWriter`` and ``tblog.torch_summary`` convert user values
with ``tblog._convert`` first. Nothing here does I/O.
"""
