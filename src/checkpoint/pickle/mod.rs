//! A restricted unpickler: Python's pickle format (protocols 0-5, CPython's `Lib/pickle.py`
//! and `Lib/pickletools.py` document the opcodes) evaluated without Python and without calling
//! anything but the handful of globals a PyTorch state dict names ([`value::allowed_global`]).
//!
//! A pickle is a program for a stack machine; `GLOBAL` imports any attribute of any module and
//! `REDUCE` calls it, which is how a malicious `.bin` runs `os.system`. Here `GLOBAL` of a name
//! outside the allowlist stops evaluation with an error naming it, so nothing is ever imported
//! or run. The allowlisted "calls" only build data (dicts, tuples, tensor descriptions).
//!
//! Memory stays proportional to the input: every opcode creates at most one value, and memo
//! fetches share rather than copy.

mod calls;
pub(crate) mod state_dict;
pub(crate) mod value;

use std::collections::HashMap;
use value::{Obj, ObjId, Value, allowed_global};

/// The result of evaluating one pickle.
#[derive(Debug)]
pub(crate) struct Pickle {
    /// The containers the value refers to.
    pub objs: Vec<Obj>,
    /// What `STOP` returned.
    pub value: Value,
    /// Offset just past the `STOP` opcode (the legacy format has several pickles in a row).
    pub end: usize,
}

impl Pickle {
    /// The container `id`.
    pub fn obj(&self, id: ObjId) -> &Obj {
        &self.objs[id]
    }

    /// The items of a tuple or list value.
    pub fn items(&self, v: &Value) -> Option<&[Value]> {
        match v {
            Value::Obj(id) => match self.obj(*id) {
                Obj::Tuple(x) | Obj::List(x) => Some(x),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Evaluates the pickle starting at `bytes[0]`; an error says what and at which byte.
pub(crate) fn load(bytes: &[u8]) -> Result<Pickle, String> {
    let mut m = Machine {
        b: bytes,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        objs: Vec::new(),
    };
    loop {
        let at = m.pos;
        let op = m.byte().map_err(|e| format!("byte {at}: {e}"))?;
        match m.step(op) {
            Ok(true) => {}
            Ok(false) => {
                let value = m.pop().map_err(|e| format!("byte {at}: {e}"))?;
                return Ok(Pickle {
                    objs: m.objs,
                    value,
                    end: m.pos,
                });
            }
            Err(e) => return Err(format!("byte {at} (opcode 0x{op:02x}): {e}")),
        }
    }
}

struct Machine<'a> {
    b: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    objs: Vec<Obj>,
}

type Step<T> = Result<T, String>;

impl<'a> Machine<'a> {
    fn take(&mut self, n: u64) -> Step<&'a [u8]> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(format!(
                "needs {n} bytes but only {left} remain (truncated pickle?)"
            ));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn byte(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }
    fn uint(&mut self, n: u64) -> Step<u64> {
        let s = self.take(n)?;
        Ok(s.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
    fn line_bytes(&mut self) -> Step<&'a [u8]> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("text argument without newline (truncated pickle?)")?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
    fn line(&mut self) -> Step<&'a str> {
        let l = self.line_bytes()?;
        std::str::from_utf8(l).map_err(|_| "text argument is not UTF-8".to_string())
    }
    fn pop(&mut self) -> Step<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pop past a mark".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }
    fn top(&mut self) -> Step<&mut Value> {
        self.stack.last_mut().ok_or_else(|| "empty stack".into())
    }
    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        let m = self.marks.pop().ok_or("no mark on the stack")?;
        Ok(self.stack.split_off(m))
    }
    fn new_obj(&mut self, o: Obj) -> Value {
        self.objs.push(o);
        Value::Obj(self.objs.len() - 1)
    }
    fn tuple(&mut self, items: Vec<Value>) -> Value {
        self.new_obj(Obj::Tuple(items))
    }
    fn push_str(&mut self, s: &[u8]) -> Step<()> {
        let s = std::str::from_utf8(s).map_err(|_| "string is not UTF-8")?;
        self.stack.push(Value::Str(s.into()));
        Ok(())
    }
    fn memo_get(&mut self, key: u64) -> Step<()> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| format!("memo entry {key} was never stored"))?;
        self.stack.push(v);
        Ok(())
    }
    fn memo_put(&mut self, key: u64) -> Step<()> {
        let v = self.stack.last().cloned().ok_or("empty stack")?;
        self.memo.insert(key, v);
        Ok(())
    }
    fn container(&mut self, v: &Value) -> Step<&mut Obj> {
        match v {
            Value::Obj(id) => Ok(&mut self.objs[*id]),
            other => Err(format!("{} is not a container", kind(other))),
        }
    }
    fn append(&mut self, items: Vec<Value>) -> Step<()> {
        let target = self.top()?.clone();
        match self.container(&target)? {
            Obj::List(l) => l.extend(items),
            _ => return Err("APPEND to something that is not a list".into()),
        }
        Ok(())
    }
    fn set_items(&mut self, items: Vec<Value>) -> Step<()> {
        if !items.len().is_multiple_of(2) {
            return Err("odd number of items for a dict".into());
        }
        let target = self.top()?.clone();
        match self.container(&target)? {
            Obj::Dict(d) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
            }
            _ => return Err("SETITEM on something that is not a dict".into()),
        }
        Ok(())
    }
    fn global(&mut self, module: &str, name: &str) -> Step<()> {
        let g = allowed_global(module, name).ok_or_else(|| {
            format!(
                "refused global '{module}.{name}': only the tensors, containers and numbers \
                 of a state dict are read, and nothing in the file is run"
            )
        })?;
        self.stack.push(Value::Global(g));
        Ok(())
    }

    /// Runs one opcode; `Ok(false)` at STOP.
    fn step(&mut self, op: u8) -> Step<bool> {
        match op {
            b'.' => return Ok(false),
            0x80 => {
                let p = self.byte()?;
                if p > 5 {
                    return Err(format!("unsupported pickle protocol {p}"));
                }
            }
            0x95 => {
                self.uint(8)?;
            }
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.stack.push(v);
            }
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'I' => {
                let l = self.line()?;
                let v = match l {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    _ => Value::Int(l.parse().map_err(|_| format!("bad INT '{l}'"))?),
                };
                self.stack.push(v);
            }
            b'L' => {
                let l = self.line()?;
                let l = l.strip_suffix('L').unwrap_or(l);
                let v = l.parse().map_err(|_| format!("bad LONG '{l}'"))?;
                self.stack.push(Value::Int(v));
            }
            b'J' => {
                let v = self.uint(4)? as u32 as i32;
                self.stack.push(Value::Int(v.into()));
            }
            b'K' => {
                let v = self.uint(1)?;
                self.stack.push(Value::Int(v.into()));
            }
            b'M' => {
                let v = self.uint(2)?;
                self.stack.push(Value::Int(v.into()));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.uint(1)?
                } else {
                    self.uint(4)?
                };
                let s = self.take(n)?;
                self.stack.push(Value::Int(long_le(s)?));
            }
            b'F' => {
                let l = self.line()?;
                let v = l.parse().map_err(|_| format!("bad FLOAT '{l}'"))?;
                self.stack.push(Value::Float(v));
            }
            b'G' => {
                let s = self.take(8)?;
                let v = f64::from_be_bytes(s.try_into().map_err(|_| "short float")?);
                self.stack.push(Value::Float(v));
            }
            b'S' => {
                let l = self.line()?;
                let inner = l
                    .strip_prefix(['\'', '"'])
                    .and_then(|x| x.strip_suffix(['\'', '"']))
                    .ok_or("STRING argument is not quoted")?;
                self.stack.push(Value::Str(inner.into()));
            }
            b'V' => {
                let l = self.line_bytes()?;
                self.stack.push(Value::Str(raw_unicode_escape(l)?.into()));
            }
            b'T' | b'U' | b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'U' | 0x8c => self.uint(1)?,
                    b'T' | b'X' => self.uint(4)?,
                    _ => self.uint(8)?,
                };
                let s = self.take(n)?;
                if op == b'T' || op == b'U' {
                    // Python 2 `str`: bytes; decoded as Latin-1 as torch.load's default does.
                    let s: String = s.iter().map(|&c| char::from(c)).collect();
                    self.stack.push(Value::Str(s.into()));
                } else {
                    self.push_str(s)?;
                }
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'C' => self.uint(1)?,
                    b'B' => self.uint(4)?,
                    _ => self.uint(8)?,
                };
                let s = self.take(n)?;
                self.stack.push(Value::Bytes(s.into()));
            }
            b']' => {
                let v = self.new_obj(Obj::List(Vec::new()));
                self.stack.push(v);
            }
            b'l' => {
                let items = self.pop_mark()?;
                let v = self.new_obj(Obj::List(items));
                self.stack.push(v);
            }
            b'a' => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            b')' => {
                let v = self.tuple(Vec::new());
                self.stack.push(v);
            }
            b't' => {
                let items = self.pop_mark()?;
                let v = self.tuple(items);
                self.stack.push(v);
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n
                    || self.marks.last().is_some_and(|&m| m + n > self.stack.len())
                {
                    return Err("stack underflow".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                let v = self.tuple(items);
                self.stack.push(v);
            }
            b'}' => {
                let v = self.new_obj(Obj::Dict(Vec::new()));
                self.stack.push(v);
            }
            b'd' => {
                let items = self.pop_mark()?;
                let v = self.new_obj(Obj::Dict(Vec::new()));
                self.stack.push(v);
                self.set_items(items)?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                self.set_items(items)?;
            }
            0x8f => {
                let v = self.new_obj(Obj::Set(Vec::new()));
                self.stack.push(v);
            }
            0x90 => {
                let items = self.pop_mark()?;
                let target = self.top()?.clone();
                match self.container(&target)? {
                    Obj::Set(s) => s.extend(items),
                    _ => return Err("ADDITEMS to something that is not a set".into()),
                }
            }
            0x91 => {
                let items = self.pop_mark()?;
                let v = self.new_obj(Obj::Set(items));
                self.stack.push(v);
            }
            b'g' => {
                let l = self.line()?;
                let k = l.parse().map_err(|_| format!("bad GET index '{l}'"))?;
                self.memo_get(k)?;
            }
            b'h' => {
                let k = self.uint(1)?;
                self.memo_get(k)?;
            }
            b'j' => {
                let k = self.uint(4)?;
                self.memo_get(k)?;
            }
            b'p' => {
                let l = self.line()?;
                let k = l.parse().map_err(|_| format!("bad PUT index '{l}'"))?;
                self.memo_put(k)?;
            }
            b'q' => {
                let k = self.uint(1)?;
                self.memo_put(k)?;
            }
            b'r' => {
                let k = self.uint(4)?;
                self.memo_put(k)?;
            }
            0x94 => {
                let k = self.memo.len() as u64;
                self.memo_put(k)?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.global(module, name)?;
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => self.global(&m, &n)?,
                    _ => return Err("STACK_GLOBAL needs two strings".into()),
                }
            }
            b'R' | 0x81 => {
                let args = self.pop()?;
                let f = self.pop()?;
                let args = self.tuple_items(&args)?;
                let v = self.call(f, args)?;
                self.stack.push(v);
            }
            0x92 => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let f = self.pop()?;
                if !matches!(self.container(&kwargs)?, Obj::Dict(d) if d.is_empty()) {
                    return Err("NEWOBJ_EX with keyword arguments".into());
                }
                let args = self.tuple_items(&args)?;
                let v = self.call(f, args)?;
                self.stack.push(v);
            }
            b'b' => {
                // Object state (an OrderedDict's `_metadata`, a Parameter's attributes): the
                // tensors do not depend on it, so it is dropped.
                self.pop()?;
                self.top()?;
            }
            b'Q' => {
                let pid = self.pop()?;
                let v = self.persistent(&pid)?;
                self.stack.push(v);
            }
            b'P' => return Err("text persistent ids are not PyTorch's (PERSID)".into()),
            b'i' | b'o' => {
                return Err("INST/OBJ instantiate classes; a state dict never needs them".into());
            }
            0x82..=0x84 => return Err("extension registry codes (EXT*) are refused".into()),
            0x97 | 0x98 => return Err("out-of-band buffers are not supported".into()),
            _ => return Err("unknown opcode (not a pickle, or a corrupt one)".into()),
        }
        Ok(true)
    }

    fn tuple_items(&mut self, v: &Value) -> Step<Vec<Value>> {
        match self.container(v)? {
            Obj::Tuple(x) => Ok(x.clone()),
            _ => Err("call arguments are not a tuple".into()),
        }
    }
}

/// A Python long from its little-endian two's-complement bytes (LONG1/LONG4).
fn long_le(s: &[u8]) -> Result<i128, String> {
    if s.len() > 16 {
        return Err(format!("{}-byte integer is too large", s.len()));
    }
    if s.is_empty() {
        return Ok(0);
    }
    let neg = s[s.len() - 1] & 0x80 != 0;
    let mut buf = [if neg { 0xFF } else { 0 }; 16];
    buf[..s.len()].copy_from_slice(s);
    Ok(i128::from_le_bytes(buf))
}

/// Python's `raw-unicode-escape` codec (protocol 0 UNICODE): bytes are Latin-1 except
/// `\\uXXXX` and `\\UXXXXXXXX` escapes.
fn raw_unicode_escape(b: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let digits = match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => 0,
        };
        if digits == 0 {
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let hex = b
            .get(i + 2..i + 2 + digits)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
            .ok_or("bad \\u escape in UNICODE")?;
        out.push(hex);
        i += 2 + digits;
    }
    Ok(out)
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// A str, or bytes that are ASCII (pickles written by Python 2).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        Value::Bytes(b) if b.is_ascii() => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A short description of a value for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a str",
        Value::Bytes(_) => "bytes",
        Value::Obj(_) => "a container",
        Value::Global(_) => "a class or function",
        Value::Storage(_) => "a storage",
        Value::Tensor(_) => "a tensor",
    }
}

#[cfg(test)]
mod tests;
