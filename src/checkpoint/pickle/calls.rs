//! The allowlisted "calls" of a state dict pickle: each builds data (a dict, a tensor
//! description, a storage reference) and never runs anything.

use super::value::{Global, Obj, StorageRef, TensorRef, Value};
use super::{Machine, Step, as_u64, kind, text};
use std::rc::Rc;

impl Machine<'_> {
    /// Applies an allowlisted global to `args` (REDUCE / NEWOBJ).
    pub(super) fn call(&mut self, f: Value, args: Vec<Value>) -> Step<Value> {
        let Value::Global(g) = f else {
            return Err(format!("cannot call {}", kind(&f)));
        };
        match g {
            Global::OrderedDict => {
                let v = self.new_obj(Obj::Dict(Vec::new()));
                if let Some(pairs) = args.first() {
                    let pairs = match self.container(pairs)? {
                        Obj::List(x) | Obj::Tuple(x) => x.clone(),
                        _ => return Err("OrderedDict() of something that is not a list".into()),
                    };
                    let mut items = Vec::new();
                    for p in &pairs {
                        match self.container(p)? {
                            Obj::Tuple(kv) | Obj::List(kv) if kv.len() == 2 => {
                                items.extend(kv.iter().cloned())
                            }
                            _ => return Err("OrderedDict() item is not a pair".into()),
                        }
                    }
                    self.stack.push(v.clone());
                    self.set_items(items)?;
                    self.stack.pop();
                }
                Ok(v)
            }
            Global::RebuildTensor => self.rebuild_tensor(&args),
            Global::RebuildParameter => args
                .into_iter()
                .next()
                .ok_or_else(|| "_rebuild_parameter without arguments".into()),
            Global::RebuildFromType => {
                let [func, _ty, inner, ..] = args.as_slice() else {
                    return Err("_rebuild_from_type_v2 needs 4 arguments".into());
                };
                // Only the tensor rebuilders: no nesting, so no unbounded recursion.
                if !matches!(
                    func,
                    Value::Global(Global::RebuildTensor | Global::RebuildParameter)
                ) {
                    return Err("_rebuild_from_type_v2 of something other than a tensor".into());
                }
                let inner = self.tuple_items(inner)?;
                self.call(func.clone(), inner)
            }
            Global::Size => args
                .into_iter()
                .next()
                .ok_or_else(|| "torch.Size without arguments".into()),
            Global::Encode => match args.as_slice() {
                [Value::Str(s), Value::Str(enc)] if enc.eq_ignore_ascii_case("latin1") => {
                    let b: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c).ok()).collect();
                    Ok(Value::Bytes(b.ok_or("latin1 text out of range")?.into()))
                }
                _ => Err("_codecs.encode other than (text, 'latin1')".into()),
            },
            Global::Inert(name) => Ok(Value::Str(name)),
            Global::TensorClass | Global::StorageClass(_) => {
                Err("constructing tensors or storages directly is not supported".into())
            }
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
    fn rebuild_tensor(&mut self, args: &[Value]) -> Step<Value> {
        let [Value::Storage(s), off, size, stride, ..] = args else {
            return Err("_rebuild_tensor arguments are not (storage, offset, size, stride)".into());
        };
        let offset = as_u64(off).ok_or("tensor storage_offset is not a non-negative int")?;
        let shape = self
            .u64_tuple(size)
            .ok_or("tensor size is not a tuple of ints")?;
        let stride = self
            .u64_tuple(stride)
            .ok_or("tensor stride is not a tuple of ints")?;
        if shape.len() != stride.len() {
            return Err(format!(
                "tensor size has {} dims but stride has {}",
                shape.len(),
                stride.len()
            ));
        }
        let offset = offset
            .checked_add(s.view_offset)
            .ok_or("storage offset overflows")?;
        Ok(Value::Tensor(Rc::new(TensorRef {
            storage: s.clone(),
            offset,
            shape,
            stride,
        })))
    }

    fn u64_tuple(&mut self, v: &Value) -> Option<Vec<u64>> {
        match self.container(v).ok()? {
            Obj::Tuple(x) | Obj::List(x) => x.iter().map(as_u64).collect(),
            _ => None,
        }
    }

    /// `('storage', StorageClass, key, location, numel[, view_metadata])` -> a storage.
    pub(super) fn persistent(&mut self, pid: &Value) -> Step<Value> {
        let items = self.tuple_items(pid)?;
        let tag = items.first().and_then(text);
        if tag.as_deref() != Some("storage") {
            return Err("persistent id is not a ('storage', ...) tuple".into());
        }
        let (Some(Value::Global(Global::StorageClass(dtype))), Some(key), Some(numel)) = (
            items.get(1),
            items.get(2).and_then(text),
            items.get(4).and_then(as_u64),
        ) else {
            return Err("persistent id is not ('storage', class, key, location, numel)".into());
        };
        let mut view_offset = 0;
        if let Some(view @ Value::Obj(_)) = items.get(5) {
            let v = self.tuple_items(view)?;
            view_offset = v
                .get(1)
                .and_then(as_u64)
                .ok_or("storage view metadata has no offset")?;
        }
        Ok(Value::Storage(Rc::new(StorageRef {
            dtype: *dtype,
            key: key.into(),
            numel,
            view_offset,
        })))
    }
}
