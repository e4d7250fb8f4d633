//! One GPU context per test binary (device creation is slow on lavapipe). Without an adapter a
//! test skips loudly, or fails when WGPU_MLP_REQUIRE_GPU=1 (CI).
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use wgpu_mlp::gpu::GpuContext;

static CTX: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();

pub fn gpu(test: &str) -> Option<Arc<GpuContext>> {
    let ctx = CTX
        .get_or_init(|| match GpuContext::request(true) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("GPU context failed: {e}");
                None
            }
        })
        .clone();
    if ctx.is_none() {
        if std::env::var("WGPU_MLP_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("{test}: no GPU adapter, and WGPU_MLP_REQUIRE_GPU=1");
        }
        // straight to the process's stderr: libtest captures eprintln! of passing tests, and a
        // skip must be seen
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: no GPU adapter (set WGPU_MLP_REQUIRE_GPU=1 to make this a failure)");
    }
    ctx
}

/// Max |a − b| and max |a − b| / max(|b|, tiny); panics with the first mismatches when any
/// element is outside abs + rel·|b|.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let (mut max_abs, mut max_rel) = (0f32, 0f32);
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        max_abs = max_abs.max(d);
        max_rel = max_rel.max(d / w.abs().max(1e-30));
        if !(d <= abs + rel * w.abs()) {
            bad.push((i, g, w));
        }
    }
    if !bad.is_empty() {
        let first: Vec<String> = bad.iter().take(8).map(|(i, g, w)| format!("[{i}] gpu {g} cpu {w}")).collect();
        panic!("{what}: {} of {} outside abs {abs} + rel {rel}; max abs {max_abs:e}, max rel {max_rel:e}; first: {}",
            bad.len(), got.len(), first.join(", "));
    }
}
