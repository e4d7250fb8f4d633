//! The network: its spec, flat parameters, initialisers and checkpoints.

pub mod checkpoint;
pub mod init;
pub mod params;
pub mod spec;
pub mod torch;

pub use checkpoint::{
    check_architecture, load_model, load_model_as, load_training_state, model_bytes, save_model, save_training_state, TrainingState,
    MODEL_FORMAT, STATE_FILE, STATE_FORMAT,
};
pub use init::Init;
pub use params::{LayerSlot, ParamLayout, Params};
pub use spec::{Activation, Loss, NetworkSpec, COSINE_EPS};
