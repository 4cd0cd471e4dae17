//! The sequence diagram as SVG, written by hand: lifelines per actor,
//! one row per message (solid arrows for requests, dashed for responses,
//! blue for Observe notifications, red and crossed for lost datagrams),
//! step separators as shaded bands, and the time of each message in the
//! left margin, in the style of RFC 9594's message-flow figures.

use super::flow::{ArrowKind, Flow, FlowItem};
use std::fmt::Write as _;

const TIME_COLUMN: f64 = 64.0;
const MARGIN: f64 = 16.0;
const HEAD_HEIGHT: f64 = 30.0;
const ROW: f64 = 24.0;
const NOTE_ROW: f64 = 26.0;
/// Average advance of a character of the 12 px label font.
const CHAR_WIDTH: f64 = 6.6;
const MIN_SPACING: f64 = 150.0;
const MAX_SPACING: f64 = 380.0;

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c if c.is_control() => s.push(' '),
            c => s.push(c),
        }
    }
    s
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// Horizontal distance between neighbouring lifelines: enough for the
/// longest label over the lanes it spans, within bounds.
fn spacing(flow: &Flow) -> f64 {
    let mut need = MIN_SPACING;
    for item in &flow.items {
        if let FlowItem::Arrow(a) = item {
            let lanes = a.from.abs_diff(a.to).max(1) as f64;
            need = need.max((text_width(&a.label) + 24.0) / lanes);
        }
    }
    for name in &flow.lifelines {
        need = need.max(text_width(name) * 1.15 + 28.0);
    }
    need.min(MAX_SPACING)
}

/// Renders `flow` with `title` as a standalone SVG document.
pub fn render(flow: &Flow, title: &str) -> String {
    let lanes = flow.lifelines.len().max(1);
    let gap = spacing(flow);
    let x_of = |i: usize| TIME_COLUMN + MARGIN + gap / 2.0 + i as f64 * gap;
    let width = TIME_COLUMN + 2.0 * MARGIN + lanes as f64 * gap;
    let title_height = 52.0;
    let top = MARGIN + title_height;
    let body_top = top + HEAD_HEIGHT + 10.0;
    let mut body_height = 0.0;
    for item in &flow.items {
        body_height += match item {
            FlowItem::Arrow(_) => ROW,
            FlowItem::Note { .. } => NOTE_ROW,
        };
    }
    if flow.omitted > 0 {
        body_height += NOTE_ROW;
    }
    let foot_top = body_top + body_height + 10.0;
    let height = foot_top + HEAD_HEIGHT + MARGIN;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(s, "<title>{}</title>", escape(title));
    s.push_str(concat!(
        "<defs>\n",
        r##"<marker id="req" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f2937"/></marker>"##,
        "\n",
        r##"<marker id="resp" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#1f2937" stroke-width="1.5"/></marker>"##,
        "\n",
        r##"<marker id="note" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1d4ed8"/></marker>"##,
        "\n",
        "</defs>\n",
        r##"<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>"##,
        "\n",
    ));
    let _ = writeln!(
        s,
        r##"<text x="{MARGIN}" y="{:.1}" font-size="15" font-weight="bold" fill="#111827">{}</text>"##,
        MARGIN + 16.0,
        escape(title)
    );
    // Legend.
    let legend_y = MARGIN + 34.0;
    let mut x = MARGIN;
    for (text, color, dash) in [
        ("request", "#1f2937", ""),
        ("response", "#1f2937", "6 4"),
        ("Observe notification", "#1d4ed8", "6 4"),
        ("lost (fault injection)", "#dc2626", "2 3"),
    ] {
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.3" stroke-dasharray="{dash}"/><text x="{:.1}" y="{legend_y:.1}" font-size="11" fill="#4b5563">{text}</text>"##,
            legend_y - 4.0,
            x + 24.0,
            legend_y - 4.0,
            x + 30.0
        );
        x += 30.0 + text_width(text) * 0.9 + 24.0;
    }
    let _ = writeln!(
        s,
        r##"<text x="{x:.1}" y="{legend_y:.1}" font-size="11" fill="#4b5563">[OSCORE]: inner method, path and code; OSCORE: protected, inner part not visible to the runner</text>"##
    );
    // Lifelines with a head and a foot box.
    for (i, name) in flow.lifelines.iter().enumerate() {
        let x = x_of(i);
        let w = (text_width(name) * 1.15 + 20.0).min(gap - 8.0).max(60.0);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{foot_top:.1}" stroke="#9ca3af" stroke-dasharray="4 4"/>"##,
            top + HEAD_HEIGHT
        );
        for y in [top, foot_top] {
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="{HEAD_HEIGHT}" rx="4" fill="#f3f4f6" stroke="#374151"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="13" font-weight="bold" fill="#111827">{}</text>"##,
                x - w / 2.0,
                y + 19.5,
                escape(name)
            );
        }
    }
    // Messages and step separators.
    let mut y = body_top;
    for item in &flow.items {
        match item {
            FlowItem::Note { at, text } => {
                let _ = writeln!(
                    s,
                    r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#eef2ff" stroke="#c7d2fe"/><text x="{:.1}" y="{:.1}" font-size="12" font-style="italic" fill="#3730a3">{}</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#6b7280">+{:.3}s</text>"##,
                    TIME_COLUMN,
                    y + 2.0,
                    width - TIME_COLUMN - MARGIN,
                    NOTE_ROW - 4.0,
                    TIME_COLUMN + 8.0,
                    y + 17.5,
                    escape(text),
                    MARGIN / 2.0,
                    y + 17.0,
                    at.as_secs_f64()
                );
                y += NOTE_ROW;
            }
            FlowItem::Arrow(a) => {
                let line_y = y + ROW - 6.0;
                let x1 = x_of(a.from);
                let x2 = x_of(a.to);
                let (color, marker, dash) = match a.kind {
                    _ if a.lost => ("#dc2626", "req", r#" stroke-dasharray="2 3""#),
                    ArrowKind::Request => ("#1f2937", "req", ""),
                    ArrowKind::Response => ("#1f2937", "resp", r#" stroke-dasharray="6 4""#),
                    ArrowKind::Notification => ("#1d4ed8", "note", r#" stroke-dasharray="6 4""#),
                    ArrowKind::Empty => ("#9ca3af", "resp", r#" stroke-dasharray="1 3""#),
                };
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#6b7280">+{:.3}s</text>"##,
                    MARGIN / 2.0,
                    line_y + 3.5,
                    a.at.as_secs_f64()
                );
                let label = if a.retransmission {
                    format!("{} (retransmission)", a.label)
                } else if a.lost {
                    format!("{} (lost)", a.label)
                } else {
                    a.label.clone()
                };
                if a.from == a.to {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{x1:.1},{:.1} h30 v10 h-30" fill="none" stroke="{color}"{dash} marker-end="url(#{marker})"/><text x="{:.1}" y="{:.1}" font-size="12" fill="{color}">{}</text>"##,
                        line_y - 8.0,
                        x1 + 36.0,
                        line_y,
                        escape(&label)
                    );
                } else {
                    let end = if a.lost { x1 + (x2 - x1) * 0.8 } else { x2 };
                    let _ = writeln!(
                        s,
                        r##"<line x1="{x1:.1}" y1="{line_y:.1}" x2="{end:.1}" y2="{line_y:.1}" stroke="{color}" stroke-width="1.3"{dash} marker-end="url(#{marker})"/>"##
                    );
                    if a.lost {
                        let _ = writeln!(
                            s,
                            r##"<path d="M{:.1},{:.1} l8,8 m0,-8 l-8,8" stroke="#dc2626" stroke-width="2"/>"##,
                            end + 4.0,
                            line_y - 4.0
                        );
                    }
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                        (x1 + x2) / 2.0,
                        line_y - 4.0,
                        escape(&label)
                    );
                }
                y += ROW;
            }
        }
    }
    if flow.omitted > 0 {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" font-style="italic" fill="#6b7280">... {} more messages not drawn (see the pcap file or --trace)</text>"##,
            TIME_COLUMN + 8.0,
            y + 17.0,
            flow.omitted
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::flow::Arrow;
    use std::time::Duration;

    #[test]
    fn renders_well_formed_text() {
        let flow = Flow {
            lifelines: vec!["alice".into(), "KDC <1>".into()],
            items: vec![
                FlowItem::Note {
                    at: Duration::ZERO,
                    text: "step 1: join & go".into(),
                },
                FlowItem::Arrow(Arrow {
                    at: Duration::from_millis(5),
                    from: 0,
                    to: 1,
                    label: "POST /ace-group/g1".into(),
                    kind: ArrowKind::Request,
                    lost: false,
                    retransmission: false,
                }),
                FlowItem::Arrow(Arrow {
                    at: Duration::from_millis(6),
                    from: 1,
                    to: 0,
                    label: "4.01 Unauthorized".into(),
                    kind: ArrowKind::Response,
                    lost: true,
                    retransmission: false,
                }),
            ],
            omitted: 0,
        };
        let svg = render(&flow, "t");
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("KDC &lt;1&gt;"));
        assert!(svg.contains("join &amp; go"));
        assert!(svg.contains("4.01 Unauthorized (lost)"));
        // The background, two lifelines with a head and a foot box each,
        // and the step band.
        assert_eq!(svg.matches("<rect x=").count(), 1 + 4 + 1);
        assert_eq!(svg.matches("marker-end").count(), 2);
    }
}
