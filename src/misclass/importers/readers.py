"""Readers for foreign prediction files. Each returns a :class:`ForeignPredictions` or raises
one :class:`~misclass.errors.InputError` naming the file, the row and what was expected.

- timm's inference CSV: no header, ``file_name,pred_1[,...,pred_k][,target]``;
- a table with a header (CSV or Parquet): ``sample_id``, optional ``label``, and ``pred`` or
  ``topk_ids`` (optionally ``topk_probs``); list cells in a CSV are written ``"[3, 5, 1]"``
  or ``"3 5 1"``;
- a ``.npy`` probability or logit matrix (N, C) with a file of sample ids;
- a list of predicted classes, one per sample in a given order: a JSON list, a text file with
  one class id a line, or a ``.npy`` integer vector, with a file of sample ids or in the store's
  own sample order (``sample_ids`` None until the importer, under the store's lock, fills it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from misclass.errors import InputError
from misclass.validation import check_probability_matrix


@dataclass(frozen=True)
class ForeignPredictions:
    """Predictions read from a file, rows in the file's order.

    ``sample_ids`` None: the rows are in the store's sample order (``--store-order``).
    ``per_image``: extra per-image columns for the model's ``per_image.parquet``.
    """

    name: str
    source: str
    sample_ids: np.ndarray | None
    topk_ids: np.ndarray
    topk_probs: np.ndarray | None = None
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None
    logits: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    per_image: pd.DataFrame | None = None


def _read_csv_strings(path: Path, **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: the file is empty") from exc
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[-1]
        raise InputError(f"{path}: malformed CSV: {msg}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text CSV file ({exc.reason})") from exc


def _int_column(values: pd.Series, path: Path, field_name: str, row_offset: int) -> np.ndarray:
    """Parse a column of strings as ints; the first bad cell is an error naming its row."""
    nums = pd.to_numeric(values, errors="coerce")
    arr = nums.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        i = int(np.argmax(bad))
        cell = values.iloc[i]
        if cell == "":
            raise InputError(
                f"{path}: row {i + row_offset}: {field_name} is missing (truncated file or a "
                "row with too few fields?)"
            )
        raise InputError(f"{path}: row {i + row_offset}, {field_name}: {cell!r} is not an integer")
    return arr.astype(np.int64)


def _check_ids(ids: pd.Series, path: Path, row_offset: int) -> np.ndarray:
    empty = (ids.str.strip() == "").to_numpy()
    if empty.any():
        raise InputError(f"{path}: row {int(np.argmax(empty)) + row_offset}: empty sample id")
    return ids.to_numpy(dtype=object)


def read_timm_csv(path: str | Path, *, target_column: bool | None = None,
                  name: str | None = None) -> ForeignPredictions:
    """Read timm's ``inference.py`` CSV (no header).

    ``target_column``: True when the last column is the target, False when every column after
    the file name is a prediction, None to decide from the file's shape: two columns have no
    target; otherwise the last column is a target when some row repeats one of its
    predictions there (ranked predictions are distinct), and anything else is ambiguous and
    an error asking for the flag.
    """
    path = Path(path)
    table = _read_csv_strings(path, header=None)
    ncols = table.shape[1]
    if ncols < 2:
        raise InputError(f"{path}: expected file_name,pred_1[,...,pred_k][,target] (at least 2 "
                         f"columns), found {ncols}")
    def _is_int(v: str) -> bool:
        return bool(re.fullmatch(r"\s*-?\d+\s*", str(v)))

    if len(table) > 1 and not _is_int(table.iloc[0, 1]) and _is_int(table.iloc[1, 1]):
        raise InputError(
            f"{path}: row 1 looks like a header ({', '.join(map(str, table.iloc[0].tolist()))}); "
            "timm CSVs have none: use 'misclass import table' for files with a header"
        )
    ids = _check_ids(table[0], path, 1)
    cols = np.stack(
        [_int_column(table[c], path, f"column {c + 1}", 1) for c in range(1, ncols)], axis=1
    )
    decided = "given"
    if target_column is None:
        if ncols == 2:
            target_column, decided = False, "the file has two columns"
        else:
            repeats = (cols[:, :-1] == cols[:, -1:]).any(axis=1)
            if repeats.any():
                target_column = True
                decided = f"it repeats a prediction in {int(repeats.sum())} rows"
            else:
                raise InputError(
                    f"{path}: {ncols} columns could be top-{ncols - 1} predictions or top-"
                    f"{ncols - 2} plus a target; pass --target-column or --no-target-column"
                )
    if target_column and ncols < 3:
        raise InputError(f"{path}: --target-column needs at least 3 columns, found {ncols}")
    topk = cols[:, :-1] if target_column else cols
    labels = cols[:, -1] if target_column else None
    if topk.shape[1] > 1:
        s = np.sort(topk, axis=1)
        dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if dup.any():
            hint = "" if target_column else "; is the last column a target? pass --target-column"
            raise InputError(f"{path}: row {int(np.argmax(dup)) + 1} repeats a class id in its "
                             f"top-{topk.shape[1]} predictions{hint}")
    neg = (topk < 0).any(axis=1) | ((labels < 0) if labels is not None else False)
    if np.any(neg):
        raise InputError(f"{path}: row {int(np.argmax(neg)) + 1}: class ids must be >= 0")
    return ForeignPredictions(
        name=name or path.name.split(".")[0],
        source=str(path),
        sample_ids=ids,
        topk_ids=topk,
        labels=labels,
        metadata={"source": "timm-csv", "file": str(path.resolve()),
                  "target_column": bool(target_column), "target_column_decided": decided},
    )


def _parse_list_cell(cell: Any, path: Path, row: int, field_name: str) -> list[float]:
    if isinstance(cell, list | tuple | np.ndarray):
        return list(cell)
    text = str(cell).strip().strip("[]()")
    parts = [p for p in re.split(r"[,;\s]+", text) if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{path}: row {row}, {field_name}: {cell!r} is not a list of numbers") \
            from None


def _list_column(series: pd.Series, path: Path, field_name: str, row_offset: int) -> np.ndarray:
    lists = [_parse_list_cell(c, path, i + row_offset, field_name) for i, c in enumerate(series)]
    lengths = {len(x) for x in lists}
    if len(lengths) != 1 or 0 in lengths:
        k = len(lists[0])
        i = next((i for i, x in enumerate(lists) if len(x) != k or not x), 0)
        raise InputError(f"{path}: row {i + row_offset}, {field_name}: expected {k} values like "
                         f"row {row_offset}, found {len(lists[i])}")
    return np.asarray(lists, dtype=np.float64)


def read_table(path: str | Path, *, name: str | None = None) -> ForeignPredictions:
    """Read a CSV or Parquet table with a header: ``sample_id``, optional ``label``, and either
    ``pred`` or ``topk_ids`` (with optional ``topk_probs``).
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
        row_offset = 1
    else:
        table = _read_csv_strings(path)
        row_offset = 2  # the header is line 1
    if table.empty:
        raise InputError(f"{path}: no rows")
    if "sample_id" not in table.columns:
        found = ", ".join(map(str, table.columns))
        raise InputError(f"{path}: missing column 'sample_id' (columns: {found})")
    ids = _check_ids(table["sample_id"].astype(str), path, row_offset)
    if "topk_ids" in table.columns:
        topk_f = _list_column(table["topk_ids"], path, "topk_ids", row_offset)
        bad = topk_f != np.round(topk_f)
        if bad.any():
            raise InputError(f"{path}: row {int(np.argmax(bad.any(axis=1))) + row_offset}, "
                             "topk_ids: expected integer class ids")
        topk = topk_f.astype(np.int64)
    elif "pred" in table.columns:
        topk = _int_column(table["pred"].astype(str), path, "pred", row_offset)[:, None]
    else:
        raise InputError(f"{path}: expected a 'pred' or a 'topk_ids' column")
    probs = None
    if "topk_probs" in table.columns:
        probs = _list_column(table["topk_probs"], path, "topk_probs", row_offset)
        if probs.shape != topk.shape:
            raise InputError(f"{path}: topk_probs has {probs.shape[1]} values per row, topk_ids "
                             f"{topk.shape[1]}")
    labels = None
    if "label" in table.columns:
        labels = _int_column(table["label"].astype(str), path, "label", row_offset)
    if (topk < 0).any():
        raise InputError(f"{path}: row {int(np.argmax((topk < 0).any(axis=1))) + row_offset}: "
                         "class ids must be >= 0")
    return ForeignPredictions(
        name=name or path.name.split(".")[0], source=str(path), sample_ids=ids, topk_ids=topk,
        topk_probs=probs, labels=labels,
        metadata={"source": "table", "file": str(path.resolve())},
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def topk_from_probs(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` class ids (ties broken by lower id) and their probabilities, descending.

    Below the first rank, classes with probability 0 are not predictions: their id is -1.

    >>> ids, p = topk_from_probs(np.array([[0.1, 0.6, 0.3]]), 2)
    >>> ids.tolist(), [round(float(x), 2) for x in p[0]]
    ([[1, 2]], [0.6, 0.3])
    """
    probs = np.asarray(probs)
    k = min(k, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(probs, order, axis=1).astype(np.float32)
    ids = order.astype(np.int32)
    ids[:, 1:][top[:, 1:] <= 0] = -1  # a class with probability 0 is no ranked prediction
    return ids, top


def read_npy(path: str | Path, ids_path: str | Path, *, logits: bool = False, k: int = 5,
             name: str | None = None) -> ForeignPredictions:
    """Read an (N, C) probability (or, with ``logits``, logit) matrix and its sample ids.

    ``ids_path`` is a text file with one sample id per line, or a CSV with a header holding
    ``sample_id`` and optionally ``label``.
    """
    from misclass.data.arrays import read_npy_array

    path = Path(path)
    matrix = read_npy_array(path)
    source = str(path)
    probs = softmax(matrix) if logits and matrix.ndim == 2 else matrix
    probs = check_probability_matrix(probs, source)
    ids, labels = ids_for_rows(path, len(probs), ids_path)
    topk, tprobs = topk_from_probs(probs, k)
    return ForeignPredictions(
        name=name or path.name.split(".")[0], source=source, sample_ids=ids, topk_ids=topk,
        topk_probs=tprobs, labels=labels, probs=probs.astype(np.float32),
        logits=np.asarray(matrix, dtype=np.float32) if logits else None,
        metadata={"source": "npy", "file": str(path.resolve()), "logits": logits},
    )


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file, trailing blank lines dropped; clear errors for a missing,
    empty or binary file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file ({exc.reason})") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(f"{path}: the file is empty")
    return lines


def read_ids(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample ids (and labels, when given) from a text file with one id a line, or a CSV with
    a header holding ``sample_id`` (or ``file_name``) and optionally ``label``."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        table = _read_csv_strings(path)
        key = "sample_id" if "sample_id" in table.columns else "file_name"
        if key not in table.columns:
            raise InputError(f"{path}: missing column 'sample_id' (or 'file_name'); columns: "
                             f"{', '.join(map(str, table.columns))}")
        ids = _check_ids(table[key], path, 2)
        labels = _int_column(table["label"], path, "label", 2) if "label" in table.columns else None
        return ids, labels
    return _check_ids(pd.Series(_text_lines(path), dtype=str), path, 1), None


def ids_for_rows(path: Path, n_rows: int, ids_path: str | Path | None
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The sample ids (and labels) of a file's ``n_rows`` rows from ``ids_path`` (see
    :func:`read_ids`); (None, None) without one: the rows are in the store's order. A count
    that differs from the rows' is one message."""
    if ids_path is None:
        return None, None
    ids, labels = read_ids(ids_path)
    if n_rows != len(ids):
        raise InputError(f"{path}: {n_rows:,} rows but {ids_path} lists {len(ids):,} sample ids; "
                         "each row needs one sample id, in the same order")
    return ids, labels


def _list_values(path: Path) -> np.ndarray:
    """The predicted classes of a JSON list, a ``.npy`` vector or a text file, as int64."""
    from misclass.data.arrays import read_npy_array, whole_numbers

    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = read_npy_array(path)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise InputError(f"{path}: expected a vector of predicted class ids, found shape "
                             f"{arr.shape}")
        return whole_numbers(arr, str(path), "predicted class id")
    if suffix == ".json":
        lines = _text_lines(path)
        try:
            values = json.loads("\n".join(lines))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(values, list):
            raise InputError(f"{path}: expected a JSON list of predicted class ids, found a "
                             f"{type(values).__name__}")
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v in (
                    float("inf"), float("-inf")) or v != int(v):
                raise InputError(f"{path}: item {i + 1}: {v!r} is not an integer class id")
        return np.asarray(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
    lines = [line.strip() for line in _text_lines(path)]
    bad = [i for i, line in enumerate(lines) if not re.fullmatch(r"-?\d+", line)]
    if bad:
        i = bad[0]
        what = "is empty" if not lines[i] else f"{lines[i]!r} is not an integer class id"
        raise InputError(f"{path}: line {i + 1} {what} (one predicted class id a line)")
    return np.asarray([int(x) for x in lines], dtype=np.int64)


def read_list(path: str | Path, ids_path: str | Path | None = None, *,
              name: str | None = None) -> ForeignPredictions:
    """Predicted classes, one per sample: a JSON list (``.json``), a ``.npy`` integer vector
    or a text file with one class id a line.

    ``ids_path`` (see :func:`read_ids`) names the samples in the file's order; None means the
    store's sample order, checked by the importer under the store's lock.
    """
    path = Path(path)
    values = _list_values(path)
    if not len(values):
        raise InputError(f"{path}: no predictions in the file")
    neg = np.flatnonzero(values < 0)
    if len(neg):
        raise InputError(f"{path}: row {neg[0] + 1}: class id {values[neg[0]]} is negative; class "
                         f"ids are 0..C-1 ({len(neg):,} rows affected)")
    ids, labels = ids_for_rows(path, len(values), ids_path)
    return ForeignPredictions(
        name=name or path.name.split(".")[0], source=str(path), sample_ids=ids,
        topk_ids=values[:, None], labels=labels,
        metadata={"source": "list", "file": str(path.resolve()),
                  "order": "store" if ids_path is None else str(Path(ids_path).resolve())},
    )
