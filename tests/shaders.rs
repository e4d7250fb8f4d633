//! Every shader module parses and validates with naga, every host record matches its WGSL
//! struct, and errors point at the file's own lines; needs no GPU adapter.

use std::borrow::Cow;
use wgpu_mlp::gpu::records;
use wgpu_mlp::gpu::shaders::{file, Module, Source, FILES};

/// Parses and validates `src`; an error comes back as "file:line:column: message".
fn check(src: &Source) -> Result<naga::Module, String> {
    let at = |offset: Option<usize>| offset.and_then(|o| src.locate(o)).map_or("?".to_string(), |l| l.to_string());
    let module = naga::front::wgsl::parse_str(&src.text).map_err(|e| {
        let offset = e.labels().find_map(|(span, _)| span.to_range()).map(|r| r.start);
        format!("{}: {}", at(offset), e.message())
    })?;
    let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty());
    v.validate(&module).map_err(|e| {
        let offset = e.spans().next().map(|(span, _)| span.to_range().map_or(0, |r| r.start));
        format!("{}: {}", at(offset), e.as_inner())
    })?;
    Ok(module)
}

fn builtin(name: &str) -> Option<Cow<'static, str>> {
    file(name).map(Cow::Borrowed)
}

#[test]
fn every_shader_module_validates() {
    for m in Module::ALL {
        let src = m.compose(&builtin).unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        let module = check(&src).unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        for ep in m.entry_points() {
            assert!(module.entry_points.iter().any(|e| e.name == *ep), "{}: no entry point {ep}", m.name());
        }
    }
}

#[test]
fn every_shader_file_is_used_by_some_module() {
    for (name, _) in FILES {
        let used = Module::ALL.iter().any(|m| m.compose(&builtin).unwrap().parts.iter().any(|p| p.0 == name));
        assert!(used, "{name} is in no module");
    }
}

/// The importing file keeps its own line numbers; imports are located in their own files.
#[test]
fn locations_are_the_files_own() {
    for m in Module::ALL {
        let src = m.compose(&builtin).unwrap();
        for (name, range) in &src.parts {
            let text = &src.text[range.clone()];
            for (i, line) in text.lines().enumerate().filter(|(_, l)| l.starts_with("fn ")) {
                let offset = range.start + text.lines().take(i).map(|l| l.len() + 1).sum::<usize>();
                let loc = src.locate(offset).unwrap();
                assert_eq!((loc.file.as_str(), loc.line, loc.column), (name.as_str(), i + 1, 1), "{}: {line}", m.name());
                if let Some(orig) = file(name) {
                    assert_eq!(orig.lines().nth(i), Some(line), "{}: {name} line {} moved", m.name(), i + 1);
                }
            }
        }
    }
}

/// An error planted at a known line of each file (a syntax error and a type error) is
/// reported with that file's name and line, for every module that uses the file.
#[test]
fn an_error_is_reported_at_its_file_and_line() {
    let top_level = |l: &str| ["fn ", "@compute", "struct ", "@group", "const "].iter().any(|p| l.starts_with(p));
    for (name, text) in FILES {
        // planted before a top-level declaration past the file's middle (inside a body it would
        // change that body's meaning), or the first one if none is past it
        let lines: Vec<&str> = text.lines().collect();
        let at = (lines.len() / 2..lines.len()).chain(0..lines.len()).find(|&i| top_level(lines[i])).expect("a declaration") + 1;
        for (bad, what) in [("fn broken( {", "parse"), ("fn broken() -> u32 { return 1.5; }", "type")] {
            let planted: String = lines.iter().enumerate().map(|(i, l)| if i + 1 == at { format!("{bad}\n{l}\n") } else { format!("{l}\n") }).collect();
            let read = |n: &str| if n == name { Some(Cow::Owned(planted.clone())) } else { builtin(n) };
            let mut tried = 0;
            for m in Module::ALL {
                let src = m.compose(&read).unwrap();
                if !src.parts.iter().any(|p| p.0 == name) {
                    continue;
                }
                tried += 1;
                let err = check(&src).err().unwrap_or_else(|| panic!("{}: planted {what} error in {name} not found", m.name()));
                let want = format!("{name}:{at}:");
                assert!(err.starts_with(&want), "{}: {what} error in {name} reported as {err:?}, want {want}", m.name());
            }
            assert!(tried > 0, "{name} is in no module");
        }
    }
}

/// Each host record has the size, field names and field offsets of its WGSL struct.
#[test]
fn records_match_their_wgsl_structs() {
    for (layout, home) in records::ALL {
        let mut checked = 0;
        for m in Module::ALL {
            let src = m.compose(&builtin).unwrap();
            if !src.parts.iter().any(|p| p.0 == home) {
                continue;
            }
            let module = check(&src).unwrap_or_else(|e| panic!("{e}"));
            let ty = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(layout.name));
            let Some((_, ty)) = ty else { panic!("{}: no struct {} in {home}", m.name(), layout.name) };
            let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{} is not a struct", layout.name) };
            assert_eq!(*span as usize, layout.size, "{}: size of {} in WGSL vs Rust", m.name(), layout.name);
            let wgsl: Vec<(String, usize)> = members.iter().map(|mb| (mb.name.clone().unwrap_or_default(), mb.offset as usize)).collect();
            let rust: Vec<(String, usize)> = layout.fields.iter().map(|(n, o)| (n.to_string(), *o)).collect();
            assert_eq!(wgsl, rust, "{}: fields of {} (name, offset) in WGSL vs Rust", m.name(), layout.name);
            checked += 1;
        }
        assert!(checked > 0, "{} ({home}) is in no module", layout.name);
    }
    assert_eq!(records::UpdateRecord::LAYOUT.size as u64, records::RECORD, "an update record fills one slot");
}

#[test]
fn pixel_scale_bits_match_the_cpu_constant() {
    assert_eq!(wgpu_mlp::data::PIXEL_SCALE.to_bits(), 0x3b80_8081);
    assert!(Module::Gather.source().contains("0x3b808081u"));
}
