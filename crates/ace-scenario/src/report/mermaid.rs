//! The sequence diagram as Mermaid source (`sequenceDiagram`), for
//! rendering in Markdown viewers.

use super::flow::{ArrowKind, Flow, FlowItem};
use std::fmt::Write as _;

/// Mermaid text: `;` and `#` are entity-escaped, line breaks removed.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Renders `flow` as a Mermaid sequence diagram.
pub fn render(flow: &Flow, title: &str) -> String {
    let mut s = String::from("sequenceDiagram\n");
    let _ = writeln!(s, "    title {}", text(title));
    for (i, name) in flow.lifelines.iter().enumerate() {
        let _ = writeln!(s, "    participant p{i} as {}", text(name));
    }
    let last = flow.lifelines.len().saturating_sub(1);
    for item in &flow.items {
        match item {
            FlowItem::Note { text: t, .. } => {
                if flow.lifelines.is_empty() {
                    continue;
                }
                let _ = writeln!(s, "    Note over p0,p{last}: {}", text(t));
            }
            FlowItem::Arrow(a) => {
                let arrow = match a.kind {
                    _ if a.lost => "-x",
                    ArrowKind::Request => "->>",
                    ArrowKind::Response | ArrowKind::Notification | ArrowKind::Empty => "-->>",
                };
                let mut label = text(&a.label);
                if a.retransmission {
                    label.push_str(" (retransmission)");
                }
                if a.lost {
                    label.push_str(" (lost)");
                }
                let _ = writeln!(s, "    p{}{arrow}p{}: {label}", a.from, a.to);
            }
        }
    }
    if flow.omitted > 0 && !flow.lifelines.is_empty() {
        let _ = writeln!(
            s,
            "    Note over p0,p{last}: ... {} more messages not drawn",
            flow.omitted
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::flow::Arrow;
    use std::time::Duration;

    #[test]
    fn arrows_and_notes() {
        let flow = Flow {
            lifelines: vec!["alice".into(), "KDC".into()],
            items: vec![
                FlowItem::Note {
                    at: Duration::ZERO,
                    text: "step 1; #1".into(),
                },
                FlowItem::Arrow(Arrow {
                    at: Duration::ZERO,
                    from: 0,
                    to: 1,
                    label: "POST /authz-info".into(),
                    kind: ArrowKind::Request,
                    lost: false,
                    retransmission: false,
                }),
                FlowItem::Arrow(Arrow {
                    at: Duration::ZERO,
                    from: 1,
                    to: 0,
                    label: "2.01 Created".into(),
                    kind: ArrowKind::Response,
                    lost: false,
                    retransmission: false,
                }),
            ],
            omitted: 0,
        };
        let m = render(&flow, "demo");
        assert!(m.contains("participant p1 as KDC"));
        assert!(m.contains("Note over p0,p1: step 1#59; #35;1"));
        assert!(m.contains("p0->>p1: POST /authz-info"));
        assert!(m.contains("p1-->>p0: 2.01 Created"));
    }
}
