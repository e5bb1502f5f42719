//! The dashboard's charts, drawn on the server as SVG with plotters: no script draws them, so
//! they read the same without JavaScript. Each sits beside a table of its numbers, which is
//! what assistive technology reads (the SVG itself is hidden from it).

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;

const WIDTH: u32 = 640;
const BAR: RGBColor = RGBColor(0x1d, 0x4e, 0x89);
const INK: RGBColor = RGBColor(0x1b, 0x1b, 0x1b);

fn upper(values: impl Iterator<Item = i64>) -> i64 {
    // Room for the longest bar, and never an empty axis.
    let max = values.max().unwrap_or(0).max(1);
    max + max / 10 + 1
}

/// Horizontal bars, one a row: statuses, reasons, message states.
pub fn bars(rows: &[(String, i64)]) -> String {
    let mut svg = String::new();
    if draw_bars(&mut svg, rows).is_err() {
        return String::new();
    }
    svg
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn draw_bars(svg: &mut String, rows: &[(String, i64)]) -> Drawn {
    let n = rows.len().max(1);
    let height = 50 + 26 * u32::try_from(n).unwrap_or(40);
    {
        let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(190)
            .build_cartesian_2d(0..upper(rows.iter().map(|r| r.1)), (0..n).into_segmented())?;
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => rows.get(*i).map(|r| r.0.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .x_labels(6)
            .label_style(("sans-serif", 13).into_font().color(&INK))
            .draw()?;
        chart.draw_series(rows.iter().enumerate().map(|(i, (_, value))| {
            let mut bar = Rectangle::new(
                [
                    (0, SegmentValue::Exact(i)),
                    (*value, SegmentValue::Exact(i + 1)),
                ],
                BAR.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))?;
        root.present()?;
    }
    Ok(())
}

/// Columns over days: returns per day.
pub fn columns(days: &[(String, i64)]) -> String {
    let mut svg = String::new();
    if draw_columns(&mut svg, days).is_err() {
        return String::new();
    }
    svg
}

fn draw_columns(svg: &mut String, days: &[(String, i64)]) -> Drawn {
    let n = days.len().max(1);
    {
        let root = SVGBackend::with_string(svg, (WIDTH, 280)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n).into_segmented(), 0..upper(days.iter().map(|d| d.1)))?;
        let every = n.div_ceil(8).max(1);
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if i % every == 0 => {
                days.get(*i).map(|d| d.0.clone()).unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_labels(6)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()?;
        chart.draw_series(days.iter().enumerate().map(|(i, (_, value))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), *value),
                ],
                BAR.filled(),
            );
            bar.set_margin(0, 0, 1, 1);
            bar
        }))?;
        root.present()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_a_bar_for_each_row_and_no_inline_styles() {
        let svg = bars(&[("Received".into(), 12), ("Counted".into(), 30)]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Received") && svg.contains("Counted"));
        // The Content Security Policy allows no inline styles.
        assert!(!svg.contains("style="));
        let empty = columns(&[]);
        assert!(empty.starts_with("<svg"));
    }
}
