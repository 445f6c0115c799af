//! Module imports are one-way (README "Design"; issue 15): no cycle among the top-level
//! modules of the library (`src/*`) nor among the binary's modules (`src/bin/htdiag/*`).
//!
//! The check reads the source, not the compiler's view: every `crate::NAME` path in code
//! (comments stripped, so doc links do not count), including grouped imports
//! `use crate::{a, b::c}`, is an edge from the file's top-level module to `NAME`; names the
//! crate root re-exports (`pub use error::{Error, Result}`) resolve to their module. Cycles
//! are the strongly connected components of that graph (Tarjan 1972).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `from -> to -> files that make the edge`.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The line without its `//` comment (a `//` inside a string literal is kept).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && b.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first path segment of each item of a `{...}` group (text after the `{`), and the
/// first segment of a plain path.
fn first_segments(rest: &str, out: &mut Vec<String>) {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        out.push(item);
        for s in out.iter_mut() {
            *s = s.trim().chars().take_while(|&c| is_ident(c)).collect();
        }
        out.retain(|s| !s.is_empty() && s != "self");
    } else {
        out.push(rest.chars().take_while(|&c| is_ident(c)).collect());
    }
}

/// Names referred to as `crate::NAME` in `text` (code only).
fn crate_refs(text: &str) -> Vec<String> {
    // Joined so that a grouped `use` spanning lines is seen whole.
    let code: String = text
        .lines()
        .map(strip_comment)
        .collect::<Vec<_>>()
        .join(" ");
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find("crate::") {
        let at = from + pos;
        from = at + "crate::".len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue;
        }
        first_segments(&code[from..], &mut names);
    }
    names
}

/// Modules declared by the crate root (`mod x;`) and the root's re-exports (`pub use
/// x::{A, B}` maps `A` and `B` to `x`).
fn root_names(root: &Path) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(root).unwrap();
    let mut mods = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in text.lines().map(|l| strip_comment(l).trim()) {
        let line = line.strip_prefix("pub ").unwrap_or(line);
        if let Some(m) = line.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            mods.insert(m.trim().to_string());
        } else if let Some(u) = line.strip_prefix("use ") {
            let Some((module, rest)) = u.split_once("::") else {
                continue;
            };
            let mut names = Vec::new();
            first_segments(rest.trim_end_matches(';'), &mut names);
            for n in names {
                reexports.insert(n, module.to_string());
            }
        }
    }
    (mods, reexports)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The import graph among the top-level modules of the crate whose root file is
/// `dir/root` (`skip`: sub-folders of `dir` that are other crates).
fn graph(dir: &Path, root: &str, skip: &[&str]) -> Graph {
    let (mods, reexports) = root_names(&dir.join(root));
    assert!(!mods.is_empty(), "no modules declared in {root}");
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut g = Graph::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if skip.contains(&module.as_str()) || first == root {
            continue;
        }
        assert!(mods.contains(&module), "{} is not in a module", f.display());
        let text = std::fs::read_to_string(&f).unwrap();
        for name in crate_refs(&text) {
            let target = reexports.get(&name).cloned().unwrap_or(name);
            if target != module && mods.contains(&target) {
                g.entry(module.clone())
                    .or_default()
                    .entry(target)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.g.get(v).into_iter().flat_map(|m| m.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// A readable account of each cycle: its modules and the files behind each edge inside it.
fn describe(g: &Graph, found: &[Vec<String>]) -> String {
    let mut s = String::new();
    for comp in found {
        s += &format!("cycle among {comp:?}:\n");
        for a in comp {
            for (b, files) in g.get(a).into_iter().flatten() {
                if comp.contains(b) {
                    s += &format!("  {a} -> {b} in {files:?}\n");
                }
            }
        }
    }
    s
}

fn assert_acyclic(dir: &str, root: &str, skip: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let g = graph(&dir, root, skip);
    let found = cycles(&g);
    assert!(found.is_empty(), "{}", describe(&g, &found));
}

#[test]
fn library_modules_import_one_way() {
    assert_acyclic("src", "lib.rs", &["bin"]);
}

#[test]
fn binary_modules_import_one_way() {
    assert_acyclic("src/bin/htdiag", "main.rs", &[]);
}

/// The checker itself, on a made-up crate: finds the cycle, ignores comments and doc links,
/// reads grouped imports and root re-exports.
#[test]
fn checker_finds_a_planted_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let w = |p: &str, t: &str| {
        std::fs::create_dir_all(d.join(p).parent().unwrap()).unwrap();
        std::fs::write(d.join(p), t).unwrap();
    };
    w(
        "lib.rs",
        "pub mod a;\npub mod b;\nmod c;\npub mod d;\npub use c::{Thing, Other};\n",
    );
    w("a.rs", "use crate::{b::X, d};\n");
    w("b/mod.rs", "mod inner;\n");
    w("b/inner.rs", "fn f() -> crate::Thing { todo!() }\n");
    w(
        "c.rs",
        "/// See [`crate::d`]\n// crate::d\nconst S: &str = \"x\"; // use crate::d;\n\
         use crate::{\n    a::Y,\n};\n",
    );
    w("d.rs", "macro_rules! m { () => { $crate::a::Z } }\n");
    let g = graph(d, "lib.rs", &[]);
    assert_eq!(g["a"].keys().collect::<Vec<_>>(), ["b", "d"]);
    assert_eq!(g["b"].keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(g["c"].keys().collect::<Vec<_>>(), ["a"]);
    assert!(!g.contains_key("d"), "$crate and comments are not edges");
    let found = cycles(&g);
    assert_eq!(found, vec![vec!["a", "b", "c"]]);
    assert!(describe(&g, &found).contains("b -> c in {\"b/inner.rs\"}"));
}
