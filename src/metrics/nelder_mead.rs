//! Nelder-Mead simplex minimisation with the exact semantics of scipy's `optimize.fmin`
//! (Nelder & Mead, Computer Journal 7, 1965; scipy's non-adaptive coefficients), so the
//! Marchenko-Pastur fit polishes its grid optimum exactly as WeightWatcher's
//! `optimize.brute(..., finish=fmin)` does.

/// Settings of [`fmin`]; the defaults are scipy's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NelderMead {
    /// Absolute tolerance on the simplex size (scipy `xtol`).
    pub xtol: f64,
    /// Absolute tolerance on the function-value spread (scipy `ftol`).
    pub ftol: f64,
    /// Iteration limit; `None` = 200 * dimension.
    pub max_iter: Option<usize>,
    /// Function-evaluation limit; `None` = 200 * dimension.
    pub max_fun: Option<usize>,
}

impl Default for NelderMead {
    fn default() -> Self {
        NelderMead {
            xtol: 1e-4,
            ftol: 1e-4,
            max_iter: None,
            max_fun: None,
        }
    }
}

/// Reflection, expansion, contraction and shrink coefficients (scipy, non-adaptive).
const RHO: f64 = 1.0;
const CHI: f64 = 2.0;
const PSI: f64 = 0.5;
const SIGMA: f64 = 0.5;
/// Relative and absolute initial simplex steps.
const NONZDELT: f64 = 0.05;
const ZDELT: f64 = 0.00025;

/// Minimises `f` from `x0`; returns `(x, f(x))`.
pub fn fmin(mut f: impl FnMut(&[f64]) -> f64, x0: &[f64], opts: &NelderMead) -> (Vec<f64>, f64) {
    let n = x0.len();
    if n == 0 {
        return (Vec::new(), f(&[]));
    }
    let max_iter = opts.max_iter.unwrap_or(200 * n);
    let max_fun = opts.max_fun.unwrap_or(200 * n);
    let mut calls = 0usize;
    // scipy raises (and stops) when the limit is passed; we stop before evaluating.
    let mut eval = |x: &[f64], calls: &mut usize| -> Option<f64> {
        if *calls >= max_fun {
            return None;
        }
        *calls += 1;
        Some(f(x))
    };

    let mut sim: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    sim.push(x0.to_vec());
    for k in 0..n {
        let mut y = x0.to_vec();
        y[k] = if y[k] != 0.0 {
            (1.0 + NONZDELT) * y[k]
        } else {
            ZDELT
        };
        sim.push(y);
    }
    let mut fsim = vec![f64::INFINITY; n + 1];
    for k in 0..=n {
        match eval(&sim[k], &mut calls) {
            Some(v) => fsim[k] = v,
            None => break,
        }
    }
    sort_simplex(&mut sim, &mut fsim);

    let mut iterations = 1usize;
    'outer: while calls < max_fun && iterations < max_iter {
        let xspread = sim[1..]
            .iter()
            .flat_map(|s| s.iter().zip(&sim[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0f64, f64::max);
        let fspread = fsim[1..]
            .iter()
            .map(|v| (fsim[0] - v).abs())
            .fold(0.0f64, f64::max);
        if xspread <= opts.xtol && fspread <= opts.ftol {
            break;
        }
        let xbar: Vec<f64> = (0..n)
            .map(|j| sim[..n].iter().map(|s| s[j]).sum::<f64>() / n as f64)
            .collect();
        let worst = sim[n].clone();
        let lin = |a: f64, b: f64| -> Vec<f64> {
            xbar.iter()
                .zip(&worst)
                .map(|(x, w)| a * x - b * w)
                .collect()
        };
        let xr = lin(1.0 + RHO, RHO);
        let Some(fxr) = eval(&xr, &mut calls) else {
            break;
        };
        let mut doshrink = false;
        if fxr < fsim[0] {
            let xe = lin(1.0 + RHO * CHI, RHO * CHI);
            let Some(fxe) = eval(&xe, &mut calls) else {
                break;
            };
            if fxe < fxr {
                sim[n] = xe;
                fsim[n] = fxe;
            } else {
                sim[n] = xr;
                fsim[n] = fxr;
            }
        } else if fxr < fsim[n - 1] {
            sim[n] = xr;
            fsim[n] = fxr;
        } else if fxr < fsim[n] {
            // Outside contraction.
            let xc = lin(1.0 + PSI * RHO, PSI * RHO);
            let Some(fxc) = eval(&xc, &mut calls) else {
                break;
            };
            if fxc <= fxr {
                sim[n] = xc;
                fsim[n] = fxc;
            } else {
                doshrink = true;
            }
        } else {
            // Inside contraction.
            let xcc: Vec<f64> = xbar
                .iter()
                .zip(&worst)
                .map(|(x, w)| (1.0 - PSI) * x + PSI * w)
                .collect();
            let Some(fxcc) = eval(&xcc, &mut calls) else {
                break;
            };
            if fxcc < fsim[n] {
                sim[n] = xcc;
                fsim[n] = fxcc;
            } else {
                doshrink = true;
            }
        }
        if doshrink {
            for j in 1..=n {
                let s: Vec<f64> = sim[0]
                    .iter()
                    .zip(&sim[j])
                    .map(|(b, x)| b + SIGMA * (x - b))
                    .collect();
                sim[j] = s;
                match eval(&sim[j], &mut calls) {
                    Some(v) => fsim[j] = v,
                    None => {
                        sort_simplex(&mut sim, &mut fsim);
                        break 'outer;
                    }
                }
            }
        }
        iterations += 1;
        sort_simplex(&mut sim, &mut fsim);
    }
    let fval = fsim.iter().copied().fold(f64::INFINITY, f64::min);
    (sim.swap_remove(0), fval)
}

/// Orders the simplex by function value, stably (numpy's argsort on these tiny arrays is an
/// insertion sort, hence stable); NaN sorts last.
fn sort_simplex(sim: &mut Vec<Vec<f64>>, fsim: &mut Vec<f64>) {
    let mut idx: Vec<usize> = (0..fsim.len()).collect();
    idx.sort_by(|&a, &b| fsim[a].total_cmp(&fsim[b]));
    *sim = idx.iter().map(|&i| sim[i].clone()).collect();
    *fsim = idx.iter().map(|&i| fsim[i]).collect();
}
