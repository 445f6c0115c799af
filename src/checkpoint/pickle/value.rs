//! What the restricted unpickler builds: plain Python data, the few torch objects a state dict
//! is made of, and the allowlist of globals (everything else is refused by name).
//!
//! Values are cheap to clone (strings and containers are shared), so a pickle that fetches
//! the same memo entry a million times costs a million handles, not a million copies.

use std::rc::Rc;

/// Index of a container in the unpickler's arena.
pub(crate) type ObjId = usize;

/// A Python value as far as a state dict needs one.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    /// Integers up to 128 bits (torch's legacy magic number needs 80).
    Int(i128),
    /// Read only by `Debug` (error messages, tests): no tensor depends on a float.
    Float(#[allow(dead_code)] f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    /// A list, tuple, dict or set in the arena (see [`Obj`]).
    Obj(ObjId),
    /// An allowed global (a class or function, not yet called).
    Global(Global),
    /// A storage from a persistent id.
    Storage(Rc<StorageRef>),
    /// A tensor: a view of a storage.
    Tensor(Rc<TensorRef>),
}

/// A container; mutable through its id, as pickle's memo requires.
#[derive(Debug, Clone)]
pub(crate) enum Obj {
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Entries in insertion order; a repeated key is kept twice here and resolved (last value,
    /// first position, as Python's dict does) by the readers.
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
}

/// The element type of a torch storage, by its pickled class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorageDtype {
    /// The safetensors-style dtype name (`F32`, `I64`, ...).
    pub name: &'static str,
    /// Bytes per element.
    pub size: usize,
}

/// `torch.<Name>Storage` -> element type (torch/storage.py, `_dtype_to_storage_type_map`).
fn storage_dtype(class: &str) -> Option<StorageDtype> {
    let (name, size) = match class {
        "DoubleStorage" => ("F64", 8),
        "FloatStorage" => ("F32", 4),
        "HalfStorage" => ("F16", 2),
        "BFloat16Storage" => ("BF16", 2),
        "LongStorage" => ("I64", 8),
        "IntStorage" => ("I32", 4),
        "ShortStorage" => ("I16", 2),
        "CharStorage" => ("I8", 1),
        "ByteStorage" | "UntypedStorage" => ("U8", 1),
        "BoolStorage" => ("BOOL", 1),
        "ComplexFloatStorage" => ("C64", 8),
        "ComplexDoubleStorage" => ("C128", 16),
        "QInt8Storage" => ("QINT8", 1),
        "QUInt8Storage" => ("QUINT8", 1),
        "QInt32Storage" => ("QINT32", 4),
        "Float8_e4m3fnStorage" => ("F8_E4M3", 1),
        "Float8_e5m2Storage" => ("F8_E5M2", 1),
        "UInt16Storage" => ("U16", 2),
        "UInt32Storage" => ("U32", 4),
        "UInt64Storage" => ("U64", 8),
        _ => return None,
    };
    Some(StorageDtype { name, size })
}

/// The globals a state dict may name. Anything else is refused before it could be called.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Global {
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2` (and v1 `_rebuild_tensor`: same first four arguments).
    RebuildTensor,
    /// `torch._utils._rebuild_parameter` / `_rebuild_parameter_with_state`: the tensor itself.
    RebuildParameter,
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: `func(*args)`.
    RebuildFromType,
    /// `torch.Tensor`, `torch.nn.parameter.Parameter` as the `type` argument above.
    TensorClass,
    /// `torch.Size`: a tuple.
    Size,
    /// `_codecs.encode(text, "latin1")`: how protocol 2 pickles `bytes`.
    Encode,
    /// A storage class (`torch.FloatStorage`, `torch.storage.UntypedStorage`, ...).
    StorageClass(StorageDtype),
    /// A dtype or device object (`torch.float32`, `torch.device`): inert data.
    Inert(Rc<str>),
}

/// Resolves `module.name` against the allowlist; `None` means refuse.
pub(crate) fn allowed_global(module: &str, name: &str) -> Option<Global> {
    Some(match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            Global::RebuildParameter
        }
        ("torch._tensor" | "torch.tensor", "_rebuild_from_type_v2") => Global::RebuildFromType,
        ("torch", "Tensor") | ("torch.nn.parameter", "Parameter") => Global::TensorClass,
        ("torch", "Size") => Global::Size,
        ("_codecs", "encode") => Global::Encode,
        ("torch" | "torch.cuda" | "torch.storage", n) if n.ends_with("Storage") => {
            Global::StorageClass(storage_dtype(n)?)
        }
        ("torch", "device") => Global::Inert("torch.device".into()),
        ("torch", n) if is_dtype_name(n) => Global::Inert(format!("torch.{n}").into()),
        _ => return None,
    })
}

fn is_dtype_name(n: &str) -> bool {
    matches!(
        n,
        "float64"
            | "float32"
            | "float16"
            | "bfloat16"
            | "int64"
            | "int32"
            | "int16"
            | "int8"
            | "uint8"
            | "bool"
            | "complex64"
            | "complex128"
    )
}

/// A storage named by a persistent id: `('storage', class, key, location, numel[, view])`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    pub dtype: StorageDtype,
    /// The record key (`data/<key>` in a zip archive; the legacy format's storage key).
    pub key: Rc<str>,
    /// Elements the storage holds, as the persistent id claims.
    pub numel: u64,
    /// Legacy storage views: first element of the view inside the root storage.
    pub view_offset: u64,
}

/// A tensor as `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorRef {
    pub storage: Rc<StorageRef>,
    /// In elements, from the start of the storage (view offset included).
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_names_storages_and_refuses_the_rest() {
        let f = allowed_global("torch", "BFloat16Storage").unwrap();
        assert_eq!(
            f,
            Global::StorageClass(StorageDtype {
                name: "BF16",
                size: 2
            })
        );
        assert!(allowed_global("torch.cuda", "HalfStorage").is_some());
        assert!(allowed_global("posix", "system").is_none());
        assert!(allowed_global("builtins", "eval").is_none());
        assert!(allowed_global("torch", "load").is_none());
        assert!(allowed_global("torch", "EvilStorage").is_none());
    }
}
