//! The CPU training path's networks: architecture rules on real and synthetic checkpoints,
//! and PyTorch's own evaluation of torch-trained CNNs reproduced. Run one module with
//! `cargo test --test train arch::`.

mod arch;
mod cnn_conformance;
