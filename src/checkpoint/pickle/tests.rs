//! The restricted unpickler against pickles written by CPython's `pickle.dumps` (bytes pasted
//! from Python 3.11) and against hand-written hostile ones.

use super::*;

/// A Python-like rendering of a value, for comparing against what Python printed.
fn show(p: &Pickle, v: &Value) -> String {
    let join = |xs: &[Value]| xs.iter().map(|x| show(p, x)).collect::<Vec<_>>().join(", ");
    match v {
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => format!("'{s}'"),
        Value::Bytes(b) => format!("b{b:?}"),
        Value::Obj(id) => match p.obj(*id) {
            Obj::List(x) => format!("[{}]", join(x)),
            Obj::Tuple(x) => format!("({})", join(x)),
            Obj::Set(x) => format!("{{{}}}", join(x)),
            Obj::Dict(d) => format!(
                "{{{}}}",
                d.iter()
                    .map(|(k, v)| format!("{}: {}", show(p, k), show(p, v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Value::Global(g) => format!("<{g:?}>"),
        Value::Storage(s) => format!("<storage {} {}>", s.key, s.dtype.name),
        Value::Tensor(t) => format!("<tensor {:?}>", t.shape),
    }
}

const EXPECT: &str = "{'a': 1, 'b': [1, 2.5, 'x'], 'c': (True, None, -3), \
                      'd': 1180591620717411303424, 'e': b[0, 1]}";

#[test]
fn every_protocol_reads_the_same_value() {
    // pickle.dumps({'a': 1, 'b': [1, 2.5, 'x'], 'c': (True, None, -3), 'd': 2**70,
    //               'e': b'\x00\x01'}, protocol=p)
    let p0: &[u8] = b"(dp0\nVa\np1\nI1\nsVb\np2\n(lp3\nI1\naF2.5\naVx\np4\nasVc\np5\n(I01\nNI-3\ntp6\nsVd\np7\nL1180591620717411303424L\nsVe\np8\nc_codecs\nencode\np9\n(V\\u0000\x01\np10\nVlatin1\np11\ntp12\nRp13\ns.";
    let p2: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x04eX\x01\x00\x00\x00cq\x05\x88NJ\xfd\xff\xff\xff\x87q\x06X\x01\x00\x00\x00dq\x07\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@X\x01\x00\x00\x00eq\x08c_codecs\nencode\nq\tX\x02\x00\x00\x00\x00\x01q\nX\x06\x00\x00\x00latin1q\x0b\x86q\x0cRq\ru.";
    let p4: &[u8] = b"\x80\x04\x95G\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x01\x8c\x01b\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00\x8c\x01x\x94e\x8c\x01c\x94\x88NJ\xfd\xff\xff\xff\x87\x94\x8c\x01d\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x01e\x94C\x02\x00\x01\x94u.";
    for (proto, bytes) in [(0, p0), (2, p2), (4, p4)] {
        let p = load(bytes).unwrap_or_else(|e| panic!("protocol {proto}: {e}"));
        assert_eq!(show(&p, &p.value), EXPECT, "protocol {proto}");
        assert_eq!(p.end, bytes.len());
    }
}

#[test]
fn memo_shares_mutable_containers() {
    // a = [1]; pickle.dumps({'x': a, 'y': a}, protocol=2): 'y' is a memo fetch of the list
    // that was filled after it was memoized.
    let b = b"\x80\x02}q\x00(X\x01\x00\x00\x00xq\x01]q\x02K\x01aX\x01\x00\x00\x00yq\x03h\x02u.";
    let p = load(b).unwrap();
    assert_eq!(show(&p, &p.value), "{'x': [1], 'y': [1]}");
}

/// A marker file that must never appear: the hostile pickles below would create it if any
/// of their calls ran.
fn marker() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("htdiag-pwned-{}", std::process::id()))
}

#[test]
fn os_system_and_eval_are_refused_by_name_and_never_run() {
    let m = marker();
    let cmd = format!("touch {}", m.display());
    // Protocol 0: GLOBAL 'posix system', MARK, STRING cmd, TUPLE, REDUCE, STOP.
    let p0 = format!("cposix\nsystem\n(S'{cmd}'\ntR.");
    let e = load(p0.as_bytes()).unwrap_err();
    assert!(e.contains("refused global 'posix.system'"), "{e}");
    // Protocol 4: STACK_GLOBAL builtins.eval applied to a string.
    let code = format!("__import__('os').system('{cmd}')");
    let mut p4 = b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94".to_vec();
    p4.push(0x8c);
    p4.push(code.len() as u8);
    p4.extend(code.as_bytes());
    p4.extend(b"\x85R.");
    let e = load(&p4).unwrap_err();
    assert!(e.contains("refused global 'builtins.eval'"), "{e}");
    // The same call hidden inside an allowed-looking state dict entry.
    let nested = b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00wcos\nsystem\nX\x04\x00\x00\x00true\x85Ru.";
    let e = load(nested).unwrap_err();
    assert!(e.contains("'os.system'"), "{e}");
    assert!(!m.exists(), "a refused pickle ran a command");
}

#[test]
fn torch_globals_build_tensors() {
    // _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 6) persistent, 1, (2, 2),
    // (3, 1), False, OrderedDict()), as torch.save writes it (protocol 2).
    let b = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQK\x01K\x02K\x02\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)RtR.";
    let p = load(b).unwrap();
    let Value::Tensor(t) = &p.value else {
        panic!("not a tensor: {}", show(&p, &p.value))
    };
    assert_eq!(
        (t.offset, &t.shape[..], &t.stride[..]),
        (1, &[2, 2][..], &[3, 1][..])
    );
    assert_eq!(
        (&*t.storage.key, t.storage.numel, t.storage.dtype.name),
        ("0", 6, "F32")
    );
}

#[test]
fn hostile_structures_are_errors_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "needs 1 bytes"),
        (b"\x80\x02", "needs 1 bytes"),
        (b"\x80\x09.", "protocol 9"),
        (b"h\x05.", "never stored"),
        (b"a.", "underflow"),
        (b"(e.", "empty stack"),
        (b"X\xff\xff\xff\xff.", "remain"),
        (b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", "remain"),
        (b"\x8a\x20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", "too large"),
        (b"K\x01)R.", "cannot call an int"),
        (b"]]K\x01s.", "not a dict"),
        (b"\xfe", "unknown opcode"),
        (b"(K\x01d.", "odd"),
        (b"Q.", "underflow"),
        (b"\x82\x01.", "extension"),
        (b"N\x95\x01\x00\x00\x00\x00\x00\x00\x00", "needs 1 bytes"),
    ];
    for (bytes, needle) in cases {
        let e = load(bytes).expect_err("hostile pickle accepted");
        assert!(e.contains(needle), "{bytes:?}: '{e}' lacks '{needle}'");
    }
}

#[test]
fn memo_fetch_bomb_stays_small() {
    // A list holding one string, then 200k fetches of that list appended to another list:
    // with copying memo fetches this would be 200k copies; here it is 200k handles.
    let mut b = b"\x80\x02]q\x00X\x00\x00\x10\x00".to_vec();
    b.extend(std::iter::repeat_n(b'a', 0x10_0000));
    b.extend(b"a]q\x01(");
    for _ in 0..200_000 {
        b.extend(b"h\x00");
    }
    b.extend(b"e.");
    let p = load(&b).unwrap();
    assert_eq!(p.objs.len(), 2);
    assert!(matches!(p.obj(1), Obj::List(x) if x.len() == 200_000));
}
