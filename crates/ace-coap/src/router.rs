//! A router by path and method (RFC 7252 section 5.8), with path templates,
//! Content-Format and Accept checks (section 5.10.3, 5.10.4), Observe
//! acceptance (RFC 7641) and `/.well-known/core` discovery (RFC 6690).
//!
//! Templates are `/`-separated segments: a literal, `{name}` (one segment,
//! captured into [`Request::params`]) or a final `{*name}` (the rest of the
//! path, possibly empty). When several routes match, the one with the most
//! literal segments wins; among equals, the first added.

use crate::handler::{BoxFuture, Handler, SharedHandler};
use crate::link_format::{self, Link};
use crate::request::{Method, Origin, Request};
use crate::response::{Code, Response};
use ace_proto::consts::content_format;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    pattern
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(name) = s.strip_prefix("{*").and_then(|r| r.strip_suffix('}')) {
                Segment::Rest(name.to_owned())
            } else if let Some(name) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                Segment::Param(name.to_owned())
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

/// A resource: a path template, a handler per method, and what discovery
/// and content negotiation need to know about it.
pub struct Resource {
    pattern: String,
    segments: Vec<Segment>,
    methods: Vec<(Method, SharedHandler)>,
    observable: bool,
    accepts: Option<Vec<u16>>,
    produces: Option<Vec<u16>>,
    link: Option<Link>,
    hidden: bool,
}

impl Resource {
    /// A resource at `pattern` (e.g. `/ace-group/{name}/nodes/{node}`).
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            segments: parse_pattern(pattern),
            methods: Vec::new(),
            observable: false,
            accepts: None,
            produces: None,
            link: None,
            hidden: false,
        }
    }

    /// Handles `method` with `handler`.
    #[must_use]
    pub fn method(mut self, method: Method, handler: impl Handler) -> Self {
        self.methods.retain(|(m, _)| *m != method);
        self.methods.push((method, Arc::new(handler)));
        self
    }

    /// Handles GET.
    #[must_use]
    pub fn get(self, handler: impl Handler) -> Self {
        self.method(Method::Get, handler)
    }

    /// Handles POST.
    #[must_use]
    pub fn post(self, handler: impl Handler) -> Self {
        self.method(Method::Post, handler)
    }

    /// Handles PUT.
    #[must_use]
    pub fn put(self, handler: impl Handler) -> Self {
        self.method(Method::Put, handler)
    }

    /// Handles DELETE.
    #[must_use]
    pub fn delete(self, handler: impl Handler) -> Self {
        self.method(Method::Delete, handler)
    }

    /// Handles FETCH (RFC 8132).
    #[must_use]
    pub fn fetch(self, handler: impl Handler) -> Self {
        self.method(Method::Fetch, handler)
    }

    /// Handles PATCH (RFC 8132).
    #[must_use]
    pub fn patch(self, handler: impl Handler) -> Self {
        self.method(Method::Patch, handler)
    }

    /// Handles iPATCH (RFC 8132).
    #[must_use]
    pub fn ipatch(self, handler: impl Handler) -> Self {
        self.method(Method::IPatch, handler)
    }

    /// Accepts Observe registrations on GET and FETCH (RFC 7641): a 2.xx
    /// response to a request with Observe 0 registers the client, and
    /// discovery shows `obs`.
    #[must_use]
    pub fn observable(mut self) -> Self {
        self.observable = true;
        self
    }

    /// Restricts request payloads to these Content-Formats: anything else,
    /// or a payload without Content-Format, gets 4.15 (RFC 7252 section
    /// 5.10.3).
    #[must_use]
    pub fn accepts(mut self, formats: &[u16]) -> Self {
        self.accepts = Some(formats.to_vec());
        self
    }

    /// Declares the Content-Formats of responses: an Accept option asking
    /// for another one gets 4.06 (RFC 7252 section 5.10.4). The first is
    /// advertised as `ct` in discovery.
    #[must_use]
    pub fn produces(mut self, formats: &[u16]) -> Self {
        self.produces = Some(formats.to_vec());
        self
    }

    /// Sets the link advertised in `/.well-known/core`; its `href` is the
    /// resource path. Without it, a literal path is listed with `ct` and
    /// `obs` derived from the resource.
    #[must_use]
    pub fn link(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }

    /// Adds `rt` to the advertised link (RFC 6690 section 3.1).
    #[must_use]
    pub fn rt(mut self, value: &str) -> Self {
        self.link = Some(
            self.link
                .take()
                .unwrap_or_else(|| Link::new(self.pattern.clone()))
                .rt(value),
        );
        self
    }

    /// Adds `if` to the advertised link (RFC 6690 section 3.2).
    #[must_use]
    pub fn interface(mut self, value: &str) -> Self {
        self.link = Some(
            self.link
                .take()
                .unwrap_or_else(|| Link::new(self.pattern.clone()))
                .interface(value),
        );
        self
    }

    /// Keeps the resource out of `/.well-known/core`.
    #[must_use]
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    fn is_template(&self) -> bool {
        self.segments
            .iter()
            .any(|s| !matches!(s, Segment::Literal(_)))
    }

    /// Matches `path`, returning the captured parameters.
    fn capture(&self, path: &[String]) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => {
                    if path.get(i) != Some(l) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Param(name) => {
                    params.push((name.clone(), path.get(i)?.clone()));
                    i += 1;
                }
                Segment::Rest(name) => {
                    params.push((name.clone(), path[i.min(path.len())..].join("/")));
                    return Some(params);
                }
            }
        }
        (i == path.len()).then_some(params)
    }

    /// The link this resource advertises, if any.
    fn advertised(&self) -> Option<Link> {
        if self.hidden || self.is_template() {
            return None;
        }
        let mut link = self
            .link
            .clone()
            .unwrap_or_else(|| Link::new(self.pattern.clone()));
        link.href = format!("/{}", self.pattern.trim_start_matches('/'));
        if link.values("ct").next().is_none()
            && let Some(ct) = self.produces.as_ref().and_then(|p| p.first())
        {
            link = link.ct(*ct);
        }
        if self.observable && link.values("obs").next().is_none() {
            link = link.obs();
        }
        Some(link)
    }
}

/// A source of links for resources created at run time (e.g. the KDC's
/// groups), listed in `/.well-known/core` after the static ones.
pub type LinkSource = Arc<dyn Fn() -> Vec<Link> + Send + Sync>;

/// Routes requests to resources. See the module documentation.
pub struct Router {
    resources: Vec<Resource>,
    link_sources: Vec<LinkSource>,
    discovery: bool,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// An empty router that serves `/.well-known/core`.
    pub fn new() -> Self {
        Self {
            resources: Vec::new(),
            link_sources: Vec::new(),
            discovery: true,
        }
    }

    /// Adds a resource. A resource with the same pattern is merged: the new
    /// methods are added to it.
    #[must_use]
    pub fn resource(mut self, resource: Resource) -> Self {
        if let Some(existing) = self
            .resources
            .iter_mut()
            .find(|r| r.segments == resource.segments)
        {
            for (m, h) in resource.methods {
                existing.methods.retain(|(em, _)| *em != m);
                existing.methods.push((m, h));
            }
            existing.observable |= resource.observable;
            if resource.accepts.is_some() {
                existing.accepts = resource.accepts;
            }
            if resource.produces.is_some() {
                existing.produces = resource.produces;
            }
            if resource.link.is_some() {
                existing.link = resource.link;
            }
            existing.hidden |= resource.hidden;
        } else {
            self.resources.push(resource);
        }
        self
    }

    /// Routes `method` on `pattern` to `handler`.
    #[must_use]
    pub fn route(self, pattern: &str, method: Method, handler: impl Handler) -> Self {
        self.resource(Resource::new(pattern).method(method, handler))
    }

    /// Routes GET on `pattern`.
    #[must_use]
    pub fn get(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(pattern, Method::Get, handler)
    }

    /// Routes POST on `pattern`.
    #[must_use]
    pub fn post(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(pattern, Method::Post, handler)
    }

    /// Routes PUT on `pattern`.
    #[must_use]
    pub fn put(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(pattern, Method::Put, handler)
    }

    /// Routes DELETE on `pattern`.
    #[must_use]
    pub fn delete(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(pattern, Method::Delete, handler)
    }

    /// Routes FETCH on `pattern`.
    #[must_use]
    pub fn fetch(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(pattern, Method::Fetch, handler)
    }

    /// Adds a source of run-time links for discovery.
    #[must_use]
    pub fn link_source(mut self, source: LinkSource) -> Self {
        self.link_sources.push(source);
        self
    }

    /// Stops serving `/.well-known/core`.
    #[must_use]
    pub fn without_discovery(mut self) -> Self {
        self.discovery = false;
        self
    }

    /// Finishes the router as a shared handler.
    pub fn into_handler(self) -> SharedHandler {
        Arc::new(self)
    }

    /// Every advertised link (static resources, then link sources).
    pub fn links(&self) -> Vec<Link> {
        let mut links: Vec<Link> = self
            .resources
            .iter()
            .filter_map(Resource::advertised)
            .collect();
        for source in &self.link_sources {
            links.extend(source());
        }
        links
    }

    fn find(&self, path: &[String]) -> Option<(&Resource, Vec<(String, String)>)> {
        let mut best: Option<(&Resource, Vec<(String, String)>)> = None;
        for r in &self.resources {
            if let Some(params) = r.capture(path)
                && best
                    .as_ref()
                    .is_none_or(|(b, _)| r.literal_count() > b.literal_count())
            {
                best = Some((r, params));
            }
        }
        best
    }

    /// The `/.well-known/core` response (RFC 6690 section 4), filtered by
    /// the query (section 4.1). A multicast discovery with no matching link
    /// gets 4.04, which the endpoint does not send (RFC 7252 section 8.2).
    fn discovery(&self, request: &Request) -> Response {
        if request.method != Method::Get {
            return Response::new(Code::METHOD_NOT_ALLOWED);
        }
        if request
            .accept()
            .is_some_and(|a| a != content_format::LINK_FORMAT)
        {
            return Response::new(Code::NOT_ACCEPTABLE);
        }
        let links: Vec<Link> = self
            .links()
            .into_iter()
            .filter(|l| request.query.iter().all(|q| l.matches_filter(q)))
            .collect();
        if links.is_empty() && request.meta.multicast {
            return Response::not_found();
        }
        Response::content(link_format::render(&links))
            .with_content_format(content_format::LINK_FORMAT)
    }

    fn dispatch(&self, mut request: Request) -> BoxFuture<Response> {
        if let Origin::Notification {
            response: Some(explicit),
        } = &request.meta.origin
        {
            let r = (**explicit).clone();
            return Box::pin(async move { r });
        }
        if self.discovery
            && request.path.len() == 2
            && request.path[0] == ".well-known"
            && request.path[1] == "core"
        {
            let r = self.discovery(&request);
            return Box::pin(async move { r });
        }
        let Some((resource, params)) = self.find(&request.path) else {
            return Box::pin(async { Response::not_found() });
        };
        let Some((_, handler)) = resource.methods.iter().find(|(m, _)| *m == request.method) else {
            return Box::pin(async { Response::new(Code::METHOD_NOT_ALLOWED) });
        };
        if let Some(accepted) = &resource.accepts {
            let ok = match request.content_format() {
                Some(cf) => accepted.contains(&cf),
                None => request.payload.is_empty(),
            };
            if !ok {
                return Box::pin(async { Response::new(Code::UNSUPPORTED_CONTENT_FORMAT) });
            }
        }
        if let (Some(produced), Some(accept)) = (&resource.produces, request.accept())
            && !produced.contains(&accept)
        {
            return Box::pin(async { Response::new(Code::NOT_ACCEPTABLE) });
        }
        for (k, v) in params {
            request.params.insert(k, v);
        }
        let observe =
            resource.observable && request.method.is_safe() && request.observe() == Some(0);
        let path = observe.then(|| request.path_string());
        let future = handler.call(request);
        Box::pin(async move {
            let mut response = future.await;
            if let Some(path) = path
                && response.is_success()
                && response.observed_resource.is_none()
            {
                response.observed_resource = Some(path);
            }
            response
        })
    }
}

impl Handler for Router {
    fn call(&self, request: Request) -> BoxFuture<Response> {
        self.dispatch(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestMeta;
    use std::sync::Arc;

    fn block_on<T>(f: BoxFuture<T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn text(s: &'static str) -> impl Handler {
        move |_req: Request| async move { Response::content(s) }
    }

    fn router() -> Router {
        Router::new()
            .get("/time", text("now"))
            .resource(
                Resource::new("/ace-group/{name}")
                    .get(|req: Request| async move {
                        Response::content(format!("group {}", req.param("name").unwrap_or("")))
                    })
                    .post(text("joined"))
                    .observable()
                    .accepts(&[content_format::ACE_GROUPCOMM_CBOR])
                    .produces(&[content_format::ACE_GROUPCOMM_CBOR]),
            )
            .get(
                "/ace-group/{name}/nodes/{node}",
                |req: Request| async move {
                    Response::content(format!(
                        "{}/{}",
                        req.param("name").unwrap_or(""),
                        req.param("node").unwrap_or("")
                    ))
                },
            )
            .get("/ace-group/special", text("literal wins"))
            .get("/files/{*rest}", |req: Request| async move {
                Response::content(req.param("rest").unwrap_or("").to_owned())
            })
            .resource(
                Resource::new("/ace-group")
                    .fetch(text("fetched"))
                    .rt("core.osc.gm")
                    .interface("ace.group")
                    .produces(&[261]),
            )
    }

    #[test]
    fn routes_by_path_template_and_method() {
        let r = router();
        let call = |req: Request| block_on(r.call(req));
        assert_eq!(call(Request::get("/time")).payload, b"now");
        assert_eq!(call(Request::get("/ace-group/g1")).payload, b"group g1");
        assert_eq!(
            call(Request::get("/ace-group/g1/nodes/n7")).payload,
            b"g1/n7"
        );
        assert_eq!(
            call(Request::get("/ace-group/special")).payload,
            b"literal wins"
        );
        assert_eq!(call(Request::get("/files/a/b/c")).payload, b"a/b/c");
        assert_eq!(call(Request::get("/nothing")).code, Code::NOT_FOUND);
        assert_eq!(
            call(Request::delete("/time")).code,
            Code::METHOD_NOT_ALLOWED
        );
        assert_eq!(call(Request::fetch("/ace-group")).payload, b"fetched");
    }

    #[test]
    fn content_format_and_accept_are_checked() {
        let r = router();
        let call = |req: Request| block_on(r.call(req));
        let wrong = Request::post("/ace-group/g1")
            .with_payload(vec![0xa0])
            .with_content_format(60);
        assert_eq!(call(wrong).code, Code::UNSUPPORTED_CONTENT_FORMAT);
        let missing = Request::post("/ace-group/g1").with_payload(vec![0xa0]);
        assert_eq!(call(missing).code, Code::UNSUPPORTED_CONTENT_FORMAT);
        let right = Request::post("/ace-group/g1")
            .with_payload(vec![0xa0])
            .with_content_format(261);
        assert_eq!(call(right).payload, b"joined");
        assert_eq!(
            call(Request::get("/ace-group/g1").with_accept(50)).code,
            Code::NOT_ACCEPTABLE
        );
        assert_eq!(
            call(Request::get("/ace-group/g1").with_accept(261)).code,
            Code::CONTENT
        );
    }

    #[test]
    fn observable_routes_mark_registrations() {
        let r = router();
        let reg = Request::get("/ace-group/g1").with_option(crate::option::number::OBSERVE, vec![]);
        assert_eq!(
            block_on(r.call(reg)).observed_resource.as_deref(),
            Some("/ace-group/g1")
        );
        let plain = Request::get("/ace-group/g1");
        assert_eq!(block_on(r.call(plain)).observed_resource, None);
        let not_observable =
            Request::get("/time").with_option(crate::option::number::OBSERVE, vec![]);
        assert_eq!(block_on(r.call(not_observable)).observed_resource, None);
    }

    #[test]
    fn explicit_notification_bypasses_the_handler() {
        let r = router();
        let mut req = Request::get("/ace-group/g1");
        req.meta = RequestMeta {
            origin: Origin::Notification {
                response: Some(Arc::new(Response::not_found())),
            },
            ..RequestMeta::default()
        };
        assert_eq!(block_on(r.call(req)).code, Code::NOT_FOUND);
    }

    #[test]
    fn well_known_core_lists_and_filters() {
        let r = router().link_source(Arc::new(|| {
            vec![
                Link::new("/ace-group/g1")
                    .rt("core.osc.gm")
                    .interface("ace.group")
                    .ct(261)
                    .obs(),
            ]
        }));
        let all = block_on(r.call(Request::get("/.well-known/core")));
        assert_eq!(all.content_format(), Some(40));
        let text = String::from_utf8(all.payload).unwrap();
        assert!(text.contains("</time>"), "{text}");
        assert!(
            text.contains(r#"</ace-group>;rt="core.osc.gm";if="ace.group";ct=261"#),
            "{text}"
        );
        assert!(!text.contains("{name}"), "templates are not listed: {text}");
        let filtered = block_on(r.call(Request::get("/.well-known/core?if=ace.group")));
        let text = String::from_utf8(filtered.payload).unwrap();
        assert_eq!(
            text,
            r#"</ace-group>;rt="core.osc.gm";if="ace.group";ct=261,</ace-group/g1>;rt="core.osc.gm";if="ace.group";ct=261;obs"#
        );
        let none = block_on(r.call(Request::get("/.well-known/core?rt=none")));
        assert_eq!((none.code, none.payload.len()), (Code::CONTENT, 0));
        let mut multicast = Request::get("/.well-known/core?rt=none");
        multicast.meta.multicast = true;
        assert_eq!(block_on(r.call(multicast)).code, Code::NOT_FOUND);
    }
}
