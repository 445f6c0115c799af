//! Checks that read the source, not the compiled code: one-way module imports, and no
//! command-line flag named in library messages. They link nothing of htdiag.

mod module_cycles;
mod no_flags_in_library;
