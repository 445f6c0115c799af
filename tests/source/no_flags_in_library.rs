//! The library never names a command-line flag in its messages (issue 15): its errors,
//! warnings and notes also reach Python users, for whom `--resume` means nothing. The
//! binary (`src/bin/`) adds the flag hint where an error reaches the command line.
//!
//! The check reads every string literal of `src/` outside `src/bin/` (comments, doc comments
//! included, are skipped) and refuses one holding a flag: `--` followed by a lowercase letter
//! at the start of the literal or after a character that cannot be part of a word.

use std::path::{Path, PathBuf};

/// `(line, text)` of every string literal (plain, byte, raw) of Rust source `src`.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                line += src[i..end].matches('\n').count();
                i = end;
                continue;
            }
            // A char literal ('"', '\'', 'x'); otherwise a lifetime, left to the loop.
            b'\'' => {
                let len = if b.get(i + 1) == Some(&b'\\') {
                    src[i + 2..].find('\'').map(|e| e + 3)
                } else {
                    let c = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + c) == Some(&b'\'')).then_some(c + 2)
                };
                i += len.unwrap_or(1);
                continue;
            }
            b'r' if !prev_is_ident(b, i) && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let start = i + 2 + hashes;
                    let close = format!("\"{}", "#".repeat(hashes));
                    let end = src[start..].find(&close).map_or(b.len(), |e| start + e);
                    out.push((line, src[start..end].to_string()));
                    line += src[start..end].matches('\n').count();
                    i = end + close.len();
                    continue;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                out.push((line, src[start..j.min(b.len())].to_string()));
                line += src[start..j.min(b.len())].matches('\n').count();
                i = j + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn prev_is_ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Whether `text` names a flag (`--resume`, `(--key`), not `a--b` or a `---` rule.
fn names_flag(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(2)).any(|i| {
        b[i] == b'-'
            && b[i + 1] == b'-'
            && b[i + 2].is_ascii_lowercase()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-'))
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_scanner_finds_literals_and_skips_comments() {
    let src = "/// pass --resume\nlet a = \"x --key y\"; // --fit\nlet c = '\"';\n\
               /* \"--no\" */ let r = r#\"raw \"--rules\" \"#; fn f<'a>(s: &'a str) {}\n\
               let d = b\"--clip\";";
    let lits = string_literals(src);
    let texts: Vec<&str> = lits.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["x --key y", "raw \"--rules\" ", "--clip"]);
    assert_eq!(lits.iter().map(|l| l.0).collect::<Vec<_>>(), [2, 4, 5]);
    assert!(names_flag("x --key y") && names_flag("--clip") && names_flag("(--fit peak)"));
    assert!(!names_flag("a--b") && !names_flag("---") && !names_flag("-- ") && !names_flag("--X"));
}

#[test]
fn library_messages_name_no_command_line_flag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.retain(|p| !p.starts_with(root.join("bin")));
    assert!(
        files.len() > 100,
        "{} files under {}",
        files.len(),
        root.display()
    );
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (line, lit) in string_literals(&text) {
            if names_flag(&lit) {
                let rel = f.strip_prefix(&root).unwrap().display();
                found.push(format!("src/{rel}:{line}: \"{lit}\""));
            }
        }
    }
    assert!(
        found.is_empty(),
        "library strings that name a command-line flag (describe the problem; let \
         src/bin/htdiag add the flag):\n{}",
        found.join("\n")
    );
}
