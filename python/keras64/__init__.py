"""keras64: Keras weights as float64, from Python.

The same C++ core as the ``keras64`` command-line tool, so files, orders and error messages are
the same. Every function streams: memory does not grow with the model beyond what the function
returns.

>>> import keras64
>>> keras64.save(model, "weights.npz")                 # or a list of numpy arrays
>>> ws = keras64.load("weights.npz")                   # float64 arrays, get_weights() order
>>> keras64.convert("model.keras", "w/", to="npy")     # file to file, like `keras64 convert`
>>> for t in keras64.inspect("model.keras"): print(t.name, t.dtype, t.shape)

Errors from the library are exceptions carrying its message (the text ``keras64`` prints after
"keras64: error: ", with hints in this module's parameter names, e.g. "pass force=True"):
:class:`OSError` (with ``errno``, ``strerror`` = the message, and ``filename``) for I/O,
:class:`FormatError` (a :class:`ValueError`) for a damaged input, :class:`NotImplementedError`
for valid input keras64 does not handle, :class:`ValueError` for bad arguments,
:class:`MismatchError` (a :class:`ValueError`) when weights do not fit a model,
:class:`KeyboardInterrupt` when cancelled, :class:`RuntimeError` for a bug. Each also has the
error's parts as attributes: ``code`` ("io", "corrupt", "unsupported", "invalid_argument",
"mismatch", "interrupted", "internal"), ``file`` (the path as given), ``member`` (inside an
archive), ``key`` (the tensor, dataset path or checkpoint key) - ``None`` when absent - and
``message`` (the text after the context).
:func:`load_into` checks the live model itself and raises :class:`MismatchError` with its own
messages (the model's variables are not a file the library can name).
The GIL is released while files are read and written.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _keras64
from ._keras64 import FormatError, MismatchError

__version__: str = _keras64.version()  # the C++ library's, i.e. CMake's project version
__all__ = [
    "FormatError",
    "MismatchError",
    "SourceInfo",
    "TensorInfo",
    "Tensors",
    "convert",
    "diff",
    "formats",
    "inspect",
    "load",
    "load_into",
    "save",
    "verify",
]

FormatError.__module__ = __name__
MismatchError.__module__ = __name__

#: Bytes of float64 data moved per step (the CLI's --chunk-size default: the library's).
DEFAULT_CHUNK_SIZE: int = _keras64.DEFAULT_CHUNK_SIZE

PathLike = Union[str, "os.PathLike[str]"]
Progress = Optional[Callable[[int, int], Any]]


@dataclass(frozen=True)
class SourceInfo:
    """What an input was: ``kind`` is one of "keras3", "keras3-weights", "keras3-sharded",
    "tfkeras", "legacy-h5", "legacy-weights-h5", "tf-checkpoint", "tf-savedmodel", the forms
    keras64 writes ("npy-dir", "npz", "memmap-dir", "safetensors"), or "python" for arrays
    handed to :func:`save` (the names of the C++ ``keras64::SourceKind``). ``order_exact`` is
    False when tensors are in file order rather than ``get_weights()`` order; ``note`` then says
    why (ending in "pass model=ARCH.keras ..." when the architecture would give that order).
    ``skipped`` lists the entries never converted, as (key, why) pairs (TensorFlow checkpoints:
    strings, metric state, optimizer state without ``include_optimizer``)."""

    file: str
    kind: str
    keras_version: str
    model_name: str
    order_exact: bool
    note: str
    skipped: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of an input, in ``get_weights()`` position.

    ``name`` is the canonical name ("layers/dense/vars/0" for Keras 3 files,
    "layer/weight" for legacy ones); ``dtype`` the numpy name of the stored type ("float32",
    "bfloat16", "int64", "bool"); ``role`` "model" or "optimizer"; ``layer`` the Keras layer
    name; ``keras_path`` the Keras variable path when recorded; ``file`` and ``dataset`` where
    the data lives (``dataset`` may be empty); ``nbytes`` its stored size; ``key`` the
    checkpoint key of a TensorFlow checkpoint's tensor (else empty)."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    role: str
    layer: str
    file: str
    dataset: str
    keras_path: str = ""
    nbytes: int = 0
    key: str = ""


class Tensors(List[TensorInfo]):
    """A list of :class:`TensorInfo` that also carries the input's :class:`SourceInfo`."""

    source: SourceInfo

    def __init__(self, tensors: Sequence[TensorInfo], source: SourceInfo):
        super().__init__(tensors)
        self.source = source


def _path(p: Optional[PathLike]) -> str:
    return "" if p is None else os.fsdecode(os.fspath(p))


def _source(d: dict) -> SourceInfo:
    return SourceInfo(**d)


def _tensors(ds: Sequence[dict], source: dict) -> Tensors:
    return Tensors([TensorInfo(**d) for d in ds], _source(source))


def formats() -> List[str]:
    """Output formats :func:`save` and :func:`convert` accept ("npy", "npz", "npz-deflate",
    "memmap", and any added since)."""
    return list(_keras64.sink_formats())


def inspect(path: PathLike, model: Optional[PathLike] = None,
            include_optimizer: bool = False) -> Tensors:
    """Lists the tensors of any input keras64 reads, in ``get_weights()`` order, without reading
    their data. ``model`` is a ``.keras`` file giving a bare weights file its architecture, or
    for a tf-keras ``save_weights`` TensorFlow checkpoint a legacy ``.h5``, SavedModel or
    tf-keras ``.keras`` of the same model giving its ``get_weights()`` order.
    The result's ``.source`` says what the file is."""
    source, tensors = _keras64.inspect(_path(path), _path(model), bool(include_optimizer))
    return _tensors(tensors, source)


def convert(src: PathLike, dst: PathLike, to: str, *, model: Optional[PathLike] = None,
            cast: str = "floats", include_optimizer: bool = False, force: bool = False,
            chunk_size: int = DEFAULT_CHUNK_SIZE, level: int = -1, threads: int = 0,
            compress: bool = False, progress: Progress = None) -> dict:
    """Converts the input ``src`` to ``dst`` in format ``to`` (see :func:`formats`), exactly as
    ``keras64 convert src -o dst --to TO`` does, and returns the report that its ``--json``
    prints (``source``, ``output``, ``bytes_read``, ``bytes_written``, ``seconds``,
    ``tensors``).

    ``cast``: "floats" (float16/bfloat16/float32 become float64, integers stay) or "all".
    ``force`` replaces an existing output (atomically). ``progress(bytes_done, bytes_total)`` is
    called after every chunk of ``chunk_size`` bytes; an exception it raises cancels the
    conversion (nothing is left behind) and propagates.
    """
    return _keras64.convert(_path(src), _path(dst), str(to), _path(model), str(cast),
                            bool(include_optimizer), bool(force), int(chunk_size), int(level),
                            int(threads), bool(compress), progress)


def _weights_of(obj: Any) -> Tuple[list, List[str], dict]:
    """(arrays, Keras variable paths or [], source description) of a model or a list."""
    source = {"file": "<python>", "kind": "python", "model_name": ""}
    if hasattr(obj, "get_weights"):
        arrays = list(obj.get_weights())
        paths: List[str] = []
        variables = getattr(obj, "weights", None)
        if variables is not None and len(variables) == len(arrays):
            paths = [str(getattr(v, "path", "") or "") for v in variables]
        name = getattr(obj, "name", "")
        source["model_name"] = name if isinstance(name, str) else ""
        return arrays, paths, source
    if isinstance(obj, np.ndarray):
        raise TypeError("keras64.save expects a list of arrays or a model, not one array "
                        "(wrap it in a list)")
    return list(obj), [], source


def _as_numpy(a: Any) -> np.ndarray:
    """``a`` as a numpy array without copying where possible. torch tensors need help:
    ``numpy.asarray`` refuses those that require grad (every trainable parameter) and torch has
    no numpy bfloat16, so they are detached and bfloat16 ones viewed as ml_dtypes.bfloat16."""
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.split(".")[0] == "torch" and hasattr(a, "detach"):
        import torch

        t = a.detach().cpu()
        if t.dtype == torch.bfloat16:
            import ml_dtypes

            return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return t.numpy()
    return np.asarray(a)


def save(weights_or_model: Any, path: PathLike, format: str = "npz", *,
         names: Optional[Sequence[str]] = None, cast: str = "floats", force: bool = False,
         chunk_size: int = DEFAULT_CHUNK_SIZE, level: int = -1, threads: int = 0,
         progress: Progress = None) -> dict:
    """Writes weights as float64 to ``path`` in ``format`` (see :func:`formats`).

    ``weights_or_model`` is a list of arrays (anything ``numpy.asarray`` accepts, and torch
    tensors, detached: parameters that require grad and bfloat16 ones included) or an object
    with ``get_weights()``, such as a Keras model; tensor names then come from
    ``model.weights[i].path`` when every variable has one, else they are ``weight_{i}``.
    ``names`` overrides them (unique, one per array). The arrays are read in place, chunk by
    chunk, while the GIL is released: nothing is copied as a whole, not even non-contiguous or
    Fortran-ordered arrays. Do not modify them from another thread meanwhile.

    Supported dtypes: float16/32/64, bfloat16 (ml_dtypes), int8-64, uint8-64, bool; big-endian
    arrays are byte-swapped. ``cast`` is "floats" (integers and bools stay as they are) or "all".
    Returns the same report as :func:`convert`.
    """
    arrays, paths, source = _weights_of(weights_or_model)
    arrays = [_as_numpy(a) for a in arrays]
    if names is None:
        if paths and all(paths) and len(set(paths)) == len(paths):
            names = paths
        else:
            names = [f"weight_{i}" for i in range(len(arrays))]
    names = [str(n) for n in names]
    return _keras64.save(arrays, names, paths, source, _path(path), str(format), str(cast),
                         bool(force), int(chunk_size), int(level), int(threads), False, progress)


def load(path: PathLike, mmap: bool = False, *, model: Optional[PathLike] = None,
         cast: str = "floats", include_optimizer: bool = False,
         chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Progress = None) -> List[np.ndarray]:
    """Reads every tensor of ``path`` (any input keras64 reads: ``.keras``, ``.weights.h5``,
    sharded ``.weights.json``, legacy ``.h5``, and keras64's own outputs as far as the C++
    library reads them) as numpy arrays in ``get_weights()`` order.

    Float tensors come back as float64 (exactly widened); with ``cast="floats"`` (the default,
    like :func:`convert`) integer and bool tensors keep their dtype, with ``cast="all"`` they
    become float64 too.

    ``mmap=True``: float64 tensors stored verbatim in an ordinary file (keras64's npy and memmap
    directories, the classic recipe's ``np.save`` files, safetensors ``F64``) are returned as
    read-only :class:`numpy.memmap` views of the files instead of being read; other tensors and
    other inputs give regular arrays. Where each tensor lies is read and checked by the C++
    library, as for every other input (a manifest naming a file outside its directory is refused).
    """
    _, tensors, arrays = _keras64.read_all(_path(path), _path(model), bool(include_optimizer),
                                           str(cast), int(chunk_size), bool(mmap), progress)
    out = []
    for t, a in zip(tensors, arrays):
        if isinstance(a, tuple):  # (file, offset) of float64 data to map
            shape = tuple(t["shape"])
            if 0 in shape:
                a = np.zeros(shape, "<f8")
            else:
                a = np.memmap(a[0], dtype="<f8", mode="r", offset=a[1], shape=shape, order="C")
        out.append(a)
    return out


_ACCOUNT_FIELDS = ("values", "changed", "overflows", "subnormal", "to_zero", "nans", "infs")


def _merge(total: dict, a: dict) -> None:
    for k in _ACCOUNT_FIELDS:
        total[k] += a[k]
    for k in ("max_abs_error", "max_rel_error", "max_ulp_error"):
        total[k] = max(total[k], a[k])
    total["exact"] = total["exact"] and a["exact"]


def _jax_without_x64(model: Any) -> bool:
    """True when ``model`` has float64 variables, Keras runs on JAX and JAX's x64 mode is off:
    JAX then stores those variables as float32 and computes in float32, silently."""
    keras = sys.modules.get("keras")
    jax = sys.modules.get("jax")
    if keras is None or jax is None:
        return False
    try:
        if keras.backend.backend() != "jax" or jax.config.read("jax_enable_x64"):
            return False
    except (AttributeError, KeyError, ValueError):
        return False
    return any(str(getattr(v, "dtype", "")) == "float64"
               for v in (getattr(model, "weights", None) or []))


def load_into(model: Any, path: PathLike, *, on_overflow: str = "error",
              weights_model: Optional[PathLike] = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
              progress: Progress = None) -> dict:
    """Loads the weights in ``path`` (any input :func:`load` reads) into ``model`` (an object
    with ``get_weights()``, ``set_weights()`` and ``weights``, such as a Keras model).

    Checks first, changes nothing on failure (:class:`MismatchError`): the tensor count, every
    shape, and the names when both sides have them (``model.weights[i].path`` against the Keras
    paths the file records; with names on both sides tensors are matched by name, otherwise by
    position). Float64 values are then cast to each variable's dtype with round-to-nearest-even
    by the C++ narrowing code, which accounts for what the cast did; integer and bool variables
    must receive exact values. ``on_overflow``: "error" (default) refuses finite values that
    would become infinite, "inf" writes them as infinities. Finally ``model.set_weights()``.

    Returns ``{"source", "tensors": [{"index", "name", "dtype", "shape", "account"}],
    "account", "exact"}``; an account has ``values``, ``changed``, ``max_abs_error``,
    ``max_rel_error``, ``max_ulp_error``, ``overflows``, ``subnormal``, ``to_zero``, ``nans``,
    ``infs`` and ``exact``. ``weights_model`` gives a bare weights file its architecture.

    On the JAX backend float64 variables are float64 only with ``jax_enable_x64`` on; without
    it JAX silently stores and computes them in float32, and this function warns
    (:class:`UserWarning`) before rounding the weights to float32.
    """
    if on_overflow not in ("error", "inf"):
        raise ValueError(f"unknown on_overflow '{on_overflow}' (valid: error, inf)")
    p = _path(path)
    if _jax_without_x64(model):
        warnings.warn("keras64.load_into: the model has float64 variables but JAX runs without "
                      "jax_enable_x64, so JAX holds them as float32 and computes in float32: "
                      "the float64 weights are rounded to float32. Set JAX_ENABLE_X64=1 before "
                      "Python starts (or jax.config.update('jax_enable_x64', True) before any "
                      "JAX array is made).", UserWarning, stacklevel=2)
    source, tensors, arrays = _keras64.read_all(p, _path(weights_model), False, "floats",
                                                int(chunk_size), False, progress)
    current = list(model.get_weights())
    variables = list(getattr(model, "weights", []) or [])
    if len(arrays) != len(current):
        raise MismatchError(f"{p}: {len(arrays)} tensors in file, {len(current)} in the model")
    model_paths = [str(getattr(v, "path", "") or "") for v in variables]
    if len(model_paths) != len(current):
        model_paths = [""] * len(current)
    order = list(range(len(arrays)))  # order[i]: the file tensor for model variable i
    # The C++ rule (load.hpp match_tensors), as `keras64 load` pairs tensors.
    model_names = [n or f"weight_{i}" for i, n in enumerate(model_paths)]
    by_name, pairs, only_file, only_model = _keras64.match_names(
        [t["name"] for t in tensors], model_names)
    if by_name:
        if only_model:
            j = only_model[0]
            raise MismatchError(f"{p}: the model's variable {j} ('{model_names[j]}') is "
                                "not in the file")
        if only_file:
            j = only_file[0]
            raise MismatchError(f"{p}: tensor {j} ('{tensors[j]['name']}') is not a "
                                "variable of the model")
        for fi, mi in pairs:
            order[mi] = fi
    for i, want in enumerate(current):
        a, t = arrays[order[i]], tensors[order[i]]
        if tuple(a.shape) != tuple(np.shape(want)):
            raise MismatchError(f"{p}: tensor {order[i]} ('{t['name']}'): shape "
                                f"{tuple(a.shape)} in file, {tuple(np.shape(want))} in the model")
    result, report, total = [], [], None
    for i, want in enumerate(current):
        a, t = arrays[order[i]], tensors[order[i]]
        dtype = np.asarray(want).dtype
        what = f"{p}: tensor {order[i]} ('{t['name']}')"
        if a.dtype.kind in "iub" and dtype.kind in "iub":
            out = a.astype(dtype)
            if not np.array_equal(out.astype(a.dtype), a):
                raise MismatchError(f"{what}: values do not fit {dtype.name}")
            account = dict.fromkeys(_ACCOUNT_FIELDS, 0)
            account.update(values=int(a.size), max_abs_error=0.0, max_rel_error=0.0,
                           max_ulp_error=0.0, exact=True)
        else:
            src = np.ascontiguousarray(a, dtype=np.float64)
            out = np.empty(a.shape, dtype=dtype)
            account = _keras64.narrow(src, out, dtype.name, what)
            if account["overflows"] and on_overflow == "error":
                raise MismatchError(f"{what}: {account['overflows']} finite values overflow "
                                    f"{dtype.name} (on_overflow='inf' writes them as infinity)")
        result.append(out)
        report.append({"index": i, "name": model_paths[i] or t["name"], "dtype": dtype.name,
                       "shape": tuple(a.shape), "account": account})
        if total is None:
            total = dict(account)
        else:
            _merge(total, account)
    model.set_weights(result)
    if total is None:
        total = dict.fromkeys(_ACCOUNT_FIELDS, 0)
        total.update(max_abs_error=0.0, max_rel_error=0.0, max_ulp_error=0.0, exact=True)
    return {"source": source, "tensors": report, "account": total, "exact": total["exact"]}


def diff(a: PathLike, b: PathLike, *, rtol: float = 0.0, atol: float = 0.0, ulp: int = 0,
         model: Optional[PathLike] = None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict:
    """Compares two weight sets in any readable forms, tensor by tensor, as ``keras64 diff``
    does: both sides widened to float64, paired by name when both have names of the same family
    (else by position). Values agree when equal (NaN = NaN, +0 = -0), within
    ``atol + rtol * |b|``, or within ``ulp`` float64 ULPs. Nothing is loaded whole.

    Returns ``{"equal", "by_name", "a", "b", "tensors": [{"index_a", "index_b", "name_a",
    "name_b", "dtype_a", "dtype_b", "shape_a", "shape_b", "shape_differs", "elements",
    "not_identical", "out_of_tolerance", "first_out", "max_abs", "max_rel", "max_ulp", "ok"}],
    "only_a", "only_b"}``. Differences are reported, not raised.
    """
    return _keras64.diff(_path(a), _path(b), _path(model), float(rtol), float(atol), int(ulp),
                         int(chunk_size))


def verify(path: PathLike, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
           progress: Progress = None) -> dict:
    """Checks every checksum ``path`` carries, as ``keras64 verify`` does: keras64's CRC32C per
    tensor (npy/memmap manifests, safetensors metadata, HDF5 dataset attributes), HDF5's
    fletcher32 filter, TensorFlow's CRC32C of every checkpoint entry, and the CRC-32 of every zip
    member (.keras, .npz).

    Returns ``{"source", "verified", "checksums", "tensors", "tensors_checked", "bytes_checked",
    "zip_members", "zip_bytes", "unchecked"}``; ``verified`` is False when the file carries no
    checksum at all (nothing could be checked; not an error). Damage raises
    :class:`keras64.FormatError` naming the first damaged tensor or zip member.
    """
    return _keras64.verify(_path(path), int(chunk_size), progress)
