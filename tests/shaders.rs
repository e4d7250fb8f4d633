//! Every shader module parses and validates with naga; needs no GPU adapter.

use wgpu_mlp::gpu::shaders::Module;

#[test]
fn every_shader_module_validates() {
    for m in Module::ALL {
        let src = m.source();
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{}: {}", m.name(), e.emit_to_string(&src)));
        let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
        if let Err(e) = v.validate(&module) {
            panic!("{}: {}", m.name(), e.emit_to_string(&src));
        }
        for ep in m.entry_points() {
            assert!(module.entry_points.iter().any(|e| e.name == *ep), "{}: no entry point {ep}", m.name());
        }
    }
}

#[test]
fn pixel_scale_bits_match_the_cpu_constant() {
    assert_eq!(wgpu_mlp::data::PIXEL_SCALE.to_bits(), 0x3b80_8081);
    assert!(Module::Gather.source().contains("0x3b808081u"));
}
