//! Blocked Gram matrix of a strided matrix: `dsyrk` over row (or column) blocks, so only one
//! block of widened f64 values exists at a time besides the k x k result.

use crate::matrices::MatrixRef;

/// Rows (or columns) widened per `dsyrk` call: large enough for BLAS efficiency, small enough
/// that the f64 block stays far below the Gram matrix itself.
const BLOCK: usize = 256;

/// Gram matrix of the smaller side of `w`: returns `(g, k)` with `k = min(rows, cols)` and the
/// upper triangle of the `k x k` matrix `W^T W` (if `cols <= rows`) or `W W^T` stored
/// column-major in `g`. The strict lower triangle is left at zero.
pub fn gram_upper(w: &MatrixRef<'_>) -> (Vec<f64>, usize) {
    let (rows, cols) = (w.rows, w.cols);
    let k = rows.min(cols);
    let mut g = vec![0.0; k * k];
    if k == 0 {
        return (g, 0);
    }
    if cols <= rows {
        // G = sum over row blocks B (b x cols, row-major) of B^T B. A row-major b x cols block
        // is column-major cols x b, i.e. A = B^T, and G += A A^T is dsyrk with trans = 'N'.
        let mut block = vec![0.0; BLOCK.min(rows) * cols];
        let mut r0 = 0;
        while r0 < rows {
            let r1 = (r0 + BLOCK).min(rows);
            let b = r1 - r0;
            w.rows_into(r0, r1, &mut block[..b * cols]);
            let beta = if r0 == 0 { 0.0 } else { 1.0 };
            unsafe {
                blas::dsyrk(
                    b'U',
                    b'N',
                    k as i32,
                    b as i32,
                    1.0,
                    &block[..b * cols],
                    cols as i32,
                    beta,
                    &mut g,
                    k as i32,
                );
            }
            r0 = r1;
        }
    } else {
        // G = W W^T = sum over column blocks C (rows x c, row-major) of C C^T. A row-major
        // rows x c block is column-major c x rows, i.e. A = C^T, and G += A^T A is
        // dsyrk with trans = 'T'.
        let mut block = vec![0.0; rows * BLOCK.min(cols)];
        let mut c0 = 0;
        while c0 < cols {
            let c1 = (c0 + BLOCK).min(cols);
            let c = c1 - c0;
            w.cols_into(c0, c1, &mut block[..rows * c]);
            let beta = if c0 == 0 { 0.0 } else { 1.0 };
            unsafe {
                blas::dsyrk(
                    b'U',
                    b'T',
                    k as i32,
                    c as i32,
                    1.0,
                    &block[..rows * c],
                    c as i32,
                    beta,
                    &mut g,
                    k as i32,
                );
            }
            c0 = c1;
        }
    }
    (g, k)
}
