//! The floating-point type an estimator runs in. AlphaPruning (Lu et al., NeurIPS 2024) casts
//! every matrix to float32 and computes its eigenvalues, logs, histogram, alpha and D in
//! float32; TempBalance (Zhou et al., NeurIPS 2023) keeps the weight's dtype (float32 when
//! training). The estimators of [`super::median`] and [`super::peak`] are written once over
//! [`Real`] so `--precision f32` repeats that arithmetic and the default runs it in f64
//! (ALLOCATION.md sections 2 and 3).

/// Arithmetic precision of the median and peak estimators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Everything in f64 (the default).
    #[default]
    F64,
    /// Their float32 pipeline: eigenvalues rounded as `square(float32(sigma))`, and the logs,
    /// histogram, bin edges, alpha and D computed in f32.
    F32,
}

impl Precision {
    /// The name used in options and JSON (`f64`, `f32`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }
}

/// The operations the estimators need, for `f32` and `f64`.
pub trait Real:
    Copy
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// The value of an f64 constant in this type (rounded to nearest).
    fn of(v: f64) -> Self;
    /// Widened (exactly) to f64.
    fn wide(self) -> f64;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Base-10 logarithm.
    fn log10(self) -> Self;
    /// `self ^ e`.
    fn powf(self, e: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            #[inline]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn wide(self) -> f64 {
                self as f64
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn log10(self) -> Self {
                <$t>::log10(self)
            }
            #[inline]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
real!(f32);
real!(f64);

/// Eigenvalues as their float32 pipeline holds them: `square(svdvals(W.float()))`, i.e. the
/// singular value rounded to f32 and squared in f32. The order is kept (both steps are
/// monotone).
pub fn f32_eigenvalues(evals: &[f64]) -> Vec<f32> {
    evals
        .iter()
        .map(|&l| {
            let s = l.max(0.0).sqrt() as f32;
            s * s
        })
        .collect()
}
