//! The PNG timeline (plotters, bitmap backend, the bundled DejaVu Sans Mono
//! through `ab_glyph`): one lane per CPU, a bar per goroutine run coloured
//! by goroutine, P-idle spans as a thin grey bar, red ticks for
//! preemptions, black ticks for steals, a time axis and a legend.
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::model::Trace;

/// DejaVu Sans Mono (Bitstream Vera license, `assets/`): the PNG's text
/// does not depend on the host's fonts.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");

pub const WIDTH: u32 = 1400;
const LANE_PX: u32 = 70;
const LEGEND_ROW_PX: u32 = 18;
const LEGEND_COLS: usize = 3;
/// Goroutines named in the legend (the busiest).
const LEGEND_MAX: usize = 18;

pub fn height(t: &Trace) -> u32 {
    let legend_rows = legend(t).len().div_ceil(LEGEND_COLS) as u32;
    90 + LANE_PX * t.ncpu.max(1) as u32 + 30 + legend_rows * LEGEND_ROW_PX
}

fn register() {
    // Registering twice is harmless (the same bytes).
    let _ = register_font("sans-serif", FontStyle::Normal, FONT);
}

/// A goroutine's colour: fixed per goid, distinct for neighbours.
pub fn colour(goid: u64) -> RGBColor {
    // Golden-ratio hue steps: consecutive goids get far-apart hues.
    let h = (goid as f64 * 0.618_033_988_75).fract();
    let l = if goid.is_multiple_of(2) { 0.45 } else { 0.6 };
    let c = HSLColor(h, 0.7, l).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// The goroutines for the legend, busiest first.
fn legend(t: &Trace) -> Vec<u64> {
    let mut busy: std::collections::BTreeMap<u64, u64> = Default::default();
    for s in &t.slices {
        *busy.entry(s.goid).or_default() += s.end - s.start;
    }
    let mut v: Vec<(u64, u64)> = busy.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(LEGEND_MAX).map(|(g, _)| g).collect()
}

/// Draws `t` into an RGB buffer of `WIDTH` x `height(t)`.
#[cfg(test)]
pub fn render(t: &Trace, buf: &mut [u8]) -> Result<(), String> {
    register();
    let h = height(t);
    let root = BitMapBackend::with_buffer(buf, (WIDTH, h)).into_drawing_area();
    draw(t, &root).map_err(|e| format!("drawing: {e}"))?;
    root.present().map_err(|e| format!("drawing: {e}"))
}

/// Renders `t` to a PNG file (plotters' bitmap encoder).
pub fn write_png(t: &Trace, path: &std::path::Path) -> Result<(), String> {
    register();
    let root = BitMapBackend::new(path, (WIDTH, height(t))).into_drawing_area();
    draw(t, &root).map_err(|e| format!("drawing: {e}"))?;
    root.present()
        .map_err(|e| format!("{}: {e}", path.display()))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw(t: &Trace, root: &Area) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let ncpu = t.ncpu.max(1);
    let lanes_h = 90 + LANE_PX * ncpu as u32;
    let (top, bottom) = root.split_vertically(lanes_h);
    let end_us = t.us(t.t1).max(1.0);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!(
                "gmpos trace: {} CPUs, {:.1} ms, {} goroutine runs, {} dropped",
                ncpu,
                end_us / 1000.0,
                t.slices.len(),
                t.dropped
            ),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        // Lanes centred on integers: the axis labels sit in their middle.
        .build_cartesian_2d(0f64..end_us, -0.5f64..ncpu as f64 - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("time since trace start (us)")
        .y_labels(ncpu)
        .y_label_formatter(&|y| {
            let i = y.round();
            if (*y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ncpu {
                format!("cpu {}", ncpu - 1 - i as usize)
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    // Lane of `cpu` (cpu 0 on top).
    let lane = |cpu: usize| (ncpu - 1 - cpu) as f64 - 0.5;
    for &(cpu, a, b) in &t.idle {
        let y = lane(cpu);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(t.us(a), y + 0.05), (t.us(b), y + 0.12)],
            RGBColor(170, 170, 170).filled(),
        )))?;
    }
    chart.draw_series(t.slices.iter().map(|s| {
        let y = lane(s.cpu);
        // At least a pixel wide: short runs stay visible.
        let x0 = t.us(s.start);
        let x1 = t.us(s.end).max(x0 + end_us / WIDTH as f64);
        Rectangle::new([(x0, y + 0.2), (x1, y + 0.8)], colour(s.goid).filled())
    }))?;
    for m in &t.marks {
        let colour = if m.name.starts_with("preempt") {
            RED
        } else if m.name.starts_with("steal") {
            BLACK
        } else {
            continue;
        };
        let y = lane(m.cpu);
        let x = t.us(m.ts);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, y + 0.8), (x, y + 0.98)],
            colour.stroke_width(2),
        )))?;
    }
    // Legend: colour swatch and label, busiest goroutines first, then the marks.
    let cols = LEGEND_COLS as i32;
    let col_w = WIDTH as i32 / cols;
    let mut items: Vec<(RGBColor, String)> = legend(t)
        .into_iter()
        .map(|g| (colour(g), t.label(g)))
        .collect();
    items.push((RED, "preemption".into()));
    items.push((BLACK, "steal".into()));
    items.push((RGBColor(170, 170, 170), "P idle".into()));
    for (i, (c, text)) in items.iter().enumerate() {
        let (row, col) = (i as i32 / cols, i as i32 % cols);
        let (x, y) = (20 + col * col_w, 5 + row * LEGEND_ROW_PX as i32);
        bottom.draw(&Rectangle::new([(x, y + 2), (x + 12, y + 14)], c.filled()))?;
        let mut label = text.clone();
        label.truncate(48);
        bottom.draw(&Text::new(label, (x + 18, y + 1), ("sans-serif", 13)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(buf: &[u8], x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * WIDTH + x) * 3) as usize;
        (buf[i], buf[i + 1], buf[i + 2])
    }

    #[test]
    fn canned_trace_renders_lanes_in_goroutine_colours() {
        let t = Trace::from_bytes(&crate::model::tests::canned()).unwrap();
        let h = height(&t);
        assert!(h > 200);
        let mut buf = vec![0u8; (WIDTH * h * 3) as usize];
        render(&t, &mut buf).unwrap();
        // Not blank: many non-white pixels.
        let ink = buf.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(ink > 5_000, "only {ink} non-white pixels");
        // Each goroutine's colour is present (its bars), g1 on cpu 0's lane
        // (the upper one) and g2 on cpu 1's (the lower one).
        let find = |c: RGBColor, y0: u32, y1: u32| {
            (y0..y1).any(|y| (0..WIDTH).any(|x| px(&buf, x, y) == (c.0, c.1, c.2)))
        };
        let lanes_top = 40;
        let mid = 90 / 2 + 10 + LANE_PX;
        assert!(find(colour(1), lanes_top, mid), "g1 bar in cpu 0's lane");
        assert!(
            find(colour(2), mid, 90 + 2 * LANE_PX),
            "g2 bar in cpu 1's lane"
        );
        assert!(find(RGBColor(255, 0, 0), 0, h), "a preemption mark");
    }

    #[test]
    fn png_file_is_written() {
        let t = Trace::from_bytes(&crate::model::tests::canned()).unwrap();
        let dir = std::env::temp_dir().join(format!("gmpos-trace-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.png");
        write_png(&t, &p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
