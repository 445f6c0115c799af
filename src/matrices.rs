//! From tensors to matrices (METRICS.md section 1): strided views over a tensor's bytes that
//! widen to f64 on demand, so no full f64 copy of a layer is ever needed.

use crate::checkpoint::dtype::FloatDtype;

/// A strided, read-only matrix over little-endian float storage.
///
/// Element `(r, c)` lives at storage index `offset + r * row_stride + c * col_stride`. Dense
/// layers are `row_stride = cols, col_stride = 1`; the conv slice `W[:, :, i, j]` of an
/// `(out, in, kh, kw)` tensor is `rows = out, cols = in, row_stride = in*kh*kw,
/// col_stride = kh*kw, offset = i*kw + j`.
#[derive(Debug, Clone, Copy)]
pub struct MatrixRef<'a> {
    /// Raw storage of the whole tensor.
    pub bytes: &'a [u8],
    /// Storage type.
    pub dtype: FloatDtype,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Storage elements between consecutive rows.
    pub row_stride: usize,
    /// Storage elements between consecutive columns.
    pub col_stride: usize,
    /// Storage index of element (0, 0).
    pub offset: usize,
}

impl<'a> MatrixRef<'a> {
    /// A row-major dense matrix over `bytes`.
    pub fn dense(bytes: &'a [u8], dtype: FloatDtype, rows: usize, cols: usize) -> Self {
        MatrixRef {
            bytes,
            dtype,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
            offset: 0,
        }
    }

    /// A row-major dense matrix over an f64 slice.
    pub fn from_f64(data: &'a [f64], rows: usize, cols: usize) -> Self {
        Self::dense(bytemuck::cast_slice(data), FloatDtype::F64, rows, cols)
    }

    /// Slice `(i, j)` of an `(out, in, kh, kw)` conv kernel stored row-major in `bytes`.
    pub fn conv_slice(
        bytes: &'a [u8],
        dtype: FloatDtype,
        shape: [usize; 4],
        i: usize,
        j: usize,
    ) -> Self {
        let [out, inp, kh, kw] = shape;
        MatrixRef {
            bytes,
            dtype,
            rows: out,
            cols: inp,
            row_stride: inp * kh * kw,
            col_stride: kh * kw,
            offset: i * kw + j,
        }
    }

    /// Element `(r, c)` widened to f64.
    #[inline(always)]
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.dtype.read(
            self.bytes,
            self.offset + r * self.row_stride + c * self.col_stride,
        )
    }

    /// Copies rows `r0..r1` into `out` as a column-major `cols x (r1 - r0)` block, i.e. the
    /// row-major block itself (`out[(r - r0) * cols + c] = W[r, c]`).
    pub fn rows_into(&self, r0: usize, r1: usize, out: &mut [f64]) {
        let cols = self.cols;
        for (k, r) in (r0..r1).enumerate() {
            let dst = &mut out[k * cols..(k + 1) * cols];
            self.read_row(r, dst);
        }
    }

    /// Copies columns `c0..c1` into `out` row-major (`out[r * (c1 - c0) + (c - c0)] = W[r, c]`).
    pub fn cols_into(&self, c0: usize, c1: usize, out: &mut [f64]) {
        let w = c1 - c0;
        for r in 0..self.rows {
            for (k, c) in (c0..c1).enumerate() {
                out[r * w + k] = self.get(r, c);
            }
        }
    }

    /// Row `r` into `dst` (length `cols`), with a fast path for contiguous f32/f64 rows.
    fn read_row(&self, r: usize, dst: &mut [f64]) {
        let base = self.offset + r * self.row_stride;
        if self.col_stride == 1 {
            let sz = self.dtype.size();
            let raw = &self.bytes[base * sz..(base + self.cols) * sz];
            match self.dtype {
                FloatDtype::F32 => {
                    for (d, ch) in dst.iter_mut().zip(raw.chunks_exact(4)) {
                        *d = f32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) as f64;
                    }
                    return;
                }
                FloatDtype::F64 => {
                    for (d, ch) in dst.iter_mut().zip(raw.chunks_exact(8)) {
                        *d = f64::from_le_bytes(ch.try_into().unwrap_or([0; 8]));
                    }
                    return;
                }
                _ => {}
            }
        }
        for (c, d) in dst.iter_mut().enumerate() {
            *d = self.dtype.read(self.bytes, base + c * self.col_stride);
        }
    }

    /// All elements, row-major, as f64 (for the few routes that need a copy: randomization).
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.rows * self.cols];
        self.rows_into(0, self.rows, &mut v);
        v
    }

    /// Whether any element is NaN or infinite; returns the first offending (row, col).
    pub fn find_non_finite(&self) -> Option<(usize, usize)> {
        let mut row = vec![0.0; self.cols];
        for r in 0..self.rows {
            self.read_row(r, &mut row);
            if let Some(c) = row.iter().position(|x| !x.is_finite()) {
                return Some((r, c));
            }
        }
        None
    }
}
