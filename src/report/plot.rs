//! curves.png (loss, accuracy and per-layer gradient norms per epoch, like the course's
//! `plot_stats`) and weights.png (first-layer weights as image tiles, like `show_net_weights`).
//!
//! Drawn with plotters into an RGB buffer, then PNG-encoded and written atomically. Text uses the
//! embedded DejaVu Sans through ab_glyph, so neither building nor running needs system fonts.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::train::History;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// (width, height) in pixels of curves.png with its three panels (loss, accuracy, gradient
/// norms); without accuracy it is two thirds as wide ([`curves_png_size`]).
pub const CURVES_SIZE: (u32, u32) = (1500, 480);
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);
/// The vertical line at the best epoch (the weights kept).
pub const BEST: RGBColor = RGBColor(44, 160, 44);
const LAYER_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::config("plot", "the embedded font does not load"))
    }
}

fn draw_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::bad_file(path, format!("cannot draw the plot: {e}"))
}

/// RGB8 pixels (w·h·3) -> PNG file bytes.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

/// Renders with `draw` on a white w×h canvas and writes the PNG to `path` atomically.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    ensure_font()?;
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root).map_err(|e| draw_err(path, e))?;
        root.present().map_err(|e| draw_err(path, e))?;
    }
    let bytes = encode_png(&rgb, size).map_err(|e| draw_err(path, e))?;
    write_atomic(path, &bytes)
}

struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One line chart: epochs on x, `y` on y, each series a line with dots and a legend entry, and
/// `best` (epoch, legend text) as a vertical line.
#[allow(clippy::too_many_arguments)]
fn panel<Y>(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    epochs: usize,
    y: Y,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
    legend: SeriesLabelPosition,
    series: &[Series],
    best: Option<(usize, &str)>,
) -> std::result::Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_max = epochs.max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 24))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(0.5..x_max + 0.5, y)
        .map_err(|e| e.to_string())?;
    let integer = |x: &f64| if (x - x.round()).abs() < 1e-9 { format!("{}", x.round()) } else { String::new() };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(epochs.clamp(2, 10) + 1)
        .y_labels(8)
        .x_label_formatter(&integer)
        .y_label_formatter(y_fmt)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .map_err(|e| e.to_string())?;
    if let Some((epoch, label)) = best {
        let (x, ys) = (epoch as f64, chart.y_range());
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(x, ys.start), (x, ys.end)], BEST.stroke_width(2))))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BEST.stroke_width(3)));
    }
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let c = s.color;
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(|e| e.to_string())?;
    }
    if series.iter().any(|s| !s.points.is_empty()) {
        chart
            .configure_series_labels()
            .position(legend)
            .label_font((FAMILY, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// (lo, hi) of the values with a margin of `pad` of the span on each side (never empty).
fn padded(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-3 * hi.abs().max(1e-3));
    (lo - pad * span, hi + pad * span)
}

/// A tick label without trailing zeros: 0.25, 0.7, 12, 3e-5.
fn short(v: &f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Tick values for a log axis over [lo, hi]: 1-2-5 in each decade, or 1..9 when that gives
/// fewer than four ticks; only decades when there are too many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let pick = |mantissas: &[f64]| -> Vec<f64> {
        (d0..=d1)
            .flat_map(|d| mantissas.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let t = pick(&[1.0, 2.0, 5.0]);
    if t.len() > 12 {
        return pick(&[1.0]);
    }
    if t.len() >= 4 {
        return t;
    }
    pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
}

fn series(label: &str, color: RGBColor, history: &History, f: impl Fn(&crate::train::EpochRecord) -> Option<f64>) -> Series {
    let points = history.epochs.iter().filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v))).collect();
    Series { label: label.into(), color, points }
}

/// curves.png: loss (train, validation), accuracy (train, validation; classification only) and
/// the mean gradient norm ‖∂L/∂W‖ of each layer (log scale), per epoch.
pub fn write_curves_png(path: &Path, history: &History) -> Result<()> {
    let epochs = history.epochs.last().map_or(1, |r| r.epoch);
    let loss = [
        series("train", TRAIN, history, |r| Some(r.train_loss)),
        series("validation", VAL, history, |r| r.val_loss),
    ];
    let acc = [
        series("train", TRAIN, history, |r| r.train_accuracy),
        series("validation", VAL, history, |r| r.val_accuracy),
    ];
    let layers = history.epochs.first().map_or(0, |r| r.grad_norms.len());
    let grads: Vec<Series> = (0..layers)
        .map(|l| {
            let mut s = series(&format!("layer {l}"), LAYER_COLORS[l % LAYER_COLORS.len()], history, |r| r.grad_norms.get(l).copied());
            s.points.retain(|p| p.1 > 0.0);
            s
        })
        .collect();
    let size = curves_png_size(history);
    let has_acc = size == CURVES_SIZE;
    // the epoch whose weights the run kept, chosen on validation by `monitor`
    let best_label = history.monitor.map(|m| format!("best epoch {} ({m})", history.best_epoch));
    let best = best_label.as_deref().filter(|_| history.best_epoch > 0).map(|l| (history.best_epoch, l));

    render(path, size, |root| {
        let panels = root.split_evenly((1, if has_acc { 3 } else { 2 }));
        let (lo, hi) = padded(loss.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 0.08);
        panel(&panels[0], "Loss", epochs, lo.max(0.0)..hi, "loss", &short, SeriesLabelPosition::UpperRight, &loss, best)?;
        let mut next = 1;
        if has_acc {
            let (lo, hi) = padded(acc.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 0.1);
            let pct = |v: &f64| format!("{}%", short(&(100.0 * v)));
            panel(&panels[1], "Accuracy", epochs, lo.max(0.0)..hi.min(1.0), "accuracy", &pct, SeriesLabelPosition::LowerRight, &acc, best)?;
            next = 2;
        }
        let all = grads.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        let (lo, hi) = all.fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo / 1.5, hi * 1.5) } else { (1e-3, 1.0) };
        let ticks = log_ticks(lo, hi);
        let y = (lo..hi).log_scale().with_key_points(ticks);
        panel(&panels[next], "Gradient norm per layer", epochs, y, "mean ‖∂L/∂W‖ (log scale)", &short, SeriesLabelPosition::UpperRight, &grads, None)
    })
}

/// weights.png: layer 0's weights (`units` rows of `shape.0 · shape.1` inputs, row-major as
/// stored) as one grey tile per hidden unit, each tile min-max scaled to black..white.
pub fn write_weights_png(path: &Path, weight: &[f32], units: usize, shape: (usize, usize)) -> Result<()> {
    let (rows, cols) = shape;
    let inputs = rows * cols;
    if units == 0 || inputs == 0 || weight.len() != units * inputs {
        return Err(Error::Shape { op: "write_weights_png", msg: format!("{} weights are not {units} units × {rows}×{cols}", weight.len()) });
    }
    let (size, layout) = weights_layout(units, shape);
    let title_h = layout.title_h;
    render(path, size, |root| {
        root.fill(&RGBColor(235, 235, 235)).map_err(|e| e.to_string())?;
        let plural = if units == 1 { "" } else { "s" };
        let title = format!("first-layer weights: {units} unit{plural}, {rows}×{cols} each, min-max scaled per unit");
        root.draw(&Text::new(title, (8, (title_h as i32 - 16) / 2), (FAMILY, 16)))
            .map_err(|e| e.to_string())?;
        for u in 0..units {
            let w = &weight[u * inputs..(u + 1) * inputs];
            let (lo, hi) = w.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let span = if hi > lo { hi - lo } else { 1.0 };
            let (tx, ty) = layout.tile_origin(u);
            for r in 0..rows {
                for c in 0..cols {
                    let g = (255.0 * (w[r * cols + c] - lo) / span).round().clamp(0.0, 255.0) as u8;
                    let x = (tx + c * layout.scale) as i32;
                    let y = (ty + r * layout.scale) as i32;
                    let s = layout.scale as i32;
                    root.draw(&Rectangle::new([(x, y), (x + s, y + s)], RGBColor(g, g, g).filled()))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    })
}

/// Where the tiles go: a near-square grid, each pixel drawn as scale×scale.
#[derive(Clone, Copy, Debug)]
struct TileLayout {
    grid_cols: usize,
    scale: usize,
    gap: usize,
    title_h: usize,
    tile: (usize, usize),
}

impl TileLayout {
    fn tile_origin(&self, u: usize) -> (usize, usize) {
        let (gr, gc) = (u / self.grid_cols, u % self.grid_cols);
        let (th, tw) = (self.tile.0 * self.scale, self.tile.1 * self.scale);
        (self.gap + gc * (tw + self.gap), self.title_h + self.gap + gr * (th + self.gap))
    }
}

/// The PNG size weights.png gets for `units` tiles of `shape`, and its layout.
fn weights_layout(units: usize, shape: (usize, usize)) -> ((u32, u32), TileLayout) {
    let grid_cols = (units as f64).sqrt().ceil() as usize;
    let grid_rows = units.div_ceil(grid_cols);
    // about 1200 px across at most, pixels at least 1 and at most 4 screen pixels
    let scale = (1200 / (grid_cols * shape.1).max(1)).clamp(1, 4);
    let gap = 2;
    let title_h = 30;
    let w = gap + grid_cols * (shape.1 * scale + gap);
    let h = title_h + gap + grid_rows * (shape.0 * scale + gap);
    // the title needs room even for a single small tile
    let w = w.max(640);
    ((w as u32, h as u32), TileLayout { grid_cols, scale, gap, title_h, tile: shape })
}

/// The size `write_weights_png` gives weights.png (for tests and callers that check it).
pub fn weights_png_size(units: usize, shape: (usize, usize)) -> (u32, u32) {
    weights_layout(units, shape).0
}

/// The size `write_curves_png` gives curves.png: three panels, two without accuracy.
pub fn curves_png_size(history: &History) -> (u32, u32) {
    if history.epochs.iter().any(|r| r.train_accuracy.is_some() || r.val_accuracy.is_some()) {
        CURVES_SIZE
    } else {
        (CURVES_SIZE.0 * 2 / 3, CURVES_SIZE.1)
    }
}
