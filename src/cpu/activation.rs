//! Bias-add + activation (forward) and activation derivative (backward): the CPU twins of the
//! matmul epilogues in shaders/matmul.wgsl. Derivatives use the activation's output `h`.

use crate::model::Activation;
use crate::scalar::Scalar;

/// h = f(z) for one element (the bias is already added).
#[inline(always)]
pub fn activate<T: Scalar>(act: Activation, z: T) -> T {
    match act {
        Activation::Identity => z,
        Activation::Relu => z.max(T::zero()),
        Activation::LeakyRelu(s) => {
            if z > T::zero() { z } else { z * T::from_f64_lossy(s as f64) }
        }
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => sigmoid(z),
    }
}

/// f'(z) expressed through h = f(z).
#[inline(always)]
pub fn activate_grad<T: Scalar>(act: Activation, h: T) -> T {
    match act {
        Activation::Identity => T::one(),
        Activation::Relu => if h > T::zero() { T::one() } else { T::zero() },
        // slope >= 0 (checked when parsed), so h > 0 exactly when z > 0
        Activation::LeakyRelu(s) => if h > T::zero() { T::one() } else { T::from_f64_lossy(s as f64) },
        Activation::Tanh => T::one() - h * h,
        Activation::Sigmoid => h * (T::one() - h),
    }
}

/// Logistic function, stable for large |z|.
#[inline]
pub fn sigmoid<T: Scalar>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

/// z (B, N) += b (N), then h = act(z) in place. `act = None` leaves the logits linear.
pub fn bias_act<T: Scalar>(rows: usize, n: usize, bias: &[T], act: Option<Activation>, z: &mut [T]) {
    super::wide::wide(BiasAct { rows, n, bias, act, z })
}

struct BiasAct<'a, T> {
    rows: usize,
    n: usize,
    bias: &'a [T],
    act: Option<Activation>,
    z: &'a mut [T],
}

impl<T: Scalar> super::wide::Loop for BiasAct<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        bias_act_any_width(self.rows, self.n, self.bias, self.act, self.z)
    }
}

#[inline(always)]
fn bias_act_any_width<T: Scalar>(rows: usize, n: usize, bias: &[T], act: Option<Activation>, z: &mut [T]) {
    // One pass per row while it is hot, and the match on the activation outside the element
    // loop, so each arm is a tight loop the compiler vectorises.
    match act {
        None | Some(Activation::Identity) => bias_map(rows, n, bias, z, |x| x),
        Some(Activation::Relu) => bias_map(rows, n, bias, z, |x| activate(Activation::Relu, x)),
        Some(a @ Activation::LeakyRelu(_)) => bias_map(rows, n, bias, z, |x| activate(a, x)),
        Some(a @ Activation::Tanh) => bias_map(rows, n, bias, z, |x| activate(a, x)),
        Some(a @ Activation::Sigmoid) => bias_map(rows, n, bias, z, |x| activate(a, x)),
    }
}

#[inline(always)]
fn bias_map<T: Scalar>(rows: usize, n: usize, bias: &[T], z: &mut [T], f: impl Fn(T) -> T) {
    let bias = &bias[..n];
    for row in z[..rows * n].chunks_exact_mut(n) {
        for (x, &b) in row.iter_mut().zip(bias) {
            *x = f(*x + b);
        }
    }
}

/// d (B, N) *= act'(h) elementwise, h the layer's stored (pre-dropout) output.
pub fn act_backward<T: Scalar>(act: Activation, h: &[T], d: &mut [T]) {
    super::wide::wide(ActBackward { act, h, d })
}

struct ActBackward<'a, T> {
    act: Activation,
    h: &'a [T],
    d: &'a mut [T],
}

impl<T: Scalar> super::wide::Loop for ActBackward<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        act_backward_any_width(self.act, self.h, self.d)
    }
}

#[inline(always)]
fn act_backward_any_width<T: Scalar>(act: Activation, h: &[T], d: &mut [T]) {
    // one tight loop per activation (see bias_act)
    match act {
        Activation::Identity => {}
        Activation::Relu => grad_map(h, d, |hv| activate_grad(Activation::Relu, hv)),
        a @ Activation::LeakyRelu(_) => grad_map(h, d, |hv| activate_grad(a, hv)),
        a @ Activation::Tanh => grad_map(h, d, |hv| activate_grad(a, hv)),
        a @ Activation::Sigmoid => grad_map(h, d, |hv| activate_grad(a, hv)),
    }
}

#[inline(always)]
fn grad_map<T: Scalar>(h: &[T], d: &mut [T], f: impl Fn(T) -> T) {
    for (g, &hv) in d.iter_mut().zip(h) {
        *g *= f(hv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_and_baseline_agree_bitwise() {
        let (rows, n) = (5, 37);
        let z0: Vec<f32> = (0..rows * n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let bias: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let acts = [Activation::Identity, Activation::Relu, Activation::LeakyRelu(0.01), Activation::Tanh, Activation::Sigmoid];
        for act in acts.into_iter().map(Some).chain([None]) {
            let (mut wide, mut base) = (z0.clone(), z0.clone());
            bias_act(rows, n, &bias, act, &mut wide);
            bias_act_any_width(rows, n, &bias, act, &mut base);
            assert_eq!(bits(&wide), bits(&base), "{act:?} forward");
            if let Some(act) = act {
                let (mut wide_d, mut base_d) = (z0.clone(), z0.clone());
                act_backward(act, &wide, &mut wide_d);
                act_backward_any_width(act, &base, &mut base_d);
                assert_eq!(bits(&wide_d), bits(&base_d), "{act:?} backward");
            }
        }
    }
}
