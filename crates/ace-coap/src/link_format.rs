//! CoRE Link Format (RFC 6690): links with attributes, serialisation for
//! `/.well-known/core`, and query filtering (section 4.1).

use std::fmt::Write as _;

/// One link: a target and its attributes (RFC 6690 section 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The link target, e.g. `/ace-group/g1`.
    pub href: String,
    /// Attributes in order; a `None` value is a flag such as `obs`.
    pub attributes: Vec<(String, Option<String>)>,
}

impl Link {
    /// A link to `href` without attributes.
    pub fn new(href: impl Into<String>) -> Self {
        Self {
            href: href.into(),
            attributes: Vec::new(),
        }
    }

    /// Adds an attribute with a value.
    #[must_use]
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attributes.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Adds a resource type, `rt` (RFC 6690 section 3.1).
    #[must_use]
    pub fn rt(self, value: &str) -> Self {
        self.attr("rt", value)
    }

    /// Adds an interface description, `if` (RFC 6690 section 3.2).
    #[must_use]
    pub fn interface(self, value: &str) -> Self {
        self.attr("if", value)
    }

    /// Adds a content-format hint, `ct` (RFC 7252 section 7.2.1).
    #[must_use]
    pub fn ct(self, format: u16) -> Self {
        self.attr("ct", format.to_string())
    }

    /// Adds the `obs` flag: the resource is observable (RFC 7641 section 6).
    #[must_use]
    pub fn obs(mut self) -> Self {
        self.attributes.push(("obs".to_owned(), None));
        self
    }

    /// Adds a human-readable title (RFC 6690 section 2).
    #[must_use]
    pub fn title(self, value: &str) -> Self {
        self.attr("title", value)
    }

    /// The values of an attribute.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.attributes
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_deref())
    }

    /// Whether the link passes a `name=value` query filter (RFC 6690
    /// section 4.1): `href` compares the target; `rt`, `if` and `ct` match
    /// any of their space-separated values; a trailing `*` matches a prefix;
    /// a bare `name` asks for the attribute to be present.
    pub fn matches_filter(&self, filter: &str) -> bool {
        let (name, pattern) = match filter.split_once('=') {
            Some((n, p)) => (n, Some(p)),
            None => (filter, None),
        };
        let Some(pattern) = pattern else {
            return name == "href" || self.values(name).next().is_some();
        };
        let matches = |candidate: &str| match pattern.strip_suffix('*') {
            Some(prefix) => candidate.starts_with(prefix),
            None => candidate == pattern,
        };
        if name == "href" {
            return matches(&self.href);
        }
        let multi = matches!(name, "rt" | "if" | "ct");
        self.values(name).any(|v| match v {
            None => pattern.is_empty(),
            Some(v) if multi => v.split(' ').any(matches),
            Some(v) => matches(v),
        })
    }
}

/// Serialises links as `application/link-format` (RFC 6690 section 2):
/// `</a>;rt="x";ct=40;obs,</b>`. Values other than plain numbers are quoted.
pub fn render(links: &[Link]) -> String {
    let mut out = String::new();
    for (i, link) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "<{}>", link.href);
        for (name, value) in &link.attributes {
            out.push(';');
            out.push_str(name);
            if let Some(v) = value {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    let _ = write!(out, "={v}");
                } else {
                    out.push_str("=\"");
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_lite::link_format::LinkFormatParser;

    fn sample() -> Vec<Link> {
        vec![
            Link::new("/ace-group/g1")
                .rt("core.osc.gm")
                .interface("ace.group")
                .ct(261)
                .obs(),
            Link::new("/time").title("Internal \"Clock\"").ct(0),
        ]
    }

    #[test]
    fn renders_rfc6690_syntax_that_an_independent_parser_reads() {
        let text = render(&sample());
        assert_eq!(
            text,
            r#"</ace-group/g1>;rt="core.osc.gm";if="ace.group";ct=261;obs,</time>;title="Internal \"Clock\"";ct=0"#
        );
        let mut parsed = Vec::new();
        for item in LinkFormatParser::new(&text) {
            let (href, attrs) = item.unwrap();
            let attrs: Vec<(String, String)> = attrs
                .map(|(k, v)| (k.to_owned(), v.to_cow().into_owned()))
                .collect();
            parsed.push((href.to_owned(), attrs));
        }
        assert_eq!(parsed[0].0, "/ace-group/g1");
        assert!(
            parsed[0]
                .1
                .contains(&("if".to_owned(), "ace.group".to_owned()))
        );
        assert_eq!(
            parsed[1].1[0],
            ("title".to_owned(), "Internal \"Clock\"".to_owned())
        );
    }

    #[test]
    fn filters_follow_rfc6690_section_4_1() {
        let links = sample();
        let pick = |f: &str| {
            links
                .iter()
                .filter(|l| l.matches_filter(f))
                .map(|l| l.href.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick("if=ace.group"), vec!["/ace-group/g1"]);
        assert_eq!(pick("rt=core.osc*"), vec!["/ace-group/g1"]);
        assert_eq!(pick("href=/ti*"), vec!["/time"]);
        assert_eq!(pick("ct=0"), vec!["/time"]);
        assert_eq!(pick("obs"), vec!["/ace-group/g1"]);
        assert!(pick("rt=nothing").is_empty());
        let multi = Link::new("/x").rt("a.b c.d");
        assert!(multi.matches_filter("rt=c.d"));
    }
}
