//! A batch's rows: gathered into owned buffers when shuffling, else views of X and y.

use crate::{Float, Target};
use ndarray::{s, Array1, Array2, ArrayView2, Axis, Zip};

/// Owned buffers for a gathered batch of targets.
pub(super) enum BatchTarget<T> {
    Dense(Array2<T>),
    Labels(Array1<usize>),
}

/// Copies rows `rows` of `x` into the first rows of `xb`.
pub(super) fn gather_rows<'b, T: Float>(
    x: ArrayView2<T>,
    rows: &[usize],
    xb: &'b mut Array2<T>,
) -> ArrayView2<'b, T> {
    let m = rows.len();
    Zip::from(xb.slice_mut(s![..m, ..]).rows_mut())
        .and(rows)
        .for_each(|mut dst, &r| dst.assign(&x.row(r)));
    xb.slice(s![..m, ..])
}

/// Copies rows `rows` of `y` into the first rows of the batch buffer.
pub(super) fn gather_target<'b, T: Float>(
    y: Target<T>,
    rows: &[usize],
    yb: &'b mut BatchTarget<T>,
) -> Target<'b, T> {
    let m = rows.len();
    match (y, yb) {
        (Target::Dense(y), BatchTarget::Dense(buf)) => {
            Zip::from(buf.slice_mut(s![..m, ..]).rows_mut())
                .and(rows)
                // Element by element: a row of targets is a few values, short for memcpy.
                .for_each(|dst, &r| dst.into_iter().zip(y.row(r)).for_each(|(d, &v)| *d = v));
            Target::Dense(buf.slice(s![..m, ..]))
        }
        (Target::Labels(labels), BatchTarget::Labels(buf)) => {
            Zip::from(buf.slice_mut(s![..m]))
                .and(rows)
                .for_each(|dst, &r| *dst = labels[r]);
            Target::Labels(buf.slice(s![..m]))
        }
        _ => unreachable!("batch buffers are made for the kind of target"),
    }
}

pub(super) fn slice_target<'s, T: Float>(
    y: &'s Target<'_, T>,
    r: std::ops::Range<usize>,
) -> Target<'s, T> {
    match y {
        Target::Dense(y) => Target::Dense(y.slice_axis(Axis(0), r.into())),
        Target::Labels(l) => Target::Labels(l.slice_axis(Axis(0), r.into())),
    }
}
