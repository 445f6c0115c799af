//! The numbers: the analyze pipeline and every value of WeightWatcher 0.7.6's vectors,
//! property tests of the power-law fit, the fuzz corpus replayed, and the heavy-tailed
//! penalties' gradients against finite differences. Run one module with
//! `cargo test --test numerics penalties::`.

mod conformance_vectors;
mod fuzz_corpus;
mod penalties;
mod pipeline;
mod prop_fit;
