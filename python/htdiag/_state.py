"""In-memory tensors (a ``state_dict`` of numpy arrays or PyTorch tensors, or anything with
the buffer protocol, ``__array__`` or ``__dlpack__``) described for the Rust core without
copying them.

Each tensor becomes ``(name, dtype, shape, owner, address, nbytes)``: ``dtype`` a safetensors
name (``F32``, ``BF16``, ...), ``owner`` the object that keeps the bytes at ``address`` alive.
The bytes are read in place when the layout is C-contiguous and little-endian (the usual
case); otherwise one contiguous copy is made, as numpy would for any routine needing it.
"""

import sys

from .errors import CheckpointError, InvalidArgumentError

# numpy dtype name -> safetensors dtype name. ``bfloat16`` is ml_dtypes' (JAX) numpy type.
_NUMPY = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint64": "U64",
    "uint32": "U32",
    "uint16": "U16",
    "uint8": "U8",
    "bool": "BOOL",
}

# torch dtype name (str(dtype) without "torch.") -> safetensors dtype name: numpy's names,
# plus the float8 types numpy lacks.
_TORCH = dict(_NUMPY, float8_e4m3fn="F8_E4M3", float8_e5m2="F8_E5M2")


def is_state_dict(obj):
    """Whether ``obj`` is a mapping of tensors (or a module with ``state_dict()``)."""
    return _is_mapping(obj) or callable(getattr(obj, "state_dict", None))


def _is_mapping(obj):
    return hasattr(obj, "keys") and hasattr(obj, "__getitem__")


def _keys(mapping):
    return ", ".join(repr(str(k)) for k in mapping.keys())


def select(mapping, key):
    """The mapping at ``key`` (``"/"`` between the keys of nested mappings) inside ``mapping``:
    ``htdiag.analyze(torch.load("last.ckpt"), key="state_dict")``, as ``key=`` picks the dict
    of a nested checkpoint file."""
    if not _is_mapping(mapping):
        raise InvalidArgumentError(
            f"key={key!r}: a torch module's state_dict() is not nested; pass the module "
            "without key, or a mapping"
        )
    node, walked = mapping, []
    for part in str(key).split("/"):
        where = "the top level" if not walked else repr("/".join(walked))
        if not _is_mapping(node):
            raise InvalidArgumentError(
                f"key={key!r}: {where} is a {type(node).__name__}, not a mapping"
            )
        if part not in node:
            level = "top-level keys" if not walked else f"keys of {where}"
            raise InvalidArgumentError(
                f"key={key!r}: no key {part!r} in the state_dict ({level}: {_keys(node)})"
            )
        node, walked = node[part], walked + [part]
    if not _is_mapping(node):
        raise InvalidArgumentError(
            f"key={key!r} holds a {type(node).__name__}, not a mapping of tensors"
        )
    return node


def _tensor_like(value):
    if _torch_tensor(value) or hasattr(value, "__array__") or hasattr(value, "__dlpack__"):
        return True
    try:
        memoryview(value)
    except TypeError:
        return False
    return True


def check_not_nested(mapping):
    """Refuses a mapping that holds no tensors but nested mappings (``torch.load`` of a
    Lightning ``.ckpt`` or of ``{"model": ..., "optimizer": ...}``): every entry would be
    skipped, when the user meant one of the nested ones; the message says to pass ``key=``."""
    if not _is_mapping(mapping):
        return
    values = [mapping[k] for k in mapping.keys()]
    nested = [str(k) for k, v in zip(mapping.keys(), values) if _is_mapping(v)]
    if nested and not any(_tensor_like(v) for v in values):
        raise InvalidArgumentError(
            "the state_dict holds no tensors at its top level but nested mappings "
            f"({', '.join(map(repr, nested))}; top-level keys: {_keys(mapping)}): pass "
            f"key={nested[0]!r} (or another of them) to analyse the tensors of one"
        )


def describe(state_dict):
    """The Rust core's description of every tensor of ``state_dict``, in its order."""
    if callable(getattr(state_dict, "state_dict", None)) and not hasattr(state_dict, "keys"):
        state_dict = state_dict.state_dict()  # a torch.nn.Module
    out = []
    for key in state_dict.keys():
        out.append(_one(str(key), state_dict[key]))
    return out


def _torch_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _one(name, value):
    if _torch_tensor(value):
        return _from_torch(name, value)
    import numpy as np

    try:
        if hasattr(value, "__dlpack__") and not isinstance(value, np.ndarray):
            arr = np.from_dlpack(value)
        else:
            arr = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - report which tensor, whatever the cause
        raise CheckpointError(f"<state_dict>: tensor '{name}': cannot read it as an array: {e}")
    dtype = _NUMPY.get(arr.dtype.name)
    if dtype is None:
        # Not a tensor type htdiag knows (object, string, complex, ...): listed and skipped,
        # like a file's tensor of an unknown dtype; no bytes are read.
        return (name, f"numpy:{arr.dtype.name}", list(arr.shape), arr, 0, 0)
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return (name, dtype, list(arr.shape), arr, arr.__array_interface__["data"][0], arr.nbytes)


def _from_torch(name, t):
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()  # one copy: the analysis reads host memory
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    dtype = _TORCH.get(str(t.dtype).replace("torch.", ""))
    shape = list(t.shape)
    if dtype is None:
        return (name, str(t.dtype), shape, t, 0, 0)
    if sys.byteorder == "big":
        raise CheckpointError(f"<state_dict>: tensor '{name}': big-endian torch tensors are not supported")
    return (name, dtype, shape, t, t.data_ptr(), t.numel() * t.element_size())
