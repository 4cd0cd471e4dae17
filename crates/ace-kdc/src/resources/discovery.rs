//! GET `/.well-known/core` (RFC 6690): the KDC's resources in link format,
//! with the interface descriptions of RFC 9594 section 4.1 (`ace.groups`
//! for `/ace-group`, `ace.group` for each group-membership resource, which
//! also carries the Group OSCORE profile's resource type `core.osc.gm`)
//! and `rt="ace.ai"` for `/authz-info` (RFC 9200 section 8.2). Query
//! filters (`?if=`, `?rt=`, `?href=`) select links as RFC 6690 section 4.1
//! describes, including a trailing `*` wildcard.

use super::{RT_AUTHZ_INFO, RT_GROUP_MEMBERSHIP};
use crate::core::{Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;

struct Link {
    href: String,
    attrs: Vec<(&'static str, String)>,
}

impl Link {
    fn render(&self) -> String {
        let mut s = format!("<{}>", self.href);
        for (k, v) in &self.attrs {
            s.push_str(&format!(";{k}=\"{v}\""));
        }
        s
    }

    fn matches(&self, key: &str, pattern: &str) -> bool {
        let values: Vec<&str> = if key == "href" {
            vec![self.href.as_str()]
        } else {
            self.attrs
                .iter()
                .filter(|(k, _)| *k == key)
                .flat_map(|(_, v)| v.split(' '))
                .collect()
        };
        values.iter().any(|v| match pattern.strip_suffix('*') {
            Some(prefix) => v.starts_with(prefix),
            None => *v == pattern,
        })
    }
}

/// Handles GET `/.well-known/core`.
pub fn get(kdc: &Kdc, req: &KdcRequest) -> Result<Outcome, Refusal> {
    let mut links = vec![
        Link {
            href: "/authz-info".into(),
            attrs: vec![("rt", RT_AUTHZ_INFO.into())],
        },
        Link {
            href: "/ace-group".into(),
            attrs: vec![("if", "ace.groups".into())],
        },
    ];
    for name in kdc.group_names() {
        links.push(Link {
            href: format!("/ace-group/{name}"),
            attrs: vec![
                ("rt", RT_GROUP_MEMBERSHIP.into()),
                ("if", "ace.group".into()),
            ],
        });
    }
    let filters: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter_map(|q| q.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    let selected: Vec<String> = links
        .iter()
        .filter(|l| filters.iter().all(|(k, v)| l.matches(k, v)))
        .map(Link::render)
        .collect();
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::LINK_FORMAT,
        selected.join(",").into_bytes(),
    )))
}
