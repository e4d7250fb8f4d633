//! Bias-add + activation (forward) and activation derivative (backward): the CPU twins of the
//! matmul epilogues in shaders/matmul.wgsl. Derivatives use the activation's output `h`.

use crate::model::Activation;
use crate::scalar::Scalar;

/// h = f(z) for one element (the bias is already added).
#[inline]
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
#[inline]
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
