//! Exit statuses and error messages of the command line: usage errors found after parsing
//! (status 2, like clap's own), `--strict` failures (3), fatal errors (1), each cause said
//! once, the flag that resolves a library error ([`Hinted`]: the library's messages name no
//! flag), and hints for flags people try that htdiag spells otherwise.

/// Exit statuses, as `htdiag --help` documents them.
pub const EXIT_HELP: &str = "Exit status: 0 every requested layer was analysed (rows whose fit \
failed are results, not errors); 1 a fatal error (unreadable checkpoint, unwritable output); \
2 a usage error (unknown flag, bad value); 3 with --strict, some rows have status 'error'. \
Ctrl-C during `analyze --out` exits with 130 after saving the finished layers.";

/// A usage error found after parsing (contradicting flags, a regex that matches nothing):
/// exit status 2, like clap's own.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A run that completed but must not exit 0 (`--strict` with error rows): exit status 3.
#[derive(Debug)]
pub struct Strict(pub String);

impl std::fmt::Display for Strict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Strict {}

/// A library error with the flag that resolves it. The library describes the problem in its
/// own words (Python users read the same text, where a flag means nothing); the command
/// reporting the error knows which flag does what the message asks, and adds it here.
#[derive(Debug)]
pub struct Hinted {
    /// The error as the library (and any context) said it.
    pub error: anyhow::Error,
    /// The flag to use, in a few words (`pass --resume to continue it`).
    pub hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", message(&self.error), self.hint)
    }
}

impl std::error::Error for Hinted {}

/// `error` with the flag `hint` added to its message.
pub fn hint(error: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        error: error.into(),
        hint: hint.into(),
    })
}

/// Flags people try that htdiag spells otherwise: `(subcommand, flag, hint)`.
const MISTAKES: [(&str, &str, &str); 2] = [
    (
        "analyze",
        "--output",
        "analyze has no --output: write results with --json FILE and/or --csv FILE, the page \
         with --report FILE.html (--out DIR is a folder for resumable runs)",
    ),
    (
        "analyze",
        "-o",
        "analyze has no -o: write results with --json FILE and/or --csv FILE, the page with \
         --report FILE.html (--out DIR is a folder for resumable runs)",
    ),
];

/// The hint for a misspelt flag in `args` (the command line without the program name).
pub fn mistake(args: &[String]) -> Option<&'static str> {
    let sub = args.iter().find(|a| !a.starts_with('-'))?;
    let sub = if sub == "analyse" { "analyze" } else { sub };
    MISTAKES.iter().find_map(|(s, flag, hint)| {
        let hit = args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        (*s == sub && hit).then_some(*hint)
    })
}

/// The error and its causes, each said once: a cause whose text the message already holds
/// (an OS error repeated by a wrapper) is left out.
pub fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}

/// The exit status of a failed run: 2 usage, 3 `--strict`, 1 anything else.
pub fn status(e: &anyhow::Error) -> u8 {
    if let Some(h) = e.downcast_ref::<Hinted>() {
        status(&h.error)
    } else if e.downcast_ref::<Usage>().is_some() {
        2
    } else if e.downcast_ref::<Strict>().is_some() {
        3
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_flag_gets_a_hint() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(mistake(&args("analyze m.safetensors --output r.json")).is_some());
        assert!(mistake(&args("analyse --output=r.json")).is_some());
        assert!(mistake(&args("report r.json --output r.html")).is_none());
    }

    #[test]
    fn a_hint_follows_the_message_and_keeps_the_status() {
        let lib = htdiag::Error::InvalidArgument("d already holds an analysis; resume it".into());
        let e = hint(lib, "pass --resume to continue it");
        let want = "invalid argument: d already holds an analysis; resume it (pass --resume to \
                    continue it)";
        assert_eq!(message(&e), want);
        assert_eq!(status(&e), 1);
        assert_eq!(message(&e.context("outer")), format!("outer: {want}"));
        assert_eq!(status(&hint(Usage("u".into()), "h")), 2);
    }

    #[test]
    fn causes_are_said_once() {
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(htdiag::Error::io("/x/m.safetensors", os));
        let text = message(&e);
        assert_eq!(text.matches("not found").count(), 1, "{text}");
        let wrapped = anyhow::anyhow!("inner cause").context("outer");
        assert_eq!(message(&wrapped), "outer: inner cause");
    }
}
