use std::time::Instant;
use wgpu_mlp::gpu::matmul::{Form, MatmulKernels, MatmulKernel, MatmulDims, MatmulBuffers};
fn main() {
    let ctx = wgpu_mlp::gpu::GpuContext::request(true).unwrap().unwrap();
    let t = Instant::now();
    let mm = MatmulKernels::new(&ctx.device).unwrap();
    println!("modules: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let b = wgpu_mlp::gpu::buffers::storage(&ctx, "x", 1 << 20).unwrap();
    let bufs = MatmulBuffers { step: &b, params: &b, x: &b, dz: &b, out: &b, aux: &b };
    for form in Form::ALL {
        for k in MatmulKernel::ALL {
            let t = Instant::now();
            let _d = mm.dispatch(&ctx.device, form, k, &MatmulDims { n: 256, k: 256, keep: 1.0, ..Default::default() }, &bufs);
            println!("{} {}: {:.0} ms", form.name(), k.name(), t.elapsed().as_secs_f64() * 1e3);
        }
    }
}
