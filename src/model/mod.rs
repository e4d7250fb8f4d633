//! The network: its spec, flat parameters, initialisers and checkpoints.

pub mod init;
pub mod params;
pub mod spec;

pub use init::Init;
pub use params::{LayerSlot, ParamLayout, Params};
pub use spec::{Activation, Loss, NetworkSpec};
