//! Dropout masks as a pure function of `(run seed, optimizer step, node, element)`, so the CPU
//! reference and the wgpu kernels (`elementwise.wgsl`'s modes 4 and 5) drop exactly the same
//! elements and a run is reproducible on either backend.
//!
//! The hash is PCG-RXS-M-XS (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT 2020):
//! one 32-bit multiply-xorshift round, cheap in WGSL, which has no 64-bit integers.

/// PCG-RXS-M-XS hash, as `pcg` in elementwise.wgsl.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// `p * 2^32` as the u32 threshold of the dropout test (saturating): an element is dropped when
/// its hash is below it, so it is dropped with probability `p` up to 2^-32.
pub fn threshold(p: f32) -> u32 {
    (p.clamp(0.0, 1.0) as f64 * 4_294_967_296.0).min(u32::MAX as f64) as u32
}

/// Whether dropout keeps element `i` (flat index in the batch, sample-major) under `seed`.
pub fn keep(seed: u32, i: u32, p: f32) -> bool {
    pcg(i.wrapping_add(pcg(seed))) >= threshold(p)
}

/// The mask seed of node `node`'s dropout at optimizer step `t` of a run seeded `seed`.
pub fn mask_seed(seed: u64, t: u64, node: usize) -> u32 {
    let run = pcg(seed as u32 ^ pcg((seed >> 32) as u32));
    pcg(run ^ (t as u32).wrapping_mul(0x9e37_79b9) ^ pcg(node as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept fraction is `1 - p` within binomial noise, masks differ between steps and
    /// nodes, and p = 0 / p = 1 keep everything / nothing.
    #[test]
    fn masks_keep_one_minus_p_and_vary_with_step_and_node() {
        let n = 100_000u32;
        let kept = |s: u32, p: f32| (0..n).filter(|&i| keep(s, i, p)).count();
        let s = mask_seed(7, 1, 3);
        let frac = kept(s, 0.3) as f64 / n as f64;
        assert!((frac - 0.7).abs() < 0.005, "kept {frac}");
        assert_eq!(kept(s, 0.0), n as usize);
        assert_eq!(kept(s, 1.0), 0);
        assert_ne!(s, mask_seed(7, 2, 3));
        assert_ne!(s, mask_seed(7, 1, 4));
        assert_ne!(s, mask_seed(8, 1, 3));
    }
}
