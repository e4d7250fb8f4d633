//! Every WGSL source, and the one loader that builds a module from them.
//!
//! Each file under shaders/ is WGSL as it stands except for its `#import NAME` lines, which the
//! loader resolves (as vello's preprocessor resolves `#import`):
//! - `#import consts` is generated here from Rust: every code (activation, loss, loss mode,
//!   optimizer), flag bit, sentinel, block size and workgroup size, named as in Rust, so the
//!   shaders use names and no number is written in two languages. It also carries the variant's
//!   own constants (abt's column count BC, DZ4).
//! - `#import common` is shaders/common.wgsl (the Step record, the dropout hash, activations).
//! - `#import matmul_operands` and `#import matmul_dz` name the small prelude files that
//!   declare matmul's K-contiguous operands and dz either as vec4 or as scalar arrays, with their
//!   loaders; the module's `Loads` picks the file (shaders/matmul_{vec4,scalar}.wgsl,
//!   shaders/matmul_dz_{vec4,scalar}.wgsl). They are files, not `override` constants, because
//!   they change binding types, and BC, TW and TQ size arrays and workgroup sizes, which an
//!   `override` cannot do everywhere. `#import matmul_io` is the bindings and stores both matmul
//!   families share; the module's `MatmulKernel` picks the family's file.
//!
//! The importing file comes first with each `#import` line kept as a comment of the same length,
//! and the imports follow it (WGSL declarations may come in any order), so the file's own line
//! numbers are the module's; `Source::locate` maps any offset, in an import too, back to its
//! file and line.

use super::consts::{Loads, LossMode, MatmulKernel, TILED_BLOCK, TILED_STEPS, GATHER_WG_X, GATHER_WG_Y, LOSS_WG, MATMUL_BLOCK, MATMUL_WG, REDUCE_WG, UNIT_STATS_WG, UPDATE_PER, UPDATE_WG};
use super::records::{CLIP_HEAD, FLAG_CLIP, FLAG_DECAY, FLAG_NESTEROV, FLAG_PROXIMAL, FLAG_RMS_MOMENTUM, NO_NORM, SUM_ROWS, SUM_SOURCE_PAIRS, SUM_SOURCE_PARTIALS};
use crate::data::{AUG_NOISE_ANGLE, AUG_NOISE_RADIUS, AUG_PARAMS, DEG_TO_RAD, PIXEL_SCALE, TWO_PI};
use crate::model::{Activation, Loss, COSINE_EPS};
use crate::optim::OptimizerKind;
use std::borrow::Cow;
use std::fmt::Write;

/// The shader files, by the name `#import` and error messages use.
pub const FILES: [(&str, &str); 12] = [
    ("common.wgsl", include_str!("../../shaders/common.wgsl")),
    ("matmul_io.wgsl", include_str!("../../shaders/matmul_io.wgsl")),
    ("matmul.wgsl", include_str!("../../shaders/matmul.wgsl")),
    ("matmul_tiled.wgsl", include_str!("../../shaders/matmul_tiled.wgsl")),
    ("matmul_vec4.wgsl", include_str!("../../shaders/matmul_vec4.wgsl")),
    ("matmul_scalar.wgsl", include_str!("../../shaders/matmul_scalar.wgsl")),
    ("matmul_dz_vec4.wgsl", include_str!("../../shaders/matmul_dz_vec4.wgsl")),
    ("matmul_dz_scalar.wgsl", include_str!("../../shaders/matmul_dz_scalar.wgsl")),
    ("gather.wgsl", include_str!("../../shaders/gather.wgsl")),
    ("loss.wgsl", include_str!("../../shaders/loss.wgsl")),
    ("reduce.wgsl", include_str!("../../shaders/reduce.wgsl")),
    ("optimizer.wgsl", include_str!("../../shaders/optimizer.wgsl")),
];

/// The name the generated constants are imported and reported by.
pub const CONSTS: &str = "consts";

/// A shader file's text by name.
pub fn file(name: &str) -> Option<&'static str> {
    FILES.iter().find(|f| f.0 == name).map(|f| f.1)
}

/// The kernel families, as modules are built from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Module {
    /// matmul.wgsl or matmul_tiled.wgsl (CPU twins src/cpu/matmul.rs, src/cpu/activation.rs):
    /// one kernel variant with one way of loading
    Matmul(MatmulKernel, Loads),
    /// gather.wgsl (CPU twin src/cpu/gather.rs)
    Gather,
    /// loss.wgsl (CPU twin src/cpu/loss.rs)
    Loss,
    /// reduce.wgsl (CPU twin src/cpu/reduce.rs)
    Reduce,
    /// optimizer.wgsl (CPU twin src/cpu/optimizer.rs)
    Optimizer,
}

/// A composed module: its text and where each file's text lies in it.
#[derive(Clone, Debug)]
pub struct Source {
    /// the WGSL text with every `#import` resolved
    pub text: String,
    /// (file name, byte range in `text`), in order
    pub parts: Vec<(String, std::ops::Range<usize>)>,
}

/// A place in a shader file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// the shader file's name (e.g. `matmul.wgsl`, or `consts` for the generated import)
    pub file: String,
    /// 1-based
    pub line: usize,
    /// 1-based, in bytes
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Source {
    /// The file, line and column of byte `offset` of the composed text.
    pub fn locate(&self, offset: usize) -> Option<Location> {
        let (file, range) = self.parts.iter().find(|p| p.1.contains(&offset) || (p.1.end == offset && offset == self.text.len()))?;
        let before = &self.text[range.start..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - range.start - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Some(Location { file: file.clone(), line, column })
    }
}

impl Module {
    /// Every module, in the order tests and listings walk them.
    pub const ALL: [Module; 16] = {
        let mut all = [Module::Gather; 16];
        let mut i = 0;
        while i < 12 {
            all[i] = Module::Matmul(MatmulKernel::ALL[i / 3], Loads::ALL[i % 3]);
            i += 1;
        }
        all[12] = Module::Gather;
        all[13] = Module::Loss;
        all[14] = Module::Reduce;
        all[15] = Module::Optimizer;
        all
    };

    /// A short human name, also the shader module's wgpu label.
    pub fn name(self) -> String {
        match self {
            Module::Matmul(k, l) => format!("matmul ({}, {})", k.name(), l.name()),
            Module::Gather => "gather".into(),
            Module::Loss => "loss".into(),
            Module::Reduce => "reduce".into(),
            Module::Optimizer => "optimizer".into(),
        }
    }

    /// The family's file, the one the module is built from.
    pub fn file(self) -> &'static str {
        match self {
            Module::Matmul(k, _) if k.tiled() => "matmul_tiled.wgsl",
            Module::Matmul(..) => "matmul.wgsl",
            Module::Gather => "gather.wgsl",
            Module::Loss => "loss.wgsl",
            Module::Reduce => "reduce.wgsl",
            Module::Optimizer => "optimizer.wgsl",
        }
    }

    /// The file an `#import name` line brings in for this variant (None: unknown name).
    fn import_file(self, name: &str) -> Option<&'static str> {
        let loads = match self {
            Module::Matmul(_, l) => Some(l),
            _ => None,
        };
        match name {
            "common" => Some("common.wgsl"),
            "matmul_io" => loads.map(|_| "matmul_io.wgsl"),
            "matmul_operands" => loads.map(|l| if l == Loads::Scalar { "matmul_scalar.wgsl" } else { "matmul_vec4.wgsl" }),
            "matmul_dz" => loads.map(|l| if l == Loads::Vec4Dz4 { "matmul_dz_vec4.wgsl" } else { "matmul_dz_scalar.wgsl" }),
            _ => None,
        }
    }

    /// The generated constants: shared codes, flags and sizes, then this variant's own.
    pub fn constants(self) -> String {
        let mut s = String::from("// generated by src/gpu/shaders.rs from the Rust definitions\n");
        let mut u = |name: &str, v: u32| {
            let _ = writeln!(s, "const {name}: u32 = {v}u;");
        };
        for (name, a) in [
            ("ACT_IDENTITY", Activation::Identity),
            ("ACT_RELU", Activation::Relu),
            ("ACT_LEAKY_RELU", Activation::LeakyRelu(0.0)),
            ("ACT_TANH", Activation::Tanh),
            ("ACT_SIGMOID", Activation::Sigmoid),
        ] {
            u(name, a.code());
        }
        for (name, l) in [
            ("LOSS_SOFTMAX_XENT", Loss::SoftmaxCrossEntropy),
            ("LOSS_BCE", Loss::BinaryCrossEntropy),
            ("LOSS_MSE", Loss::MeanSquaredError),
            ("LOSS_COSINE", Loss::Cosine),
        ] {
            u(name, l.code());
        }
        for (name, m) in [("MODE_TRAIN", LossMode::Train), ("MODE_EVALUATE", LossMode::Evaluate), ("MODE_PREDICT", LossMode::Predict)] {
            u(name, m as u32);
        }
        for (name, k) in [
            ("OPT_SGD", OptimizerKind::Sgd),
            ("OPT_MOMENTUM", OptimizerKind::Momentum),
            ("OPT_NESTEROV", OptimizerKind::Nesterov),
            ("OPT_RMSPROP", OptimizerKind::Rmsprop),
            ("OPT_ADAM", OptimizerKind::Adam),
            ("OPT_ADAMW", OptimizerKind::Adamw),
        ] {
            u(name, k.code());
        }
        for (name, v) in [
            ("FLAG_NESTEROV", FLAG_NESTEROV),
            ("FLAG_PROXIMAL", FLAG_PROXIMAL),
            ("FLAG_DECAY", FLAG_DECAY),
            ("FLAG_RMS_MOMENTUM", FLAG_RMS_MOMENTUM),
            ("FLAG_CLIP", FLAG_CLIP),
            ("CLIP_HEAD", CLIP_HEAD),
            ("NO_NORM", NO_NORM),
            ("SUM_ROWS", SUM_ROWS),
            ("SUM_SOURCE_PAIRS", SUM_SOURCE_PAIRS),
            ("SUM_SOURCE_PARTIALS", SUM_SOURCE_PARTIALS),
            ("B", MATMUL_BLOCK),
            ("MATMUL_WG", MATMUL_WG),
            ("UPDATE_WG", UPDATE_WG),
            ("UPDATE_PER", UPDATE_PER),
            ("REDUCE_WG", REDUCE_WG),
            ("UNIT_STATS_WG", UNIT_STATS_WG),
            ("LOSS_WG", LOSS_WG),
            ("GATHER_WG_X", GATHER_WG_X),
            ("GATHER_WG_Y", GATHER_WG_Y),
        ] {
            u(name, v);
        }
        for (name, v) in [("AUG_PARAMS", AUG_PARAMS), ("AUG_NOISE_RADIUS", AUG_NOISE_RADIUS), ("AUG_NOISE_ANGLE", AUG_NOISE_ANGLE)] {
            u(name, v);
        }
        let _ = writeln!(s, "const PIXEL_SCALE_BITS: u32 = {:#x}u;", PIXEL_SCALE.to_bits());
        // Debug prints the shortest decimal that parses back to the same f32
        for (name, v) in [("DEG_TO_RAD", DEG_TO_RAD), ("TWO_PI", TWO_PI), ("COSINE_EPS", COSINE_EPS as f32)] {
            let _ = writeln!(s, "const {name}: f32 = {v:?};");
        }
        let mut u = |name: &str, v: u32| {
            let _ = writeln!(s, "const {name}: u32 = {v}u;");
        };
        if let Module::Matmul(kernel, loads) = self {
            u("BC", kernel.abt_cols());
            u("TW", kernel.workgroup_side());
            u("TR", TILED_BLOCK);
            u("TQ", TILED_STEPS);
            let _ = writeln!(s, "const DZ4: bool = {};", loads == Loads::Vec4Dz4);
        }
        s
    }

    /// The full WGSL text of the module, from the built-in files.
    pub fn source(self) -> String {
        self.composed().text
    }

    /// The module composed from the built-in files, with where each file lies in it.
    pub fn composed(self) -> Source {
        // the built-in files' imports are fixed and covered by tests/shaders.rs
        self.compose(&|name| file(name).map(Cow::Borrowed)).unwrap_or_else(|e| panic!("{}: {e}", self.name()))
    }

    /// Builds the module from the family's file, reading files through `read`: the file first
    /// (its `#import` lines commented out in place), then each import once, depth first.
    pub fn compose<'a>(self, read: &dyn Fn(&str) -> Option<Cow<'a, str>>) -> Result<Source, String> {
        let mut src = Source { text: String::new(), parts: Vec::new() };
        let mut pending = vec![self.file().to_string()];
        let mut seen: Vec<String> = Vec::new();
        while let Some(name) = pending.pop() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name.clone());
            let text: Cow<str> = if name == CONSTS {
                Cow::Owned(self.constants())
            } else {
                read(&name).ok_or_else(|| format!("no shader file {name}"))?
            };
            let start = src.text.len();
            let mut imports = Vec::new();
            for (i, line) in text.split_inclusive('\n').enumerate() {
                match line.trim_end().strip_prefix("#import ") {
                    Some(what) => {
                        let what = what.trim();
                        let f = if what == CONSTS { CONSTS } else {
                            self.import_file(what).ok_or_else(|| format!("{name}:{}: unknown import {what}", i + 1))?
                        };
                        imports.push(f.to_string());
                        src.text.push_str("// ");
                        src.text.push_str(line);
                    }
                    None => src.text.push_str(line),
                }
            }
            if !src.text.ends_with('\n') {
                src.text.push('\n');
            }
            src.parts.push((name, start..src.text.len()));
            pending.extend(imports.into_iter().rev());
        }
        Ok(src)
    }

    /// Whether every index the module computes is in bounds by construction, so the module may be
    /// created without runtime checks. The vec4 matmul: rows are clamped to `rows − 1` and
    /// `n − 1` before loading, K-loops stop at K (multiples of 4, as are the tensor offsets), the
    /// second column quad is clamped inside the row, and stores are guarded; the launchers bind
    /// activation buffers of at least `rows` rows and tensors inside the flat buffers. The scalar
    /// loads read up to 3 floats past a row's end, so they keep the checks. With vec4 dz
    /// (N % 4 == 0): ab's quads of its N loop and atb's row quads (the second clamped inside the
    /// row, as the column quad is) lie inside a row of dz, and rows are clamped. The wide abt
    /// clamps all 16 columns as the narrow one clamps 8. The tiled kernels stage with rows,
    /// reduction steps and dz columns clamped and column quads past K moved to the row's first,
    /// and index their slabs by e < the slab's length or by (local id, i < TR, q < TQ), which
    /// TW · TR = TM bounds.
    pub fn proven_in_bounds(self) -> bool {
        matches!(self, Module::Matmul(_, Loads::Vec4 | Loads::Vec4Dz4))
    }

    /// Entry points the module must provide.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Module::Matmul(..) => &["abt", "ab", "atb"],
            Module::Gather => &["gather", "gather_u8x4"],
            Module::Loss => &["loss"],
            Module::Reduce => &["sum_final", "unit_stats"],
            Module::Optimizer => &["update"],
        }
    }
}
