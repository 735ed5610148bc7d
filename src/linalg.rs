//! The three matrix products of a dense layer, and the bias gradient:
//!
//! ```text
//! forward:   z  = a · W + b      (n, k) · (k, m) + (m,)
//! backward:  dW = aᵀ · dz        (k, n) · (n, m)
//!            da = dz · Wᵀ        (n, m) · (m, k)
//!            db = Σ_rows dz
//! ```
//!
//! All products go through ndarray's `general_mat_mul` (matrixmultiply), which sums over
//! `k` in a fixed order: results do not depend on thread counts. This is the one place to
//! change when choosing another kernel; row-by-row loops written for narrow layers (the
//! tutorial's 2 → 4 → 3 → 1) were measured 2× slower than matrixmultiply there (they do
//! not vectorize over 4-wide rows), so they are not used.

use crate::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

/// Batches of at most this many rows skip matrixmultiply in `affine` (see there).
pub const FEW_ROWS: usize = 4;

/// `z = a · W + b`.
///
/// For a few rows (predicting one sample, say) packing `W` — what matrixmultiply does on
/// every call — costs more than the product itself, so each row of `z` is accumulated as
/// `b + Σ_k a_k W[k, :]` over the contiguous rows of `W`.
pub fn affine<T: Float>(
    a: ArrayView2<T>,
    w: ArrayView2<T>,
    b: ArrayView1<T>,
    mut z: ArrayViewMut2<T>,
) {
    let m = w.ncols();
    let few = a.nrows() <= FEW_ROWS && m > 0 && z.strides()[1] == 1;
    if let (true, Some(w_s), Some(b_s)) = (few, w.as_slice(), b.as_slice()) {
        for (mut z_row, a_row) in z.rows_mut().into_iter().zip(a.rows()) {
            let z_row = z_row.as_slice_mut().expect("unit column stride");
            z_row.copy_from_slice(b_s);
            for (&a_k, w_row) in a_row.iter().zip(w_s.chunks_exact(m)) {
                for (z_j, &w_kj) in z_row.iter_mut().zip(w_row) {
                    *z_j += a_k * w_kj;
                }
            }
        }
        return;
    }
    // The bias is written first and the product accumulated onto it (β = 1).
    z.assign(&b);
    general_mat_mul(T::one(), &a, &w, T::one(), &mut z);
}

/// `dW = aᵀ · dz` (overwrites `dw`).
pub fn at_b<T: Float>(a: ArrayView2<T>, dz: ArrayView2<T>, mut dw: ArrayViewMut2<T>) {
    general_mat_mul(T::one(), &a.t(), &dz, T::zero(), &mut dw);
}

/// `da = dz · Wᵀ` (overwrites `da`).
pub fn a_bt<T: Float>(dz: ArrayView2<T>, w: ArrayView2<T>, mut da: ArrayViewMut2<T>) {
    general_mat_mul(T::one(), &dz, &w.t(), T::zero(), &mut da);
}

/// `db = Σ_rows dz` (overwrites `db`).
pub fn column_sums<T: Float>(dz: ArrayView2<T>, db: &mut ndarray::Array1<T>) {
    db.fill(T::zero());
    let m = dz.ncols();
    match (dz.as_slice(), db.as_slice_mut()) {
        // Narrow layers (the tutorial's 4, 3, 1 units): accumulators of a fixed width stay
        // in registers; a runtime-width inner loop of 1 to 8 does not vectorize.
        (Some(dz_s), Some(db_s)) if (1..=8).contains(&m) => match m {
            1 => narrow_sums::<T, 1>(dz_s, db_s),
            2 => narrow_sums::<T, 2>(dz_s, db_s),
            3 => narrow_sums::<T, 3>(dz_s, db_s),
            4 => narrow_sums::<T, 4>(dz_s, db_s),
            5 => narrow_sums::<T, 5>(dz_s, db_s),
            6 => narrow_sums::<T, 6>(dz_s, db_s),
            7 => narrow_sums::<T, 7>(dz_s, db_s),
            _ => narrow_sums::<T, 8>(dz_s, db_s),
        },
        (Some(dz_s), Some(db_s)) if m > 0 => {
            for row in dz_s.chunks_exact(m) {
                for (s, &v) in db_s.iter_mut().zip(row) {
                    *s += v;
                }
            }
        }
        _ => {
            for row in dz.rows() {
                *db += &row;
            }
        }
    }
}

/// Column sums of a row-major matrix of `M` columns, rows added in order.
fn narrow_sums<T: Float, const M: usize>(dz: &[T], db: &mut [T]) {
    let mut acc = [T::zero(); M];
    for row in dz.chunks_exact(M) {
        for j in 0..M {
            acc[j] += row[j];
        }
    }
    db.copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array1, Array2};

    fn seq(n: usize, m: usize, offset: f64) -> Array2<f64> {
        Array2::from_shape_fn((n, m), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 * 0.25 - offset
        })
    }

    /// The products and the column sums against ndarray's `dot` (exactly, on these
    /// quarter-integers), for contiguous and strided operands.
    #[test]
    fn kernels_agree_with_general_mat_mul() {
        for (n, k, m) in [
            (5, 2, 4),
            (3, 4, 3),
            (7, 16, 16),
            (4, 40, 30),
            (1, 1, 1),
            (1, 9, 33),
        ] {
            let a = seq(n, k, 1.0);
            let w = seq(k, m, 0.5);
            let b = Array1::from_shape_fn(m, |j| j as f64);
            let dz = seq(n, m, 0.75);
            let want_z = a.dot(&w) + &b;
            let want_dw = a.t().dot(&dz);
            let want_da = dz.dot(&w.t());
            let want_db = dz.sum_axis(ndarray::Axis(0));
            let (mut z, mut dw, mut da, mut db) = (
                Array2::zeros((n, m)),
                Array2::zeros((k, m)),
                Array2::zeros((n, k)),
                Array1::zeros(m),
            );
            affine(a.view(), w.view(), b.view(), z.view_mut());
            at_b(a.view(), dz.view(), dw.view_mut());
            a_bt(dz.view(), w.view(), da.view_mut());
            column_sums(dz.view(), &mut db);
            assert_eq!(
                (&z, &dw, &da, &db),
                (&want_z, &want_dw, &want_da, &want_db),
                "{n}x{k}x{m}"
            );
            // Strided inputs take the general path and agree too.
            let a2 =
                Array2::from_shape_fn(
                    (n, 2 * k),
                    |(i, j)| {
                        if j % 2 == 0 {
                            a[[i, j / 2]]
                        } else {
                            99.0
                        }
                    },
                );
            let a_strided = a2.slice(s![.., ..;2]);
            affine(a_strided, w.view(), b.view(), z.view_mut());
            assert_eq!(z, want_z);
        }
    }
}
