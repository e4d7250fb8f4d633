//! Structured fuzzing of every loader (issue 12): IDX raw and gzip, CSV, PNG/PGM, safetensors
//! model and training state, TOML config. Each property feeds a loader inputs built to lie —
//! declared sizes from tiny to u32::MAX, payloads short, long or absent, valid files with bytes
//! flipped — and requires: no panic, an `Err` whose message is one bounded line, an `Ok` whose
//! value agrees with what the file really holds, and memory bounded by the input's real size
//! (a counting allocator measures each case's peak on its thread and refuses outright any single
//! allocation above [`HARD_CAP`], which aborts the binary: a loader that allocates what a header
//! claims fails here, not on a user's machine).
//!
//! Time is bounded by the case count (`PROPTEST_CASES`, default [`CASES`]); the whole file runs
//! in a few seconds in release. A failure proptest finds is saved next to this file
//! (`fuzz_loaders.proptest-regressions`, checked in) and re-run first; a crash worth a name gets
//! a file in tests/fixtures/hostile/ (run through the loaders below) or a test of its own.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use wgpu_mlp::config::{Origin, TrainConfig};
use wgpu_mlp::data::{self, CsvTask, MAX_IMAGE_PIXELS};
use wgpu_mlp::model::{self, Activation, Loss, NetworkSpec, ParamLayout, Params};

// ---- memory accounting

/// No single allocation may exceed this: above it the allocator returns null and the process
/// aborts with "memory allocation of N bytes failed".
const HARD_CAP: usize = 1 << 30;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + delta;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            track(l.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            track(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        track(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > HARD_CAP {
            return std::ptr::null_mut();
        }
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            track(new as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak bytes it held above what was live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, (PEAK.with(Cell::get) - base).max(0) as usize)
}

/// What a loader may hold for an input of `len` real bytes: a fixed allowance plus a multiple
/// of the input (gzip's inflation is bounded by its IDX header, which is bounded by ~1100× the
/// compressed size).
fn bound(len: usize) -> usize {
    (8 << 20) + 2200 * len
}

const CASES: u32 = 1024;

fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = CASES;
    }
    c
}

/// An error is one line of bounded length (values it quotes are cut).
fn one_line<T>(r: &wgpu_mlp::Result<T>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let m = e.to_string();
        prop_assert!(!m.contains('\n') && !m.contains('\r'), "message spans lines: {m:.500}");
        prop_assert!(m.len() <= 1500, "message is {} bytes: {m:.500}", m.len());
    }
    Ok(())
}

fn be(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Sizes a header may declare: mostly small, sometimes absurd.
fn dim() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..6, 1 => any::<u32>(), 1 => Just(u32::MAX), 1 => (1u32 << 16)..(1u32 << 31)]
}

fn magic() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0x803u32), Just(0x801u32), any::<u32>()]
}

// ---- IDX

/// Image header words (magic, n, rows, cols) and a payload of some length.
fn idx_file() -> impl Strategy<Value = (Vec<u8>, Option<usize>)> {
    let cut = prop_oneof![4 => Just(0usize), 1 => 1usize..17];
    (magic(), dim(), dim(), dim(), 0usize..160, any::<u8>(), cut).prop_map(|(m, n, r, c, len, fill, cut)| {
        let mut b = be(&[m, n, r, c]);
        b.truncate(16 - cut.min(16)); // sometimes a short header
        b.extend(std::iter::repeat_n(fill, len));
        let declared = if m == 0x803 && cut == 0 {
            (n as usize).checked_mul(r as usize).and_then(|x| x.checked_mul(c as usize))
        } else {
            None
        };
        (b, declared)
    })
}

fn gz(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn idx_raw_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = Path::new("fuzz.idx");
        let (r, peak) = peak_of(|| data::parse_idx_images(&bytes, p));
        one_line(&r)?;
        prop_assert!(peak <= bound(bytes.len()));
        let (r, peak) = peak_of(|| data::parse_idx_labels(&bytes, p, 10));
        one_line(&r)?;
        prop_assert!(peak <= bound(bytes.len()));
    }

    #[test]
    fn idx_structured_headers_are_held_to_their_payload((bytes, declared) in idx_file()) {
        let p = Path::new("fuzz.idx");
        let (r, peak) = peak_of(|| data::parse_idx_images(&bytes, p));
        one_line(&r)?;
        prop_assert!(peak <= bound(bytes.len()), "peak {peak} for {} bytes", bytes.len());
        if let Ok(img) = &r {
            prop_assert_eq!(Some(img.pixels.len()), declared);
            prop_assert_eq!(img.pixels.len(), bytes.len() - 16);
        }
        // the same header as a label file (n labels of the payload's bytes)
        let (r, _) = peak_of(|| data::parse_idx_labels(&bytes, p, 10));
        one_line(&r)?;
    }

    #[test]
    fn idx_gzip_inflates_no_further_than_its_header(
        (bytes, declared) in idx_file(),
        extra in prop_oneof![2 => Just(0usize), 1 => 1usize..64, 2 => 4000usize..300_000],
        level in 0u32..10,
        cut in prop_oneof![3 => Just(None), 1 => (0usize..64).prop_map(Some)],
        members in 1usize..3,
    ) {
        let mut plain = bytes.clone();
        plain.extend(std::iter::repeat_n(0u8, extra));
        let mut z = Vec::new();
        for _ in 0..members {
            z.extend(gz(&plain, level));
        }
        if let Some(c) = cut {
            z.truncate(z.len().saturating_sub(c));
        }
        let p = Path::new("fuzz.idx.gz");
        let (r, peak) = peak_of(|| data::gunzip_bounded(&z, p));
        one_line(&r)?;
        prop_assert!(peak <= bound(z.len()), "peak {peak} for {} compressed bytes", z.len());
        if let (Ok(out), Some(d)) = (&r, declared) {
            prop_assert!(out.len() <= 16 + d + 4096, "inflated {} bytes for a header declaring {d}", out.len());
        }
        if let Ok(out) = &r {
            let (r, _) = peak_of(|| data::parse_idx_images(out, p));
            one_line(&r)?;
        }
        // the whole pair path (bundled data goes this way): gzip detection, bound and parse
        let labels = be(&[0x801, 1, 0]);
        let r = data::parse_idx_pair(&z, p, &labels[..9], Path::new("fuzz-labels"));
        one_line(&r)?;
    }

    #[test]
    fn idx_gzip_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut z = vec![0x1f, 0x8b];
        z.extend(tail);
        let (r, peak) = peak_of(|| data::gunzip_bounded(&z, Path::new("g.gz")));
        one_line(&r)?;
        prop_assert!(peak <= bound(z.len()));
    }
}

// ---- CSV

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "-?[0-9]{1,4}",
        2 => "-?[0-9]{0,3}\\.[0-9]{0,3}(e-?[0-9]{1,3})?",
        1 => prop_oneof![Just("nan".to_string()), Just("inf".to_string()), Just("-Infinity".to_string()), Just("".to_string()), Just("1e30".to_string()), Just("1e40".to_string())],
        1 => "[a-z]{1,6}",
        1 => "\"[a-z0-9,\\n\" ]{0,12}\"",
        1 => "[ \\t\\r]{0,3}",
        1 => (1usize..5000).prop_map(|n| "q".repeat(n)),
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    let row = proptest::collection::vec(cell(), 0..5).prop_map(|c| c.join(","));
    (proptest::collection::vec(row, 0..8), prop_oneof![Just("a,b,y"), Just("y"), Just(""), Just("a,a,y"), Just("a,b")])
        .prop_map(|(rows, header)| format!("{header}\n{}", rows.join("\n")))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_tables_never_panic(
        text in csv_text(),
        target in prop_oneof![Just("y"), Just("0"), Just("2"), Just("9"), Just("nope")],
        task in prop_oneof![Just(CsvTask::Classification), Just(CsvTask::Regression), Just(CsvTask::Auto)],
        width in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.csv");
        std::fs::write(&f, &text).unwrap();
        let (r, peak) = peak_of(|| data::load_csv(&f, target, task));
        one_line(&r)?;
        prop_assert!(peak <= bound(text.len()));
        if let Ok(d) = &r {
            prop_assert_eq!(d.feature_names.len(), d.dataset.dim);
            prop_assert!(d.dataset.len >= 1);
        }
        let (r, peak) = peak_of(|| data::read_feature_rows(&f, width, None));
        one_line(&r)?;
        prop_assert!(peak <= bound(text.len()));
        if let Ok(rows) = &r {
            prop_assert!(rows.iter().all(|row| row.len() == width && row.iter().all(|v| v.is_finite())));
        }
    }
}

// ---- PNG and PGM

fn png_bytes(w: u32, h: u32, color: u8, depth: u8, pixels: &[u8]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = be(&[w, h]);
    ihdr.extend([depth, color, 0, 0, 0]);
    chunk(&mut b, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(pixels).unwrap();
    chunk(&mut b, b"IDAT", &z.finish().unwrap());
    chunk(&mut b, b"IEND", &[]);
    b
}

/// A valid 3x2 RGB PNG from the png crate.
fn valid_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut bytes, 3, 2);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().unwrap();
        w.write_image_data(&[9u8; 18]).unwrap();
    }
    bytes
}

fn check_image(r: &wgpu_mlp::Result<data::GrayImage>) -> Result<(), TestCaseError> {
    one_line(r)?;
    if let Ok(img) = r {
        prop_assert_eq!(img.pixels.len(), img.width * img.height);
        prop_assert!((img.pixels.len() as u64) <= MAX_IMAGE_PIXELS);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn png_structured_headers_are_bounded(
        w in dim(), h in dim(),
        color in prop_oneof![Just(0u8), Just(2), Just(3), Just(4), Just(6), any::<u8>()],
        depth in prop_oneof![Just(8u8), Just(16), Just(1), any::<u8>()],
        pixels in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let b = png_bytes(w, h, color, depth, &pixels);
        let (r, peak) = peak_of(|| data::decode_png(&b, Path::new("f.png")));
        check_image(&r)?;
        prop_assert!(peak <= bound(b.len()) + 16 * (MAX_IMAGE_PIXELS as usize).min(w as usize * h as usize));
    }

    #[test]
    fn png_with_flipped_bytes_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut b = valid_png();
        for (i, v) in flips {
            let at = i.index(b.len());
            b[at] = v;
        }
        let (r, peak) = peak_of(|| data::decode_png(&b, Path::new("f.png")));
        check_image(&r)?;
        // a flipped IHDR may declare up to MAX_IMAGE_PIXELS (it is then refused short of data)
        prop_assert!(peak <= bound(b.len()) + 8 * MAX_IMAGE_PIXELS as usize);
    }

    #[test]
    fn pgm_headers_never_panic(
        kind in prop_oneof![Just("P5"), Just("P2")],
        fields in proptest::collection::vec(prop_oneof![4 => "[0-9]{1,3}", 1 => "[0-9]{10,25}", 1 => "[a-z#]{1,3}", 1 => Just(String::new())], 0..4),
        sep in prop_oneof![Just(" "), Just("\n"), Just("\n# c\n"), Just("\t")],
        payload in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut b = kind.as_bytes().to_vec();
        for f in &fields {
            b.extend(sep.as_bytes());
            b.extend(f.as_bytes());
        }
        b.push(b'\n');
        b.extend(&payload);
        let (r, peak) = peak_of(|| data::decode_pgm(&b, Path::new("f.pgm")));
        check_image(&r)?;
        prop_assert!(peak <= bound(b.len()));
    }
}

// ---- safetensors model and training state

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![6 => 1usize..6, 1 => Just(0usize), 1 => 100_000usize..100_001, 1 => Just(1usize << 62), 1 => any::<usize>()];
    proptest::collection::vec(size, 0..5)
}

/// Bytes of a safetensors file: tensors of network `real` (values `fill`, one maybe `poison`),
/// metadata claiming `claimed` with format `format`, extra metadata `meta`.
fn st_file(real: &[usize], claimed: &[usize], format: &str, fill: f32, poison: Option<f32>, meta: &[(&str, String)], prefixes: &[String]) -> Vec<u8> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for prefix in prefixes {
        for (i, w) in real.windows(2).enumerate() {
            let mut vals = vec![fill; w[1] * w[0]];
            if let (Some(p), Some(v)) = (poison, vals.first_mut()) {
                *v = p;
            }
            tensors.push((format!("{prefix}layers.{i}.weight"), vec![w[1], w[0]], vals.iter().flat_map(|v| v.to_le_bytes()).collect()));
            tensors.push((format!("{prefix}layers.{i}.bias"), vec![w[1]], vec![0u8; 4 * w[1]]));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    let hidden = claimed.len().saturating_sub(2);
    let spec = serde_json::json!({"sizes": claimed, "activations": vec!["relu"; hidden], "loss": "softmax_xent"});
    let mut m: std::collections::HashMap<String, String> =
        [("format".to_string(), format.to_string()), ("spec".to_string(), spec.to_string())].into_iter().collect();
    for (k, v) in meta {
        m.insert(k.to_string(), v.clone());
    }
    safetensors::serialize(views, Some(m)).unwrap()
}

fn small_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..5, 2..4)
}

/// What a lying header claims: random sizes, a small honest-looking net, or one far larger
/// than the file (40 GB of weights in a kilobyte).
fn claimed_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        2 => sizes(),
        1 => small_sizes(),
        1 => Just(vec![100_000, 100_000, 10]),
        1 => (1usize..5, 50_000usize..200_000).prop_map(|(a, b)| vec![a * 1000, b, 2]),
    ]
}

fn check_model(r: &wgpu_mlp::Result<(NetworkSpec, Params<f32>, serde_json::Value)>) -> Result<(), TestCaseError> {
    one_line(r)?;
    if let Ok((spec, params, _)) = r {
        prop_assert_eq!(&params.layout, &ParamLayout::new(spec));
        prop_assert!(params.data.iter().all(|v| v.is_finite()), "non-finite weights loaded");
    }
    Ok(())
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![(0u64..5).prop_map(|v| v.to_string()), Just("-1".to_string()), Just("x".to_string()), Just("99999999999999999999999".to_string()), (3u64..1000).prop_map(|v| v.to_string())]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn models_whose_metadata_lies_are_refused_within_the_file_size(
        real in small_sizes(),
        claimed in claimed_sizes(),
        same in any::<bool>(),
        format in prop_oneof![Just(model::MODEL_FORMAT), Just(model::STATE_FORMAT), Just("other")],
        poison in prop_oneof![3 => Just(None), 1 => Just(Some(f32::NAN)), 1 => Just(Some(f32::INFINITY))],
    ) {
        let claimed = if same { real.clone() } else { claimed };
        let b = st_file(&real, &claimed, format, 0.25, poison, &[], &[String::new()]);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.safetensors");
        std::fs::write(&f, &b).unwrap();
        let (r, peak) = peak_of(|| model::load_model(&f));
        check_model(&r)?;
        prop_assert!(peak <= bound(b.len()), "peak {peak} for a {}-byte file", b.len());
        if poison.is_some() {
            prop_assert!(r.is_err(), "a model with a non-finite weight loaded");
        }
    }

    #[test]
    fn models_with_flipped_bytes_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut b = st_file(&[3, 2, 2], &[3, 2, 2], model::MODEL_FORMAT, 0.5, None, &[], &[String::new()]);
        for (i, v) in flips {
            let at = i.index(b.len());
            b[at] = v;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.safetensors");
        std::fs::write(&f, &b).unwrap();
        let (r, peak) = peak_of(|| model::load_model(&f));
        check_model(&r)?;
        prop_assert!(peak <= bound(b.len()));
    }

    #[test]
    fn training_states_whose_metadata_lies_are_refused_within_the_file_size(
        real in small_sizes(),
        claimed in claimed_sizes(),
        same in any::<bool>(),
        slots_written in 0usize..3,
        slots in number(), step in number(), epoch in number(),
        poison in prop_oneof![3 => Just(None), 1 => Just(Some(f32::NAN))],
    ) {
        let claimed = if same { real.clone() } else { claimed };
        let mut prefixes = vec![String::new()];
        prefixes.extend((0..slots_written).map(|s| format!("optimizer.{s}.")));
        let meta = [("slots", slots), ("step", step), ("epoch", epoch), ("seed", "7".to_string()), ("extra", "null".to_string())];
        let b = st_file(&real, &claimed, model::STATE_FORMAT, 0.25, poison, &meta, &prefixes);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(model::STATE_FILE), &b).unwrap();
        let (r, peak) = peak_of(|| model::load_training_state(dir.path()));
        one_line(&r)?;
        prop_assert!(peak <= bound(b.len()), "peak {peak} for a {}-byte file", b.len());
        if let Ok(s) = &r {
            prop_assert_eq!(&s.params.layout, &ParamLayout::new(&s.spec));
            prop_assert!(s.optimizer.slots.iter().all(|v| v.len() == s.params.layout.len));
            prop_assert!(poison.is_none());
        }
    }
}

// ---- TOML config

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..300).prop_map(|v| v.to_string()),
        Just("18446744073709551615".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("0.0".to_string()),
        Just("true".to_string()),
        "\"[a-z:0-9.]{0,12}\"",
        Just("\"cosine:1\"".to_string()),
        Just("\"\"".to_string()),
        proptest::collection::vec(prop_oneof![1usize..800, Just(0usize), Just(1usize << 62), Just(100_000_000)], 0..4)
            .prop_map(|v| format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))),
        Just("[0.5, 1.5]".to_string()),
        Just("{ a = 1 }".to_string()),
        (1usize..3000).prop_map(|n| format!("\"{}\"", "v".repeat(n))),
    ]
}

fn toml_text() -> impl Strategy<Value = String> {
    let keys: Vec<&'static str> = TrainConfig::keys().chain(["no_such_key", "layers"]).collect();
    let line = (proptest::sample::select(keys), toml_value()).prop_map(|(k, v)| format!("{k} = {v}"));
    proptest::collection::vec(line, 0..6).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn toml_configs_never_panic(text in toml_text()) {
        let (r, peak) = peak_of(|| {
            TrainConfig::from_toml_str(&text, Origin::User).map(|c| c.validate().map(|_| ()))
        });
        prop_assert!(peak <= bound(text.len()), "peak {peak}");
        match r {
            Err(msg) => {
                prop_assert!(!msg.contains('\n') && msg.len() <= 1500, "config message: {msg:.500}");
            }
            Ok(v) => one_line(&v)?,
        }
    }

    #[test]
    fn toml_garbage_never_panics(text in "[a-z_=\\[\\]\"{}., 0-9\\n#-]{0,200}") {
        let r = TrainConfig::from_toml_str(&text, Origin::User);
        if let Err(msg) = &r {
            prop_assert!(!msg.contains('\n') && msg.len() <= 1500, "config message: {msg:.500}");
        }
        if let Ok(c) = r {
            one_line(&c.validate())?;
        }
    }
}

// ---- regressions: the checked-in hostile files, through the loaders directly

#[test]
fn checked_in_hostile_files_fail_in_their_loaders() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let (failed, peak) = if name.ends_with(".safetensors") {
            peak_of(|| model::load_model(&path).is_err())
        } else if name.ends_with(".png") || name.ends_with(".pgm") {
            peak_of(|| data::read_gray_image(&path).is_err())
        } else {
            continue;
        };
        assert!(failed, "{name} loaded");
        assert!(peak <= bound(len), "{name}: peak {peak}");
        seen += 1;
    }
    assert!(seen >= 5, "{seen} hostile files in {}", dir.display());
}

/// The spec check alone: sizes whose product overflows, and the largest that does not.
#[test]
fn spec_size_products_are_checked() {
    let e = NetworkSpec::new(&[784, 1 << 62, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap_err();
    assert!(e.to_string().contains("layers"), "{e}");
    assert!(NetworkSpec::new(&[usize::MAX, 1], Activation::Relu, Loss::MeanSquaredError).is_err());
    let ok = NetworkSpec::new(&[100_000, 100_000, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
    assert_eq!(ok.checked_param_elements(), Some(ParamLayout::new(&ok).len));
}
