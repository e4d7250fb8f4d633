//! curves.png and weights.png are written, are valid PNGs and have the documented size.

use wgpu_mlp::report::{curves_png_size, weights_png_size, write_curves_png, write_weights_png, CURVES_SIZE};
use wgpu_mlp::train::{EpochRecord, History};

/// Decodes the whole PNG (so a truncated or corrupt file fails) and returns its size.
fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn history(epochs: usize, classification: bool) -> History {
    let epochs = (1..=epochs)
        .map(|e| {
            let t = e as f64;
            EpochRecord {
                epoch: e,
                lr: 0.1,
                train_loss: 1.0 / t,
                train_accuracy: classification.then(|| 1.0 - 0.3 / t),
                val_loss: Some(1.2 / t),
                val_accuracy: classification.then(|| 0.95 - 0.3 / t),
                grad_norms: vec![0.5 / t, 0.01 / t, 0.0],
                dead_fraction: vec![0.0, 0.0],
                saturated_fraction: vec![0.0, 0.0],
                seconds: 1.0,
                samples_per_second: 1000.0,
            }
        })
        .collect();
    History { epochs, best_epoch: 1, ..History::default() }
}

#[test]
fn curves_png_is_a_valid_png_of_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    for (epochs, classification) in [(1, true), (12, true), (30, false)] {
        let h = history(epochs, classification);
        let path = dir.path().join(format!("curves-{epochs}.png"));
        write_curves_png(&path, &h).unwrap();
        let (w, ht, pixels) = decode(&path);
        assert_eq!((w, ht), curves_png_size(&h));
        assert_eq!((w, ht), if classification { CURVES_SIZE } else { (CURVES_SIZE.0 * 2 / 3, CURVES_SIZE.1) });
        // something was drawn: not a blank canvas
        let dark = pixels.chunks(3).filter(|p| p.iter().all(|&c| c < 128)).count();
        assert!(dark > 1000, "{dark} dark pixels");
    }
    // no epochs yet still gives a (blank-axed) picture rather than an error
    write_curves_png(&dir.path().join("empty.png"), &History::default()).unwrap();
}

#[test]
fn weights_png_is_a_valid_png_of_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    for units in [1, 10, 64, 300] {
        let w: Vec<f32> = (0..units * 784).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let path = dir.path().join(format!("w{units}.png"));
        write_weights_png(&path, &w, units, (28, 28)).unwrap();
        let (width, height, pixels) = decode(&path);
        assert_eq!((width, height), weights_png_size(units, (28, 28)));
        // each tile is min-max scaled: some pixel is black and some white
        assert!(pixels.chunks(3).any(|p| p == [0, 0, 0]) && pixels.chunks(3).any(|p| p == [255, 255, 255]));
    }
    let e = write_weights_png(&dir.path().join("bad.png"), &[0.0; 10], 2, (28, 28)).unwrap_err();
    assert!(e.to_string().contains("not 2 units"), "{e}");
}

/// The best epoch (whose weights were kept) is a vertical line in its own colour, at that epoch,
/// when the history says which metric chose it.
#[test]
fn curves_mark_the_best_epoch() {
    use wgpu_mlp::report::BEST;
    use wgpu_mlp::train::Monitor;
    let dir = tempfile::tempdir().unwrap();
    let best_pixels = |h: &History, name: &str| {
        let path = dir.path().join(name);
        write_curves_png(&path, h).unwrap();
        let (w, _, px) = decode(&path);
        let cols: Vec<usize> = px.chunks(3).enumerate().filter(|(_, p)| *p == [BEST.0, BEST.1, BEST.2]).map(|(i, _)| i % w as usize).collect();
        cols
    };
    let mut h = history(12, true);
    assert!(best_pixels(&h, "none.png").is_empty(), "no monitor, no line");
    h.monitor = Some(Monitor::ValLoss);
    let (early, late) = (best_pixels(&h, "early.png"), { h.best_epoch = 9; best_pixels(&h, "late.png") });
    assert!(early.len() > 500 && late.len() > 500, "{} / {} pixels of the best-epoch line", early.len(), late.len());
    // the line moves right with the epoch: compare the median column in the loss panel
    let median = |mut c: Vec<usize>| { c.retain(|x| *x < CURVES_SIZE.0 as usize / 3); c.sort(); c[c.len() / 2] };
    assert!(median(late) > median(early) + 100, "the line does not follow best_epoch");
}
