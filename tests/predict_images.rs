//! `predict` on images as users draw them: a digit from the bundled test set written as dark ink
//! on a transparent canvas (RGBA), as dark ink on white (gray), and scaled up off-centre in a
//! bigger canvas, each predicts exactly (or, resized, the same class as) the original 28×28 image,
//! and the output says what was done.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn write_png(path: &Path, w: usize, h: usize, color: png::ColorType, data: &[u8]) -> PathBuf {
    let f = std::fs::File::create(path).unwrap();
    let mut e = png::Encoder::new(std::io::BufWriter::new(f), w as u32, h as u32);
    e.set_color(color);
    e.set_depth(png::BitDepth::Eight);
    e.write_header().unwrap().write_image_data(data).unwrap();
    path.to_path_buf()
}

/// One JSON prediction per input.
fn predict(dir: &Path, model: &str, inputs: &[&Path], extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["predict", "--model", model, "--device", "cpu", "--json", "--input"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend_from_slice(extra);
    ok(dir, &args).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn probs(p: &serde_json::Value) -> Vec<f64> {
    p["outputs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn drawings_predict_as_the_mnist_digit_they_show() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ok(dir, &["train", "--device", "cpu", "--layers", "784,32,10", "--epochs", "2", "--out", "run", "--json"]);
    let model = dir.join("run/model.safetensors");
    let model = model.to_str().unwrap();
    let ds = wgpu_mlp::data::bundled_mnist().unwrap();
    let wgpu_mlp::data::Features::U8(all) = &ds.features else { panic!("u8 pixels") };

    // the first five digits the model is sure of (p > 0.9), so a resized copy's small changes
    // cannot tip them
    let mut digits = Vec::new();
    for k in 0..40 {
        let px = &all[k * 784..(k + 1) * 784];
        let f = write_png(&dir.join(format!("orig{k}.png")), 28, 28, png::ColorType::Grayscale, px);
        let p = predict(dir, model, &[&f], &[]).remove(0);
        if p["top"][0][1].as_f64().unwrap() > 0.9 {
            assert_eq!((p["inverted"].as_bool(), p["notes"].as_array().map(Vec::len)), (Some(false), Some(0)), "an MNIST image is used as it is: {p}");
            digits.push((k, px.to_vec(), p));
        }
        if digits.len() == 5 {
            break;
        }
    }
    assert_eq!(digits.len(), 5, "the model is sure of too few digits");

    for (k, px, want) in &digits {
        // (a) black ink whose alpha is the digit, on a transparent white canvas
        let rgba: Vec<u8> = px.iter().flat_map(|&a| if a > 0 { [0, 0, 0, a] } else { [255, 255, 255, 0] }).collect();
        let a = write_png(&dir.join(format!("clear{k}.png")), 28, 28, png::ColorType::Rgba, &rgba);
        // (b) dark on white, gray
        let inv: Vec<u8> = px.iter().map(|&v| 255 - v).collect();
        let b = write_png(&dir.join(format!("white{k}.png")), 28, 28, png::ColorType::Grayscale, &inv);
        // (c) scaled up 4x (112x112) into a 300x280 canvas at (150, 20), far off-centre
        let (cw, ch, sx, sy) = (300, 280, 150, 20);
        let mut big = vec![0u8; cw * ch];
        for y in 0..112 {
            for x in 0..112 {
                big[(sy + y) * cw + sx + x] = px[(y / 4) * 28 + x / 4];
            }
        }
        let c = write_png(&dir.join(format!("big{k}.png")), cw, ch, png::ColorType::Grayscale, &big);
        let got = predict(dir, model, &[&a, &b, &c], &[]);
        for g in &got[..2] {
            assert_eq!(probs(g), probs(want), "digit {k}: {} must be the original image exactly", g["input"]);
            assert_eq!(g["inverted"], true, "{g}");
        }
        let notes = |g: &serde_json::Value| g["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(notes(&got[0]), ["alpha composited over white (dark ink on transparent)", "inverted: light background detected"]);
        assert_eq!(notes(&got[1]), ["inverted: light background detected"]);
        assert_eq!(got[2]["class"], want["class"], "digit {k}: resized, {} is not the original's class {}", got[2], want["class"]);
        assert_eq!(got[2]["inverted"], false);
        let n = notes(&got[2]);
        assert!(n.len() == 1 && n[0].starts_with("resized 300x280 (ink box ") && n[0].ends_with("centred by mass in 28x28"), "{n:?}");
        // forcing: --invert never keeps (b) dark on white, a bare --invert inverts the original
        let never = predict(dir, model, &[&b], &["--invert", "never"]).remove(0);
        assert_eq!((never["inverted"].as_bool(), never["notes"].as_array().unwrap().len()), (Some(false), 0));
        assert_ne!(probs(&never), probs(want));
        let forced = predict(dir, model, &[&b], &["--invert"]).remove(0);
        assert_eq!((forced["inverted"].as_bool(), probs(&forced) == probs(want)), (Some(true), true), "{forced}");
    }

    // text: the note line before the prediction
    let (k, _, _) = &digits[0];
    let text = ok(dir, &["predict", "--model", model, "--device", "cpu", "--input", dir.join(format!("big{k}.png")).to_str().unwrap()]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() == 2 && lines[0].contains("note: resized 300x280") && lines[1].contains("class"), "{text}");

    // a blank image of another size: one line, no panic
    let blank = write_png(&dir.join("blank.png"), 40, 30, png::ColorType::Grayscale, &[255u8; 1200]);
    let out = Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(["predict", "--model", model, "--device", "cpu", "--input", blank.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.lines().count() == 1 && err.contains("blank.png") && err.contains("blank"), "{err}");
}
