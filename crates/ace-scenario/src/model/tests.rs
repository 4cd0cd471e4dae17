//! Tests of the scenario format: the demo parses; every kind of refusal
//! names the line and the reason.

use super::*;

const BASE: &str = r#"
name = "t"
[[group]]
name = "g1"

[[client]]
name = "alice"

[[client]]
name = "bob"
signature = "ES256"
"#;

fn with_steps(steps: &str) -> String {
    format!("{BASE}\n{steps}")
}

fn err(text: &str) -> ScenarioError {
    parse(text, "t").expect_err("should be refused")
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

#[test]
fn the_demo_parses() {
    let s = crate::demo::scenario().unwrap();
    assert_eq!(s.name, "demo");
    assert_eq!(s.clients.len(), 3);
    assert!(
        s.steps
            .iter()
            .any(|s| matches!(s.action, Action::Unreadable { .. }))
    );
    // Grants default to what the joins ask for.
    let req = s.client("requester").unwrap();
    assert_eq!(
        req.grants,
        vec![("g1".to_string(), ace_proto::roles::group_oscore::REQUESTER)]
    );
}

#[test]
fn steps_resolve_names_roles_and_expectations() {
    let text = with_steps(
        r#"
[[step]]
action = "join"
client = "alice"
groups = ["g1"]
roles = ["requester", "responder"]

[[step]]
action = "request"
client = "bob"
method = "get"
path = "/ace-group/g1/verif-data"
expect = { code = "4.03", error_id = 8 }
timeout = "2s"
"#,
    );
    let s = parse(&text, "t").unwrap();
    assert_eq!(s.steps.len(), 2);
    let Action::Join { roles, clients, .. } = &s.steps[0].action else {
        panic!()
    };
    assert_eq!(*roles, 6);
    assert_eq!(clients, &["alice".to_string()]);
    assert_eq!(s.steps[0].line, line_of(&text, "[[step]]"));
    assert_eq!(
        s.steps[1].expect,
        Expectation::Refused {
            code: Some(ace_proto::Code::FORBIDDEN),
            error_id: Some(ErrorId::OnlySignatureVerifiers)
        }
    );
    assert_eq!(s.steps[1].timeout, Duration::from_secs(2));
    assert_eq!(
        s.client("bob").unwrap().signature,
        SignatureAlgorithm::Es256
    );
}

#[test]
fn counted_clients_expand_and_patterns_select_them() {
    let text = r#"
[[group]]
name = "g1"
[[client]]
name = "m"
count = 3
[[step]]
action = "join"
clients = "m-*"
group = "g1"
roles = ["monitor"]
[[step]]
action = "leave"
clients = "m"
group = "g1"
"#;
    let s = parse(text, "t").unwrap();
    let names: Vec<&str> = s.clients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["m-1", "m-2", "m-3"]);
    assert!(s.clients.iter().all(|c| c.set.as_deref() == Some("m")));
    for step in &s.steps {
        match &step.action {
            Action::Join { clients, .. } | Action::Leave { clients, .. } => {
                assert_eq!(clients.len(), 3)
            }
            _ => panic!(),
        }
    }
}

#[test]
fn refusals_name_the_line_and_the_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[step]]\naction = \"join\"\nclient = \"carol\"\ngroup = \"g1\"\nroles = [\"requester\"]\n",
            "[[step]]",
            "unknown client \"carol\"",
        ),
        (
            "[[step]]\naction = \"join\"\nclient = \"alice\"\ngroup = \"g9\"\nroles = [\"requester\"]\n",
            "[[step]]",
            "unknown group \"g9\"",
        ),
        (
            "[[step]]\naction = \"join\"\nclient = \"alice\"\ngroup = \"g1\"\nroles = [\"boss\"]\n",
            "[[step]]",
            "unknown role \"boss\"",
        ),
        (
            "[[step]]\naction = \"jump\"\n",
            "[[step]]",
            "unknown action \"jump\"",
        ),
        (
            "[[step]]\naction = \"keys\"\nclient = \"alice\"\ngroup = \"g1\"\nnmu = 3\n",
            "[[step]]",
            "unknown field `nmu`",
        ),
        (
            "[[step]]\naction = \"rekey\"\ngroup = \"g1\"\nexpect = { code = \"2.04\" }\n",
            "[[step]]",
            "2.04 is a success code",
        ),
        (
            "[[step]]\naction = \"rekey\"\ngroup = \"g1\"\nexpect = { error_id = 12 }\n",
            "[[step]]",
            "error_id 12 is not registered",
        ),
        (
            "[[step]]\naction = \"wait\"\nduration = \"3 fortnights\"\n",
            "[[step]]",
            "unknown unit",
        ),
    ];
    for (steps, anchor, reason) in cases {
        let text = with_steps(steps);
        let e = err(&text);
        assert!(e.reason.contains(reason), "{reason:?} not in {e}");
        assert_eq!(e.line(), Some(line_of(&text, anchor)), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("line {}", line_of(&text, anchor))),
            "{e}"
        );
    }
}

#[test]
fn the_toml_shape_and_the_kdc_group_rules_are_checked() {
    // A TOML syntax error: toml's span gives the line.
    let e = err("name = \"x\"\n[[group]\nname = \"g\"\n");
    assert_eq!(e.line(), Some(2), "{e}");
    // An unknown top-level key.
    let e = err("nme = \"x\"\n");
    assert!(e.reason.contains("unknown field"), "{e}");
    // The KDC's own validation of a group, at the group's line.
    let text = "[[client]]\nname = \"a\"\n\n[[group]]\nname = \"g1\"\nmode = \"telepathy\"\n[[step]]\naction = \"rekey\"\ngroup = \"g1\"\n";
    let e = err(text);
    assert_eq!(e.line(), Some(line_of(text, "[[group]]")), "{e}");
    assert!(e.reason.contains("telepathy"), "{e}");
    // A client defined twice.
    let text =
        with_steps("[[client]]\nname = \"alice\"\n[[step]]\naction = \"rekey\"\ngroup = \"g1\"\n");
    assert!(err(&text).reason.contains("defined twice"));
    // No steps.
    assert!(err(BASE).reason.contains("no [[step]]"));
    // An external member whose sponsor is not a client.
    let text = with_steps(
        "[[external]]\nname = \"aio\"\nkind = \"aiocoap-member\"\ncommand = [\"x\"]\nsponsor = \"nobody\"\n[[step]]\naction = \"rekey\"\ngroup = \"g1\"\n",
    );
    let e = err(&text);
    assert!(e.reason.contains("sponsor \"nobody\""), "{e}");
    assert_eq!(e.line(), Some(line_of(&text, "[[external]]")), "{e}");
}

#[test]
fn loss_and_files() {
    let e = err(&with_steps(
        "[network]\nloss = 1.5\n[[step]]\naction = \"rekey\"\ngroup = \"g1\"\n",
    ));
    assert!(e.reason.contains("network.loss"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, with_steps("[[step]]\naction = \"jump\"\n")).unwrap();
    let e = parse_file(&path).unwrap_err();
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    let ok = dir.path().join("fine.toml");
    std::fs::write(
        &ok,
        with_steps("[[step]]\naction = \"rekey\"\ngroup = \"g1\"\n"),
    )
    .unwrap();
    // The name defaults to the file stem when the file has none.
    let text = std::fs::read_to_string(&ok)
        .unwrap()
        .replace("name = \"t\"\n", "");
    std::fs::write(&ok, text).unwrap();
    assert_eq!(parse_file(&ok).unwrap().name, "fine");
}
