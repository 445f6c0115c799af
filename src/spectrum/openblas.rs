//! Control of the system OpenBLAS: its thread count and the CPU kernel it picked.
//!
//! htdiag parallelises over layers with rayon, so BLAS must run single-threaded inside the
//! workers: OpenBLAS threads spin while waiting, and 2 rayon workers x 2 BLAS threads measured
//! 2-2.6x slower than 2 x 1 (PERFORMANCE.md).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

unsafe extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
    fn openblas_get_corename() -> *const c_char;
}

/// Sets the number of threads OpenBLAS uses for each call.
pub fn set_num_threads(n: usize) {
    unsafe { openblas_set_num_threads(n.clamp(1, 1024) as c_int) }
}

/// The number of threads OpenBLAS currently uses.
pub fn num_threads() -> usize {
    unsafe { openblas_get_num_threads().max(1) as usize }
}

/// The kernel family OpenBLAS selected for this CPU ("Haswell", "SkylakeX", "Prescott", ...).
/// "Prescott" on an AVX2 machine means an old OpenBLAS that does not know the CPU and runs
/// 1.3-3x slower; setting `OPENBLAS_CORETYPE` before start-up fixes it.
pub fn core_name() -> String {
    unsafe {
        let p = openblas_get_corename();
        if p.is_null() {
            return "unknown".into();
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
