//! Batch gather: rows of the dataset picked by the epoch's order, u8 pixels normalised on the
//! way. The CPU twin of shaders/gather.wgsl.

use crate::data::{Dataset, Features, Targets, PIXEL_SCALE};
use crate::scalar::Scalar;

/// data rows `order` -> x (B, dim); labels or target values for the same rows.
pub fn gather_batch<T: Scalar>(data: &Dataset, order: &[u32], x: &mut [T], labels: &mut Vec<u32>, values: &mut Vec<f32>) {
    let d = data.dim;
    for (b, &i) in order.iter().enumerate() {
        let i = i as usize;
        let dst = &mut x[b * d..(b + 1) * d];
        match &data.features {
            Features::U8(v) => {
                for (o, &p) in dst.iter_mut().zip(&v[i * d..(i + 1) * d]) {
                    *o = T::from_f64_lossy((p as f32 * PIXEL_SCALE) as f64);
                }
            }
            Features::F32(v) => {
                for (o, &p) in dst.iter_mut().zip(&v[i * d..(i + 1) * d]) {
                    *o = T::from_f64_lossy(p as f64);
                }
            }
        }
    }
    labels.clear();
    values.clear();
    match &data.targets {
        Targets::Classes { labels: l, .. } => labels.extend(order.iter().map(|&i| l[i as usize])),
        Targets::Values { data: v, dim } => {
            for &i in order {
                values.extend_from_slice(&v[i as usize * dim..(i as usize + 1) * dim]);
            }
        }
    }
}
