"""SummaryWriter methods for graphs, projector embeddings and hparams."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tblog import _convert
from tblog import _structured_args as _args
from tblog.summary import graph as graph_summary
from tblog.summary import hparams as hparams_summary
from tblog.summary import projector


class StructuredMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_write_summary``."""

    # -- graphs ---------------------------------------------------------------

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Log the graph of a ``torch.nn.Module`` for the graphs dashboard.

        The model is run once under ``torch.jit.trace`` (in eval mode, without
        gradients; each submodule's mode is restored). Nodes are grouped by
        module (``Net/Conv2d[conv1]/_convolution``), with op types, edges,
        output shapes, dtypes and devices; parameters and buffers are nodes of
        their module. Written as torch does: the ``GraphDef`` event, then run
        metadata tagged ``step1``.

        Args:
            model: the module.
            input_to_model: what ``forward`` gets: a tensor, a tuple or list
                of positional arguments, or a dict, passed as keyword
                arguments when ``forward`` takes those names and as one
                argument otherwise. Nested structures work; non-tensor values
                are fixed in the trace. None calls ``forward()``.
            verbose: print the traced graph.
            use_strict_trace: ``torch.jit.trace``'s ``strict``. Outputs are
                flattened to tensors first, so dict, tuple, named-tuple and
                dataclass outputs trace either way.

        Raises:
            TypeError: ``model`` is not a module, or the inputs don't fit ``forward``.
            GraphTraceError: (a ``RuntimeError``) tracing failed; the message
                names the model and the cause. Nothing is written.
        """
        from tblog.summary import _torch_graph

        graph = _torch_graph.trace(model, input_to_model, use_strict_trace, verbose)
        writer = self._get_file_writer()
        writer.add_event(graph_summary.graph_event(graph))
        writer.add_event(graph_summary.run_metadata_event())

    def add_onnx_graph(self, path_or_model: Any) -> None:
        """Log the graph of an ONNX model (needs the ``onnx`` package).

        Args:
            path_or_model: path of a ``.onnx`` file, its bytes, or an
                ``onnx.ModelProto``.

        Raises:
            ImportError: ``onnx`` is not installed.
            TypeError / ValueError: the argument is not an ONNX model.
        """
        from tblog.summary import _onnx_graph

        graph = _onnx_graph.graph_def_from_onnx(_onnx_graph.load(path_or_model))
        self._get_file_writer().add_event(graph_summary.graph_event(graph))

    # -- projector ------------------------------------------------------------

    def add_embedding(
        self,
        mat: Any,
        metadata: Sequence[Any] | Any | None = None,
        label_img: Any = None,
        global_step: int | None = None,
        tag: str = "default",
        metadata_header: Sequence[str] | None = None,
    ) -> None:
        """Save an embedding for the projector dashboard.

        Writes ``tensors.tsv`` (and ``metadata.tsv``, ``sprite.png``) under
        ``{log_dir}/{step:05d}/{tag}/`` and adds an entry named
        ``"{tag}:{step:05d}"`` to ``{log_dir}/projector_config.pbtxt``. The
        config is merged, not rewritten: entries of other tags, steps and
        writers stay; one with the same name is replaced.

        Escaping: in the directory name every character of ``tag`` other than
        ``A-Z a-z 0-9 _ . - ~`` is percent-encoded (``"a/b"`` -> ``a%2Fb``;
        an all-dots tag has its dots encoded), so no tag leaves ``log_dir``.
        In ``metadata.tsv`` tabs and line breaks inside a label become spaces,
        and a blank row is written as ``(empty)`` (the projector skips blank
        lines, which would shift every later label).

        Args:
            mat: ``(N, D)`` numbers (numpy, torch, JAX, lists); saved as float32.
            metadata: N labels, or N rows of columns with ``metadata_header``.
            label_img: ``(N, C, H, W)`` (or ``(N, H, W)``) images, C in 1, 3, 4;
                floats in [0, 1] or uint8. Non-square images are padded; cells
                shrink so the sprite stays within the projector's 8192 px.
            global_step: the step; see ``auto_step`` for None.
            tag: the embedding's name.
            metadata_header: column names for rows of several columns (a
                one-column header is not written: the projector reads a
                tab-less first line as a label).

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: wrong shapes or lengths, or a tag or label that is not
                valid Unicode (a lone surrogate). Nothing is written.
        """
        if type(tag) is not str or not tag:
            raise TypeError(f"add_embedding: tag must be a non-empty str, got {tag!r}")
        _args.check_text(tag, "add_embedding: tag")
        where = f"add_embedding(tag={tag!r})"
        vectors = _args.embedding_matrix(mat, where)
        rows = _args.metadata_rows(metadata, metadata_header, vectors.shape[0], where)
        labels = None
        if rows is not None:
            try:
                labels = projector.metadata_tsv(rows, metadata_header)
            except UnicodeEncodeError as exc:
                raise ValueError(f"{where}: metadata is not valid Unicode: {exc}") from None
        sprite = None
        if label_img is not None:
            sprite = projector.sprite_png(_args.label_images(label_img, vectors.shape[0], where))
        step = self._step(f"\0embedding\0{tag}", global_step)
        writer = self._get_file_writer()  # the projector lists only runs with event files
        logdir = writer.get_logdir()
        directory = os.path.join(logdir, *projector.subdir(tag, step).split("/"))
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "tensors.tsv"), "wb") as file:
            for chunk in projector.tensor_tsv_chunks(vectors):
                file.write(chunk)
        if labels is not None:
            with open(os.path.join(directory, "metadata.tsv"), "wb") as file:
                file.write(labels)
        if sprite is not None:
            with open(os.path.join(directory, "sprite.png"), "wb") as file:
                file.write(sprite[0])
        info = projector.embedding_info(
            tag, step, vectors.shape, rows is not None, None if sprite is None else sprite[1]
        )
        projector.merge_config(logdir, info)

    # -- hparams --------------------------------------------------------------

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any] | None = None,
        hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
        *,
        in_run: bool = False,
    ) -> None:
        """Record hyperparameters and metrics for the hparams dashboard.

        As torch: the experiment, session-start and session-end summaries go
        to a sub-run ``{log_dir}/{run_name or time.time()}``, and each metric
        is logged there with ``add_scalar``. With ``in_run=True`` (or
        ``run_name="."``) they go to this writer's own run instead, so the
        hparams sit next to the curves you log (no extra run).

        Calling again for the same run logs the new metric values (at the next
        step when ``global_step`` is None), giving a metric history; the
        hparams themselves must stay the same, because TensorBoard shows the
        first ones a run recorded.

        The dashboard's columns come from the experiment of one run, which
        TensorBoard picks arbitrarily. Each experiment this writer records
        lists every hparam and metric it has recorded so far, but runs from
        other writers or processes only know their own: give every run the
        same hparam and metric names (a metric may be None).

        Args:
            hparam_dict: name -> value: str, bool (a BOOL column), int or float
                (FLOAT64), or a one-element numpy/torch/JAX value. None values
                are skipped.
            metric_dict: metric tag -> value (a number) or None, which lists
                the tag as a metric column without logging a value (use it
                for a series you already log with ``add_scalar``). Optional.
            hparam_domain_discrete: name -> the values that hparam may take.
            run_name: the sub-run's directory under ``log_dir``; relative,
                without ``..``.
            global_step: the step of the metric values (and the hparams
                summaries); None: the metric tag's next auto step.
            in_run: record in this writer's run rather than a sub-run.

        Raises:
            TypeError: an unsupported value type (naming the key).
            ValueError: a bad run name (absolute, ``..``, a part over 255
                bytes), a non-finite hparam, text that is not valid Unicode, or
                hparams that differ from those already recorded for the run.
                Nothing is written.
        """
        hparams = _args.convert_hparams(hparam_dict)
        metrics = _args.convert_metrics(metric_dict)
        domains = _args.convert_domains(hparam_domain_discrete, hparams)
        relative = _args.hparams_run(run_name, in_run)
        step = None if global_step is None else _convert.to_step(global_step)
        writer = self._get_file_writer()
        run_dir = self.log_dir if relative is None else os.path.join(self.log_dir, relative)
        recorded = self.__dict__.setdefault("_hparams_recorded", {})
        if run_dir in recorded and recorded[run_dir] != hparams:
            raise ValueError(
                f"add_hparams: run {relative or '.'!r} already recorded different hparams "
                f"({recorded[run_dir]}); TensorBoard shows only the first, use another run_name"
            )
        if relative is not None:
            writer = self._hparams_file_writer(run_dir)
        if run_dir not in recorded:
            # TensorBoard takes the dashboard's columns from ONE run's experiment,
            # picked arbitrarily, so each experiment lists every hparam, metric and
            # domain this writer has recorded so far, not just this call's.
            known = self.__dict__.setdefault("_hparams_columns", ({}, {}, {}))
            for seen, new in zip(known, (hparams, metrics, domains), strict=True):
                for key, value in new.items():
                    seen.setdefault(key, value)
            now = time.time()
            for summary in (
                hparams_summary.experiment(known[0], list(known[1]), known[2], now),
                hparams_summary.session_start(hparams, now),
                hparams_summary.session_end("success", now),
            ):
                writer.add_summary(summary, step or 0)
            recorded[run_dir] = hparams
        for tag, value in metrics.items():
            if value is not None:
                key = tag if relative is None else f"\0hparams\0{relative}\0{tag}"
                metric_step = step if step is not None else self._step(key, None)
                writer.add_record(self._scalar_encoder.encode(tag, value, metric_step, time.time()))
        writer.flush()  # torch's sub-run writer is closed at once: show it now too

    def _hparams_file_writer(self, run_dir: str) -> Any:
        from tblog.writer import FileWriter

        writer = self.all_writers.get(run_dir)
        if writer is None or writer.closed:
            writer = FileWriter(run_dir, self._max_queue, self._flush_secs, self._filename_suffix)
            self.all_writers[run_dir] = writer
        return writer
