//! The optimizer's side of the training state (the parameters are the other side).

/// Optimizer moments and the step counter: with the parameters, the whole training state.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    /// 0, 1 or 2 tensors shaped like the parameters (velocity; or Adam's m and v; RMSprop's s and v).
    pub slots: Vec<Vec<T>>,
    /// Optimizer steps taken so far (Adam's bias correction and dropout masks use it).
    pub step: u64,
}
