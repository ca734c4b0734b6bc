import os
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str
DEFAULT_CHUNK_SIZE: int

_PathLike = Union[str, os.PathLike[str]]
_Progress = Optional[Callable[[int, int], Any]]

class FormatError(ValueError):
    code: str
    file: Optional[str]
    member: Optional[str]
    key: Optional[str]
    message: Optional[str]

class MismatchError(ValueError):
    code: str
    file: Optional[str]
    member: Optional[str]
    key: Optional[str]
    message: Optional[str]

class SourceInfo:
    file: str
    kind: str
    keras_version: str
    model_name: str
    order_exact: bool
    note: str
    skipped: Tuple[Tuple[str, str], ...]
    def __init__(self, file: str, kind: str, keras_version: str, model_name: str,
                 order_exact: bool, note: str,
                 skipped: Tuple[Tuple[str, str], ...] = ...) -> None: ...

class TensorInfo:
    name: str
    dtype: str
    shape: Tuple[int, ...]
    role: str
    layer: str
    file: str
    dataset: str
    keras_path: str
    nbytes: int
    key: str
    def __init__(self, name: str, dtype: str, shape: Tuple[int, ...], role: str, layer: str,
                 file: str, dataset: str, keras_path: str = ..., nbytes: int = ...,
                 key: str = ...) -> None: ...

class Tensors(List[TensorInfo]):
    source: SourceInfo
    def __init__(self, tensors: Sequence[TensorInfo], source: SourceInfo) -> None: ...

def formats() -> List[str]: ...
def inspect(path: _PathLike, model: Optional[_PathLike] = ...,
            include_optimizer: bool = ...) -> Tensors: ...
def convert(src: _PathLike, dst: _PathLike, to: str, *, model: Optional[_PathLike] = ...,
            cast: str = ..., include_optimizer: bool = ..., force: bool = ...,
            chunk_size: int = ..., level: int = ..., threads: int = ..., compress: bool = ...,
            progress: _Progress = ...) -> dict[str, Any]: ...
def save(weights_or_model: Any, path: _PathLike, format: str = ..., *,
         names: Optional[Sequence[str]] = ..., cast: str = ..., force: bool = ...,
         chunk_size: int = ..., level: int = ..., threads: int = ...,
         progress: _Progress = ...) -> dict[str, Any]: ...
def load(path: _PathLike, mmap: bool = ..., *, model: Optional[_PathLike] = ...,
         cast: str = ..., include_optimizer: bool = ..., chunk_size: int = ...,
         progress: _Progress = ...) -> List[np.ndarray]: ...
def load_into(model: Any, path: _PathLike, *, on_overflow: str = ...,
              weights_model: Optional[_PathLike] = ..., chunk_size: int = ...,
              progress: _Progress = ...) -> dict[str, Any]: ...
def verify(path: _PathLike, *, chunk_size: int = ...,
           progress: _Progress = ...) -> dict[str, Any]: ...
def diff(a: _PathLike, b: _PathLike, *, rtol: float = ..., atol: float = ..., ulp: int = ...,
         model: Optional[_PathLike] = ..., chunk_size: int = ...) -> dict[str, Any]: ...
